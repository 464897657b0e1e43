//go:build linux

package efs_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// acl builds a POSIX ACL xattr (version 2) granting uid read access by name.
func acl(uid uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 2)
	entry := func(tag, perm uint16, id uint32) {
		b = binary.LittleEndian.AppendUint16(b, tag)
		b = binary.LittleEndian.AppendUint16(b, perm)
		b = binary.LittleEndian.AppendUint32(b, id)
	}
	entry(0x01, 6, ^uint32(0)) // user::rw-
	entry(0x02, 4, uid)        // user:<uid>:r--
	entry(0x04, 4, ^uint32(0)) // group::r--
	entry(0x10, 4, ^uint32(0)) // mask::r--
	entry(0x20, 0, ^uint32(0)) // other::---
	return b
}

func getxattr(t *testing.T, p, n string) ([]byte, error) {
	t.Helper()
	buf := make([]byte, 4096)
	sz, err := unix.Lgetxattr(p, n, buf)
	if err != nil {
		return nil, err
	}
	return buf[:sz], nil
}

// TestCopyKeepsXattrsAndACLs: user.* attributes and POSIX ACLs (access and
// default) used to be dropped without a word, and Verify said 0 differences. They
// are kept (a named entry for the old UID given to the new one), trusted.* is left
// out and said once, Verify compares them, and a destination without them is a
// limitation.
func TestCopyKeepsXattrsAndACLs(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	srcDir, dstDir := filepath.Join(base, "src"), filepath.Join(base, "dst")
	must(t, os.MkdirAll(filepath.Join(srcDir, "shared"), 0o750))
	must(t, os.MkdirAll(dstDir, 0o700))
	must(t, os.Chown(srcDir, oldUID, srcGID))
	f := filepath.Join(srcDir, "notes.txt")
	must(t, os.WriteFile(f, []byte("notes"), 0o640))
	must(t, unix.Lsetxattr(f, "user.origin", []byte("https://example.com/x"), 0))
	must(t, unix.Lsetxattr(f, "system.posix_acl_access", acl(oldUID), 0))
	must(t, unix.Lsetxattr(f, "trusted.service", []byte("x"), 0))
	d := filepath.Join(srcDir, "shared")
	must(t, unix.Lsetxattr(d, "system.posix_acl_default", acl(300001), 0))
	must(t, unix.Lsetxattr(d, "user.project", []byte("p1"), 0))
	// A file made in the shared folder inherits its default ACL, as in a real home.
	must(t, os.WriteFile(filepath.Join(d, "inherited"), []byte("i"), 0o640))

	ctx := context.Background()
	src, dst := newLocalFS(t, srcDir), newLocalFS(t, dstDir)
	rep, err := efs.Copy(ctx, src, dst, efs.CopyOptions{UID: newUID, Workers: 2})
	must(t, err)
	df := filepath.Join(dstDir, "notes.txt")
	if v, err := getxattr(t, df, "user.origin"); err != nil || string(v) != "https://example.com/x" {
		t.Errorf("user.origin: %q, %v", v, err)
	}
	if v, err := getxattr(t, df, "system.posix_acl_access"); err != nil || string(v) != string(acl(newUID)) {
		t.Errorf("access ACL: %x, %v (want the old UID's entry given to the new UID)", v, err)
	}
	if _, err := getxattr(t, df, "trusted.service"); !errors.Is(err, unix.ENODATA) {
		t.Errorf("trusted.* copied: %v", err)
	}
	if fi, _ := lstatSys(t, df); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode())
	}
	dd := filepath.Join(dstDir, "shared")
	if v, err := getxattr(t, dd, "system.posix_acl_default"); err != nil || string(v) != string(acl(300001)) {
		t.Errorf("default ACL: %x, %v", v, err)
	}
	if v, err := getxattr(t, dd, "user.project"); err != nil || string(v) != "p1" {
		t.Errorf("user.project: %q, %v", v, err)
	}
	if !strings.Contains(strings.Join(rep.Limitations, "\n"), "trusted.*") {
		t.Errorf("trusted.* left out without a word: %q", rep.Limitations)
	}
	if vrep, err := efs.Verify(ctx, src, dst, efs.VerifyOptions{UID: newUID}); err != nil {
		t.Fatalf("verify after copy: %v %+v", err, vrep.List)
	}

	// Verify sees a lost attribute and a changed ACL.
	must(t, unix.Lremovexattr(df, "user.origin"))
	must(t, unix.Lsetxattr(dd, "system.posix_acl_default", acl(300002), 0))
	vrep, err := efs.Verify(ctx, src, dst, efs.VerifyOptions{UID: newUID})
	if !errors.Is(err, efs.ErrDifferences) || vrep.Differences != 2 {
		t.Fatalf("verify: %v, %+v", err, vrep)
	}
	for _, d := range vrep.List {
		if d.What != "xattr" || (d.Path != "notes.txt" && d.Path != "shared") {
			t.Errorf("difference %+v", d)
		}
	}

	// A destination that cannot keep them: said once.
	dst2 := filepath.Join(base, "dst2")
	must(t, os.MkdirAll(dst2, 0o700))
	rep, err = efs.Copy(ctx, src, noXattrFS{newLocalFS(t, dst2)}, efs.CopyOptions{UID: newUID, Workers: 2})
	must(t, err)
	n := 0
	for _, l := range rep.Limitations {
		if strings.Contains(l, "extended attributes and POSIX ACLs not kept") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("limitation said %d times: %q", n, rep.Limitations)
	}
}

// noXattrFS is a destination without extended attributes (the FS interface only).
type noXattrFS struct{ efs.FS }
