package location

import (
	"path/filepath"
	"strings"
)

// Overlap reports whether two local locations are the same directory or one is
// inside the other (a copy into itself would never end). Paths are compared as
// given and with symlinks resolved, and then by identity: device and inode of each
// side against every existing ancestor of the other, so a bind mount (or a second
// mount of the same file system) that shows the source under another path is
// caught too. The destination may not exist yet: its nearest existing ancestor and
// everything above it are compared. SFTP locations are never reported: their
// paths live on another host.
func Overlap(a, b Location) bool {
	if a.IsSFTP() || b.IsSFTP() {
		return false
	}
	if nested(a.Local, b.Local) || nested(resolvePath(a.Local), resolvePath(b.Local)) {
		return true
	}
	return within(a.Local, b.Local) || within(b.Local, a.Local)
}

func nested(a, b string) bool {
	in := func(x, y string) bool { return x == y || strings.HasPrefix(x, strings.TrimSuffix(y, "/")+"/") }
	return in(a, b) || in(b, a)
}

// within reports whether directory dir (which must exist) is x or one of x's
// ancestors, by device and inode. x's ancestors are walked on the path with
// symlinks resolved, as efs.NewLocal will open it.
func within(x, dir string) bool {
	d, ok := devIno(dir)
	if !ok {
		return false
	}
	for p := resolvePath(x); ; {
		if id, ok := devIno(p); ok && id == d {
			return true
		}
		parent := filepath.Dir(p)
		if parent == p {
			return false
		}
		p = parent
	}
}

type fileID struct{ dev, ino uint64 }

// resolvePath resolves symlinks in p as efs.NewLocal will. p itself, and any
// number of its parents, may not exist yet: the nearest existing ancestor is
// resolved and the rest appended.
func resolvePath(p string) string {
	p = filepath.Clean(p)
	rest := ""
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest)
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}
