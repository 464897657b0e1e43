package efs

import (
	"errors"
	"fmt"
	"strings"
)

// validFSName reports whether name is a valid FS name: "." (the root) or
// slash-separated non-empty components, none of them "." or "..", with no leading or
// trailing slash and no NUL byte. Unlike fs.ValidPath it accepts any other bytes,
// invalid UTF-8 included: Linux file names are bytes, and a home directory may hold
// names in a legacy encoding that must be copied, not refused.
func validFSName(name string) bool {
	if name == "." {
		return true
	}
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return false
	}
	for {
		i := strings.IndexByte(name, '/')
		elem := name
		if i >= 0 {
			elem = name[:i]
		}
		if elem == "" || elem == "." || elem == ".." {
			return false
		}
		if i < 0 {
			return true
		}
		name = name[i+1:]
	}
}

// ErrBadOwner is returned (wrapped) by Copy, Verify and PrepareDest for an owner they
// refuse to give a home to, before anything is touched.
var ErrBadOwner = errors.New("invalid owner")

// noID is (uid_t)-1 / (gid_t)-1, which chown(2) reads as "leave unchanged": given
// as the new owner, every entry would silently stay root's.
const noID = ^uint32(0)

// checkOwner refuses UID 0 (root), and 4294967295 as UID or GID (chown's "leave
// unchanged", which would leave every entry owned by root while the copy reports
// success: a way around the refusal of UID 0).
func checkOwner(uid uint32, gid *uint32) error {
	switch {
	case uid == 0:
		return fmt.Errorf("the new owner UID must be set and not 0 (root): %w", ErrBadOwner)
	case uid == noID:
		return fmt.Errorf("UID %d is chown's \"leave unchanged\" value, every entry would stay root's: %w", uid, ErrBadOwner)
	case gid != nil && *gid == noID:
		return fmt.Errorf("GID %d is chown's \"leave unchanged\" value, every entry would keep root's group: %w", *gid, ErrBadOwner)
	}
	return nil
}

// maxShownName is the longest name errors and logs show whole; a longer one (a path
// nested beyond PATH_MAX, 6 KB and more) is cut in the middle by shortName.
const maxShownName = 512

// shortName returns name, or its first and last 240 bytes around a note of how
// many bytes were left out when it is longer than maxShownName, so that an error
// about a huge path stays readable and says where the path starts and ends. The cut
// may split a multibyte character; names are bytes anyway (%q shows them escaped).
func shortName(name string) string {
	if len(name) <= maxShownName {
		return name
	}
	const keep = 240
	return fmt.Sprintf("%s...[%d bytes]...%s", name[:keep], len(name)-2*keep, name[len(name)-keep:])
}
