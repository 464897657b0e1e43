package efs

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"path"
	"strings"
)

// Files that cannot be written at their final name (over SFTP, or over an existing
// destination file; see InPlaceCreator) are written under a temporary name in their
// final directory and renamed into place once complete (data and attributes), so an
// interrupted copy never leaves a file that looks finished. The name is
// recognisable, so a rerun removes leftovers:
//
//	.studio-migrator.<name>.<16 hex>.tmp
//
// <name> is replaced by a hash of it when the result would exceed NAME_MAX (255).
const (
	tempPrefix = ".studio-migrator."
	tempSuffix = ".tmp"
	tempRand   = 16 // hex digits
	nameMax    = 255
)

// tempName returns a fresh temporary name beside name (a slash-separated path).
func tempName(name string) string {
	dir, base := path.Split(name)
	var b [tempRand / 2]byte
	rand.Read(b[:])
	r := hex.EncodeToString(b[:])
	if len(tempPrefix)+len(base)+1+tempRand+len(tempSuffix) > nameMax {
		h := sha256.Sum256([]byte(base))
		base = hex.EncodeToString(h[:16])
	}
	return dir + tempPrefix + base + "." + r + tempSuffix
}

// isTempName reports whether a base name has the shape tempName makes.
func isTempName(base string) bool {
	if !strings.HasPrefix(base, tempPrefix) || !strings.HasSuffix(base, tempSuffix) {
		return false
	}
	rest := strings.TrimSuffix(base[len(tempPrefix):], tempSuffix)
	if len(rest) < tempRand+2 || rest[len(rest)-tempRand-1] != '.' {
		return false
	}
	for _, c := range rest[len(rest)-tempRand:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
