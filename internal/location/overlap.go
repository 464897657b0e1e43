package location

import (
	"path/filepath"
	"strings"
)

// Overlap reports whether two local locations are the same directory or one is
// inside the other (a copy into itself would never end). SFTP locations are never
// reported: their paths live on another host.
func Overlap(a, b Location) bool {
	if a.IsSFTP() || b.IsSFTP() {
		return false
	}
	return nested(a.Local, b.Local) || nested(resolvePath(a.Local), resolvePath(b.Local))
}

func nested(a, b string) bool {
	in := func(x, y string) bool { return x == y || strings.HasPrefix(x, strings.TrimSuffix(y, "/")+"/") }
	return in(a, b) || in(b, a)
}

// resolvePath resolves symlinks in p as efs.NewLocal will (p itself may not exist
// yet: then its parent is resolved).
func resolvePath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	if r, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		return filepath.Join(r, filepath.Base(p))
	}
	return p
}
