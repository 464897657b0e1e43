package efs

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
)

// XattrFS is implemented by an FS that reads and writes extended attributes, POSIX
// ACLs included (system.posix_acl_access and system.posix_acl_default, in the
// kernel's binary form). Only regular files and directories carry them here: a
// symlink (which Linux allows only trusted.* and security.* on) answers nil.
type XattrFS interface {
	// Xattrs returns name's extended attributes (nil when it has none), never
	// following a symlink. Values may be nil for attributes a copy never keeps
	// (see keptXattr): their names are enough to report them.
	Xattrs(ctx context.Context, name string) (map[string][]byte, error)
	// SetXattrs makes the attributes of name in the namespaces the copier keeps
	// (see keptXattr) exactly x: missing ones are set, others of those namespaces
	// removed; attributes of other namespaces (an SELinux label) are left alone.
	// Like Setattr, it refuses a non-directory with other hardlinks.
	SetXattrs(ctx context.Context, name string, x map[string][]byte) error
}

// XattrReader is implemented by readers from Open that can list the open file's
// extended attributes themselves (one flistxattr, no lookup by name).
type XattrReader interface {
	Xattrs() (map[string][]byte, error)
}

// XattrWriter is implemented by writers from Create that can set extended
// attributes on the file being written; they are applied at Close, after the
// owner (chown clears file capabilities) and before the mode and mtime.
type XattrWriter interface {
	SetXattrs(x map[string][]byte)
	// XattrsKept reports, after Close, whether the file system stored them: false
	// when it cannot (NFS before 4.2, EFS included), which is not an error of the
	// file, and the copier reports once as a limitation.
	XattrsKept() bool
}

// dirXattrLister is implemented by an FS (Local, MultiMount) that can list a
// directory and read that directory's own extended attributes on the one
// descriptor: the copier reads a new directory's attributes with its listing
// instead of opening every source directory a second time when it finishes it
// (a round trip each on EFS: an OpenDir on the emulated EFS, 693 on the bench's
// home tree). Only for directories the destination does not have yet, which are
// always finished with their attributes; a rerun, whose directories mostly
// match, reads them only for a directory that needs it, as before.
type dirXattrLister interface {
	readDirXattrs(ctx context.Context, name string) ([]Info, map[string][]byte, error)
}

// Which extended attributes a copy keeps, decided once here for Copy and Verify:
//   - user.*: the user's own data (Finder info, a dataset's checksum, ...): kept.
//   - system.posix_acl_access / system.posix_acl_default: kept, with entries that
//     name the old owner's UID given to the new UID (the old UID may belong to
//     someone else on the new file system).
//   - security.capability (file capabilities): a privilege, treated like setuid:
//     kept only with KeepSetID, otherwise stripped and said once.
//   - other security.* (SELinux, AppArmor, IMA labels): not copied: the
//     destination's own policy labels its files; said once.
//   - trusted.* (root-only data of system services, e.g. overlayfs) and any other
//     namespace: not copied; said once.
const (
	xattrACLAccess  = "system.posix_acl_access"
	xattrACLDefault = "system.posix_acl_default"
	xattrCapability = "security.capability"
)

// keptXattr reports whether the copier writes (and SetXattrs manages) attribute n.
func keptXattr(n string) bool {
	return strings.HasPrefix(n, "user.") || n == xattrACLAccess || n == xattrACLDefault || n == xattrCapability
}

// xattrPolicy filters a source entry's attributes to what the destination gets.
type xattrPolicy struct {
	keepSetID      bool
	oldUID, newUID uint32
}

// filter returns the attributes to write and, for each one left out, the reason
// (said once per copy as a limitation).
func (p xattrPolicy) filter(x map[string][]byte) (map[string][]byte, []string) {
	if len(x) == 0 {
		return nil, nil
	}
	out := make(map[string][]byte, len(x))
	var dropped []string
	for n, v := range x {
		switch {
		case n == xattrCapability && !p.keepSetID:
			dropped = append(dropped, "file capabilities (security.capability) stripped, like setuid bits (keep them with KeepSetID / --keep-setid)")
		case n == xattrACLAccess || n == xattrACLDefault:
			out[n] = remapACL(v, p.oldUID, p.newUID)
		case keptXattr(n):
			out[n] = v
		case strings.HasPrefix(n, "security."):
			dropped = append(dropped, "security.* labels (SELinux, AppArmor, IMA) not copied: the destination's policy labels its own files")
		case strings.HasPrefix(n, "trusted."):
			dropped = append(dropped, "trusted.* extended attributes (data of system services) not copied")
		default:
			dropped = append(dropped, "extended attributes outside user.* and POSIX ACLs (e.g. "+n+") not copied")
		}
	}
	if len(out) == 0 {
		out = nil
	}
	return out, dropped
}

// remapACL gives named-user entries of the old owner's UID to the new UID in a
// POSIX ACL xattr (version 2: a 4-byte header, then 8-byte entries: tag u16, perm
// u16, id u32, little endian). Anything it does not recognise is returned as is.
func remapACL(v []byte, oldUID, newUID uint32) []byte {
	const aclUser = 0x02
	if len(v) < 4 || (len(v)-4)%8 != 0 || binary.LittleEndian.Uint32(v) != 2 || oldUID == newUID {
		return v
	}
	out := append([]byte(nil), v...)
	for i := 4; i < len(out); i += 8 {
		if binary.LittleEndian.Uint16(out[i:]) == aclUser && binary.LittleEndian.Uint32(out[i+4:]) == oldUID {
			binary.LittleEndian.PutUint32(out[i+4:], newUID)
		}
	}
	return out
}

// sameXattrs compares two attribute sets.
func sameXattrs(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for n, v := range a {
		w, ok := b[n]
		if !ok || string(v) != string(w) {
			return false
		}
	}
	return true
}

// limitNoXattrs is the limitation said when the destination cannot keep them.
const limitNoXattrs = "extended attributes and POSIX ACLs not kept: the destination cannot store them"

// xattrsFor filters a source entry's attributes for the destination, saying once
// what is left out.
func (c *copier) xattrsFor(x map[string][]byte) map[string][]byte {
	out, dropped := c.xp.filter(x)
	for _, d := range dropped {
		c.limitation(d)
	}
	return out
}

// copyDirXattrs gives directory n the source's kept attributes (read with its
// listing where that was possible, see dirXattrLister); ok is false
// when it failed (recorded), wrote says that it set some (an ACL among them may
// have changed the directory's mode bits).
func (c *copier) copyDirXattrs(ctx context.Context, n *dirNode) (ok, wrote bool) {
	if c.sx == nil {
		return true, false
	}
	name := n.name
	x := n.srcX
	if !n.srcXRead {
		var err error
		if x, err = c.sx.Xattrs(ctx, name); err != nil {
			c.fail(ctx, name, "reading extended attributes", err)
			return false, false
		}
	}
	xs := c.xattrsFor(x)
	if xs == nil {
		return true, false
	}
	if c.dx == nil {
		c.limitation(limitNoXattrs)
		return true, false
	}
	err := c.retry(ctx, func() error { return c.dx.SetXattrs(ctx, name, xs) })
	if errors.Is(err, ErrNotSupported) {
		c.limitation(limitNoXattrs)
		return true, false
	}
	if err != nil {
		c.fail(ctx, name, "setting extended attributes", dstErr(err))
		return false, false
	}
	return true, true
}
