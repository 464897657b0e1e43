//go:build linux

package efs

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

var (
	_ XattrFS     = (*Local)(nil)
	_ XattrReader = (*localReader)(nil)
	_ XattrWriter = (*localWriter)(nil)
)

// xattrOps reads and writes the attributes of one open file or directory through
// its descriptor (f*xattr): the inode that was opened and checked, whatever its
// name has become since.
type xattrOps struct{ fd int }

func (x xattrOps) list(buf []byte) (int, error)          { return unix.Flistxattr(x.fd, buf) }
func (x xattrOps) get(n string, buf []byte) (int, error) { return unix.Fgetxattr(x.fd, n, buf) }
func (x xattrOps) set(n string, v []byte) error          { return unix.Fsetxattr(x.fd, n, v, 0) }
func (x xattrOps) remove(n string) error                 { return unix.Fremovexattr(x.fd, n) }

// all lists every attribute and reads the values of those a copy keeps
// (keptXattr; the others are listed with a nil value); nil when there are none
// (the usual case costs one listxattr call) or the file system has none (ENOTSUP).
func (x xattrOps) all() (map[string][]byte, error) {
	var names []byte
	for {
		n, err := x.list(nil)
		if err == unix.ENOTSUP || n == 0 && err == nil {
			return nil, nil
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listing extended attributes: %w", err)
		}
		names = make([]byte, n)
		n, err = x.list(names)
		if err == unix.ERANGE || err == unix.EINTR { // grew meanwhile
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listing extended attributes: %w", err)
		}
		names = names[:n]
		break
	}
	out := map[string][]byte{}
	for _, n := range strings.Split(strings.TrimRight(string(names), "\x00"), "\x00") {
		if n == "" {
			continue
		}
		if !keptXattr(n) {
			// Never copied: the name is enough to say so (an NFSv4 ACL or an
			// SELinux label is not fetched for nothing).
			out[n] = nil
			continue
		}
		for {
			sz, err := x.get(n, nil)
			if err == unix.ENODATA {
				break // removed meanwhile
			}
			if err != nil {
				return nil, fmt.Errorf("reading extended attribute %s: %w", n, err)
			}
			v := make([]byte, sz)
			sz, err = x.get(n, v)
			if err == unix.ERANGE {
				continue
			}
			if err == unix.ENODATA {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("reading extended attribute %s: %w", n, err)
			}
			out[n] = v[:sz]
			break
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// apply makes the kept attributes exactly want (see XattrFS.SetXattrs).
func (x xattrOps) apply(want map[string][]byte) error {
	have, err := x.all()
	if err != nil {
		return err
	}
	for n, v := range want {
		if h, ok := have[n]; ok && string(h) == string(v) {
			continue
		}
		if err := x.set(n, v); err != nil {
			if err == unix.ENOTSUP || err == unix.EOPNOTSUPP {
				return fmt.Errorf("setting extended attribute %s: %w", n, ErrNotSupported)
			}
			return fmt.Errorf("setting extended attribute %s: %w", n, err)
		}
	}
	for n := range have {
		if _, ok := want[n]; !ok && keptXattr(n) {
			if err := x.remove(n); err != nil && err != unix.ENODATA {
				return fmt.Errorf("removing extended attribute %s: %w", n, err)
			}
		}
	}
	return nil
}

// pinXattr opens name for fn when it is a regular file or a directory; symlinks
// and specials are skipped (fn is not called). A directory is opened with
// O_DIRECTORY (one openat2, then f*xattr on it: what the copier asks for, per
// directory); anything else as Open opens a file, its type checked on the
// descriptor. Every change goes through that descriptor, never the name again.
func (l *Local) pinXattr(ctx context.Context, op, name string, write bool, fn func(xattrOps) error) error {
	if err := l.begin(ctx, op, name); err != nil {
		return err
	}
	defer l.mu.RUnlock()
	if name == "." { // the root: a real descriptor of the directory
		return l.opErr(op, name, fn(xattrOps{l.rootFD}))
	}
	fd, err := l.openFile(name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK, 0)
	if err == nil {
		defer unix.Close(fd)
		return l.opErr(op, name, fn(xattrOps{fd}))
	}
	if err != unix.ENOTDIR && err != errIsSymlink {
		return l.opErr(op, name, err)
	}
	if err == errIsSymlink {
		return nil
	}
	// Opened as Open opens a file (O_NONBLOCK: a FIFO swapped in cannot block),
	// and the type checked on the descriptor; f*xattr work on a read-only one.
	fd, err = l.openFile(name, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err == errIsSymlink || err == unix.ENXIO { // a symlink, a socket
		return nil
	}
	if err != nil {
		return l.opErr(op, name, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return l.opErr(op, name, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR: // swapped in since the first open: as good as a file here
	case unix.S_IFREG:
		if write && st.Nlink > 1 {
			return l.opErr(op, name, errSharedInode)
		}
	default:
		return nil
	}
	return l.opErr(op, name, fn(xattrOps{fd}))
}

// Xattrs returns name's extended attributes (nil for none, for a symlink or a
// special file).
func (l *Local) Xattrs(ctx context.Context, name string) (map[string][]byte, error) {
	var out map[string][]byte
	err := l.pinXattr(ctx, "reading extended attributes", name, false, func(x xattrOps) (err error) {
		out, err = x.all()
		return err
	})
	return out, err
}

// SetXattrs makes name's kept attributes exactly x (see XattrFS).
func (l *Local) SetXattrs(ctx context.Context, name string, x map[string][]byte) error {
	return l.pinXattr(ctx, "setting extended attributes", name, true, func(o xattrOps) error {
		return o.apply(x)
	})
}

// Xattrs lists the open file's attributes.
func (r *localReader) Xattrs() (map[string][]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	x, err := xattrOps{r.fd}.all()
	return x, r.l.opErr("reading extended attributes of", r.name, err)
}

// SetXattrs records attributes for Close to apply.
func (w *localWriter) SetXattrs(x map[string][]byte) { w.xattrs = x }

// XattrsKept reports whether Close stored the attributes.
func (w *localWriter) XattrsKept() bool { return !w.xattrsLost }
