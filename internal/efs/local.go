//go:build linux

package efs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Local is an FS over a directory of a mounted file system: a mounted EFS on the
// migration host, or a plain folder in tests and the demo. It is Linux-only (EFS is
// mounted on Linux hosts, and the no-follow guarantees below need Linux syscalls).
//
// No operation follows a symlink in any component of a name. Every name is resolved
// from a descriptor of the root that NewLocal opened:
//   - with openat2(2) and RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS (Linux 5.6+), the kernel
//     refuses a symlink in any component and any escape from the root, atomically with
//     the lookup, so a directory swapped for a symlink between two calls is refused too;
//   - where openat2 is missing (ENOSYS, or a seccomp filter answering EPERM), the
//     parent is walked one component at a time with O_PATH|O_DIRECTORY|O_NOFOLLOW.
//
// The final component is then handled with an *at syscall that does not follow it
// (fstatat/fchownat/utimensat with AT_SYMLINK_NOFOLLOW, fchmodat2 with
// AT_SYMLINK_NOFOLLOW, mkdirat, symlinkat, linkat without AT_SYMLINK_FOLLOW, renameat,
// unlinkat, readlinkat, openat with O_NOFOLLOW). A symlink in a middle component is
// ErrUnsafePath; a symlink as the final component of Open or ReadDir is an error too.
//
// Fastest local copy: Open returns a reader and Create a writer that implement
// io.WriterTo and io.ReaderFrom over the raw descriptors, so io.Copy(w, r) between two
// Local FSs (or from an *os.File) runs copy_file_range(2) in the kernel (reflinks or
// server-side copy where the file system has them), falling back to a 256 KiB buffer
// loop across file systems. The copier should pass the reader and writer to io.Copy
// unwrapped (count bytes from io.Copy's result, not with a wrapping reader), or the
// fast path is lost. Per file, a copy costs openat2+fstat+close on the source, and
// openat2+fstat+copy_file_range+fchown+utimensat+close on the destination (the file
// is created with its final permission bits where that is safe, see createMode, and
// the fstat, answered from the attributes the create returned (no extra request on the
// bench's FUSE-emulated EFS; NFS clients cache them the same way), tells whether a fchmod
// is still needed); a file written through Create under a temporary name adds
// openat2+renameat+close for the Rename into place, which CreateInPlace (a new file
// at its final name) saves. On EFS each of create, fchown, utimensat, close (the
// commit) and renameat is a round trip, and create and renameat each hold the
// directory's lock.
//
// Directory descriptors are deliberately not cached between calls: every call
// resolves its name afresh, so a directory that someone else renamed or swapped for a
// symlink is seen at once, and a cached descriptor can never carry an operation to
// where a directory was moved (outside the root included). That costs one
// openat2+close per call whose parent is not the root, 2 of the ~13 syscalls a copied
// file costs; an experimental cache made a 5000-file tree copy only ~5% faster on
// tmpfs, and on EFS the network round trip of each operation dwarfs both.
type Local struct {
	root   string // absolute, symlinks in it resolved
	name   string // local:<root>
	walkFn bool   // openat2 is unavailable: walk components instead

	mu     sync.RWMutex // held for reading while rootFD is in use, for writing by Close
	rootFD int          // -1 after Close
}

var (
	_ FS             = (*Local)(nil)
	_ InPlaceCreator = (*Local)(nil)
	_ dirXattrLister = (*Local)(nil)
)

// NewLocal returns an FS rooted at the directory root. Symlinks in root itself are
// followed once, here, because the administrator chose that path (for example
// /mnt/efs -> /mnt/fs-0123); no name below the root ever follows one. root must
// exist and be a directory.
func NewLocal(root string) (*Local, error) {
	if root == "" || strings.IndexByte(root, 0) >= 0 {
		return nil, fmt.Errorf("local root %q: %w", root, ErrUnsafePath)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("local root %q: %w", root, err)
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	}
	fd, err := unix.Open(abs, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) {
			return nil, fmt.Errorf("local root %s: not a directory: %w", abs, err)
		}
		return nil, fmt.Errorf("local root %s: %w", abs, err)
	}
	l := &Local{root: abs, name: "local:" + abs, rootFD: fd}
	if !probeUtimesEmptyPath(fd) {
		noUtimesEmptyPath.Store(true)
	}
	// Probe openat2 once; a kernel or sandbox without it gets the component walk.
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveFlags}
	if pfd, err := unix.Openat2(fd, ".", &how); err == nil {
		unix.Close(pfd)
	} else if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		l.walkFn = true
	} else {
		unix.Close(fd)
		return nil, fmt.Errorf("local root %s: %w", abs, err)
	}
	return l, nil
}

// resolveFlags confine every lookup below the root and refuse symlinks (and
// /proc magic links) in every component.
const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// String is local:<root>.
func (l *Local) String() string { return l.name }

// Root is the absolute directory the FS is rooted at.
func (l *Local) Root() string { return l.root }

// Features: everything, to the nanosecond; symlink times need Linux 5.8+ (see utimesPath).
func (l *Local) Features() Features {
	return Features{Inodes: true, Hardlinks: true, SymlinkOwner: true, SymlinkTimes: !noUtimesEmptyPath.Load(), TimeGranularity: time.Nanosecond}
}

// Close releases the root descriptor; later calls fail with fs.ErrClosed. Readers and
// writers already returned stay usable.
func (l *Local) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rootFD < 0 {
		return nil
	}
	err := unix.Close(l.rootFD)
	l.rootFD = -1
	return err
}

// errUnsafeLink is the cause given when a lookup met a symlink in a middle component.
var errUnsafeLink = fmt.Errorf("a directory in the path is a symlink, not followed: %w", ErrUnsafePath)

func (l *Local) opErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %s %q: %w", l.name, op, shortName(name), err)
}

// check validates name: relative, slash-separated, no "..", no empty component, no NUL.
func (l *Local) check(op, name string) error {
	if !validFSName(name) {
		return l.opErr(op, name, ErrUnsafePath)
	}
	return nil
}

// begin validates name and takes the read lock on the root descriptor; the caller
// must call l.mu.RUnlock when it returns nil.
func (l *Local) begin(ctx context.Context, op, name string) error {
	if err := l.check(op, name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return l.opErr(op, name, err)
	}
	l.mu.RLock()
	if l.rootFD < 0 {
		l.mu.RUnlock()
		return l.opErr(op, name, fs.ErrClosed)
	}
	return nil
}

// split returns name's parent directory ("" for the root) and base name.
func split(name string) (dir, base string) {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return "", name
	}
	return name[:i], name[i+1:]
}

// openDir opens directory dir (relative to the root, "" for the root itself) as an
// O_PATH descriptor without following a symlink anywhere. The caller closes the
// result unless it is l.rootFD (dir == "").
func (l *Local) openDir(dir string) (int, error) {
	if dir == "" {
		return l.rootFD, nil
	}
	if !l.walkFn {
		how := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveFlags}
		fd, err := openat2Retry(l.rootFD, dir, &how)
		if err == unix.ELOOP || err == unix.EXDEV {
			return -1, errUnsafeLink
		}
		return fd, err
	}
	return l.walk(dir)
}

// walk opens dir one component at a time, each with O_NOFOLLOW: the fallback for
// kernels without openat2.
func (l *Local) walk(dir string) (int, error) {
	cur := l.rootFD
	for dir != "" {
		comp := dir
		if i := strings.IndexByte(dir, '/'); i >= 0 {
			comp, dir = dir[:i], dir[i+1:]
		} else {
			dir = ""
		}
		fd, err := openatRetry(cur, comp, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil && (err == unix.ELOOP || err == unix.ENOTDIR) {
			// O_PATH|O_NOFOLLOW on a symlink may answer either; tell a symlink from a file.
			var st unix.Stat_t
			if unix.Fstatat(cur, comp, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				err = errUnsafeLink
			}
		}
		if cur != l.rootFD {
			unix.Close(cur)
		}
		if err != nil {
			return -1, err
		}
		cur = fd
	}
	return cur, nil
}

// openat2Retry retries openat2 on EINTR and on EAGAIN, which RESOLVE_BENEATH
// returns when a concurrent rename anywhere on the file system raced the lookup;
// a bounded number of times, so a rename storm cannot spin a worker forever.
func openat2Retry(dirfd int, name string, how *unix.OpenHow) (int, error) {
	for i := 0; ; i++ {
		fd, err := unix.Openat2(dirfd, name, how)
		if (err == unix.EINTR || err == unix.EAGAIN) && i < 100 {
			continue
		}
		return fd, err
	}
}

func openatRetry(dirfd int, name string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// openFile opens name (not the root) with flags, never following a symlink in any
// component, the last one included (O_NOFOLLOW: ELOOP on a final symlink).
func (l *Local) openFile(name string, flags int, mode uint32) (int, error) {
	flags |= unix.O_NOFOLLOW | unix.O_CLOEXEC
	if !l.walkFn {
		how := unix.OpenHow{Flags: uint64(flags), Mode: uint64(mode), Resolve: resolveFlags}
		fd, err := openat2Retry(l.rootFD, name, &how)
		if err == unix.ELOOP || err == unix.EXDEV {
			return -1, l.loopCause(name)
		}
		return fd, err
	}
	dir, base := split(name)
	pfd, err := l.openDir(dir)
	if err != nil {
		return -1, err
	}
	defer l.closeDir(pfd)
	fd, err := openatRetry(pfd, base, flags, mode)
	if err == unix.ELOOP {
		return -1, errIsSymlink
	}
	return fd, err
}

var errIsSymlink = errors.New("is a symlink, not followed")

// loopCause tells, after openat2 refused name, whether a middle component or the
// final one is a symlink. Only error paths pay for it.
func (l *Local) loopCause(name string) error {
	dir, base := split(name)
	pfd, err := l.openDir(dir)
	if err != nil {
		return err
	}
	defer l.closeDir(pfd)
	var st unix.Stat_t
	if unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return errIsSymlink
	}
	return errUnsafeLink
}

func (l *Local) closeDir(fd int) {
	if fd >= 0 && fd != l.rootFD {
		unix.Close(fd)
	}
}

// at runs fn with a descriptor of name's parent and name's base. For the root (".")
// it passes l.rootFD and base "" when root is true, and refuses otherwise.
func (l *Local) at(ctx context.Context, op, name string, root bool, fn func(pfd int, base string) error) error {
	if err := l.begin(ctx, op, name); err != nil {
		return err
	}
	defer l.mu.RUnlock()
	if name == "." {
		if !root {
			return l.opErr(op, name, fmt.Errorf("not allowed on the root: %w", ErrUnsafePath))
		}
		return l.opErr(op, name, fn(l.rootFD, ""))
	}
	dir, base := split(name)
	pfd, err := l.openDir(dir)
	if err != nil {
		return l.opErr(op, name, err)
	}
	defer l.closeDir(pfd)
	return l.opErr(op, name, fn(pfd, base))
}

// Lstat describes name without following a symlink.
func (l *Local) Lstat(ctx context.Context, name string) (Info, error) {
	var st unix.Stat_t
	err := l.at(ctx, "lstat", name, true, func(pfd int, base string) error {
		if base == "" {
			return unix.Fstat(pfd, &st)
		}
		return fstatat(pfd, base, &st)
	})
	if err != nil {
		return Info{}, err
	}
	return infoFromStat(name, &st), nil
}

func fstatat(dirfd int, name string, st *unix.Stat_t) error {
	for {
		err := unix.Fstatat(dirfd, name, st, unix.AT_SYMLINK_NOFOLLOW)
		if err != unix.EINTR {
			return err
		}
	}
}

// ReadDir lists name; each entry is described with fstatat relative to the open
// directory, so no entry is looked up through a path again.
func (l *Local) ReadDir(ctx context.Context, name string) ([]Info, error) {
	out, _, err := l.readDir(ctx, name, false)
	return out, err
}

// readDirXattrs is ReadDir that also reads the directory's own extended
// attributes, with flistxattr on the descriptor it lists (see dirXattrLister).
func (l *Local) readDirXattrs(ctx context.Context, name string) ([]Info, map[string][]byte, error) {
	return l.readDir(ctx, name, true)
}

func (l *Local) readDir(ctx context.Context, name string, xattrs bool) ([]Info, map[string][]byte, error) {
	const op = "reading directory"
	if err := l.begin(ctx, op, name); err != nil {
		return nil, nil, err
	}
	defer l.mu.RUnlock()
	var fd int
	var err error
	if name == "." {
		fd, err = openatRetry(l.rootFD, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	} else {
		fd, err = l.openFile(name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	}
	if err != nil {
		return nil, nil, l.opErr(op, name, err)
	}
	defer unix.Close(fd)
	var x map[string][]byte
	if xattrs {
		if x, err = (xattrOps{fd}).all(); err != nil {
			return nil, nil, l.opErr(op, name, err)
		}
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var names []string
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, nil, l.opErr(op, name, err)
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	out, err := statEntries(fd, names)
	if err != nil {
		return nil, nil, l.opErr(op, name, err)
	}
	return out, x, nil
}

// statSlow is the mean lstat time above which statEntries goes parallel (a
// variable so that a test can take the parallel path on a local file system).
var statSlow = 100 * time.Microsecond

// statEntries describes names, entries of the open directory fd, in order,
// leaving out those removed since the listing.
//
// Serially, unless each lstat is a round trip: on NFS or FUSE a listing does not
// always leave its entries' attributes cached (listing a subdirectory, as a
// concurrent count or walk does, invalidates its cached attributes), and then a
// wide directory's lstats cost a round trip each, one after another: 256 of them
// took ~1 s on the emulated EFS, on the copy's critical path (.git/objects). So
// the first few are timed, and if they were slow the rest run statParallel at
// once. On a local file system they take microseconds and nothing changes.
func statEntries(fd int, names []string) ([]Info, error) {
	const probe, statParallel = 8, 16
	slow := statSlow
	infos := make([]Info, len(names))
	found := make([]bool, len(names))
	stat := func(i int) error {
		var st unix.Stat_t
		if err := fstatat(fd, names[i], &st); err != nil {
			if err == unix.ENOENT { // removed since the listing
				return nil
			}
			return fmt.Errorf("lstat %q: %w", names[i], err)
		}
		infos[i], found[i] = infoFromStat(names[i], &st), true
		return nil
	}
	start := time.Now()
	next := 0
	// The clock is read every probe entries only: on tmpfs a read costs a tenth of
	// an lstat.
	for ; next < len(names) && (next < probe || next%probe != 0 || time.Since(start) < time.Duration(next)*slow); next++ {
		if err := stat(next); err != nil {
			return nil, err
		}
	}
	if err := parallelFor(len(names)-next, statParallel, func(i int) error { return stat(next + i) }); err != nil {
		return nil, err
	}
	out := infos[:0]
	for i := range infos {
		if found[i] {
			out = append(out, infos[i])
		}
	}
	return out, nil
}

// Readlink returns the target exactly as stored.
func (l *Local) Readlink(ctx context.Context, name string) (string, error) {
	var target string
	err := l.at(ctx, "reading symlink", name, false, func(pfd int, base string) error {
		for size := 256; ; size *= 2 {
			buf := make([]byte, size)
			n, err := unix.Readlinkat(pfd, base, buf)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return err
			}
			if n < size {
				target = string(buf[:n])
				return nil
			}
		}
	})
	return target, err
}

// Open opens a regular file for reading. O_NONBLOCK keeps a FIFO that replaced the
// file from blocking the open; the type is checked on the open descriptor.
func (l *Local) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	const op = "opening"
	if err := l.begin(ctx, op, name); err != nil {
		return nil, err
	}
	defer l.mu.RUnlock()
	if name == "." {
		return nil, l.opErr(op, name, errors.New("not a regular file (directory)"))
	}
	fd, err := l.openFile(name, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, l.opErr(op, name, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, l.opErr(op, name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, l.opErr(op, name, fmt.Errorf("not a regular file (%v)", modeFromStat(st.Mode).Type()))
	}
	// A file with fewer blocks than its size needs has holes (sparse image files,
	// datasets): only then is the copy done region by region (SEEK_DATA/SEEK_HOLE),
	// so ordinary files keep the single copy_file_range.
	sparse := st.Blocks*512 < st.Size
	return &localReader{ctx: ctx, fd: fd, name: name, l: l, size: st.Size, sparse: sparse, opened: fileState(&st)}, nil
}

func fileState(st *unix.Stat_t) FileState {
	return FileState{
		Size:       st.Size,
		ModTime:    time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec)),
		ChangeTime: time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec)),
	}
}

// Create makes name exclusively (O_CREAT|O_EXCL|O_NOFOLLOW) with the mode
// createMode gives. Close applies attr with fchown, then fchmod (chown clears setuid
// and setgid, so the mode goes second; skipped when the file was created with
// exactly attr.Perm, the usual case), then futimens after the last write.
func (l *Local) Create(ctx context.Context, name string, attr Attr) (io.WriteCloser, error) {
	const op = "creating"
	if err := l.begin(ctx, op, name); err != nil {
		return nil, err
	}
	defer l.mu.RUnlock()
	if name == "." {
		return nil, l.opErr(op, name, fs.ErrExist)
	}
	mode := createMode(attr.Perm)
	fd, err := l.openFile(name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, mode)
	if err != nil {
		if err == errIsSymlink { // O_EXCL: a symlink is an existing name
			err = fmt.Errorf("%w (a symlink)", fs.ErrExist)
		}
		return nil, l.opErr(op, name, err)
	}
	w := &localWriter{ctx: ctx, fd: fd, name: name, attr: attr, l: l, chmod: true}
	if mode == unixMode(attr.Perm) {
		// The umask, a default ACL or a setgid parent may have changed the bits asked
		// for; fstat says (from the attributes the create returned, on NFS and FUSE).
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil && st.Mode&0o7777 == mode {
			w.chmod = false
		}
	}
	return w, nil
}

// CreateInPlace is Create: O_CREAT|O_EXCL|O_NOFOLLOW refuses any existing entry at
// name, a symlink included (never followed), and Close sets the mtime last, after
// fchown, the extended attributes and fchmod, all on the open descriptor (see
// InPlaceCreator).
func (l *Local) CreateInPlace(ctx context.Context, name string, attr Attr) (io.WriteCloser, error) {
	return l.Create(ctx, name, attr)
}

// createMode is the mode a file is created with, so that most files (0644, 0755,
// 0600, 0700, 0444, ...) need no chmod after their chown: the owner bits asked for,
// never setuid or setgid (the file is owned by this process until Close, and chown
// clears them anyway), and group and other bits both reduced to what the group and
// the other bits asked for have in common. Until Close the file's owner and group
// are this process's, not the ones asked for, so a user may fall in another class
// than in the end; with both classes at the common bits, nobody but the new owner
// (who may chmod the final file anyway) can do more with the file before Close than
// after it.
func createMode(perm fs.FileMode) uint32 {
	m := uint32(perm.Perm())
	common := m >> 3 & m & 0o007
	return m&0o700 | common<<3 | common
}

// Mkdir makes name with exactly perm (chmod-ed after mkdir when the umask, a default
// ACL or the parent's setgid bit changed it); an existing directory is left alone.
func (l *Local) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	return l.at(ctx, "mkdir", name, true, func(pfd int, base string) error {
		if base == "" {
			return nil // the root exists
		}
		want := unixMode(perm)
		err := unix.Mkdirat(pfd, base, want&0o1777)
		if err == unix.EEXIST {
			var st unix.Stat_t
			if serr := fstatat(pfd, base, &st); serr == nil {
				if st.Mode&unix.S_IFMT == unix.S_IFDIR {
					return nil
				}
				return fmt.Errorf("%w (%v)", fs.ErrExist, modeFromStat(st.Mode).Type())
			}
			return err
		}
		if err != nil {
			return err
		}
		// The umask, a default ACL or a setgid parent may have changed the bits:
		// chmod only then (the lstat is answered from the attributes mkdir
		// returned, on NFS and FUSE; a chmod is a round trip).
		var st unix.Stat_t
		if fstatat(pfd, base, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR && st.Mode&0o7777 == want {
			return nil
		}
		if localTestHook != nil {
			localTestHook("mkdir-chmod", base)
		}
		// Pin the directory (O_DIRECTORY|O_NOFOLLOW: the name may have been swapped
		// since the mkdir for a hardlink to a file outside the root, or a symlink)
		// and chmod the pinned inode, never the name.
		fd, err := openatRetry(pfd, base, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("pinning the new directory to set its mode: %w", err)
		}
		defer unix.Close(fd)
		return fchmodPath(fd, want)
	})
}

// localTestHook, set only by tests, runs at the points where a name-based
// operation would leave a window (the name is checked, then acted on), so that
// tests can swap the name there and prove the action reaches the pinned inode.
var localTestHook func(point, name string)

// Symlink makes name a symlink to target, stored verbatim.
func (l *Local) Symlink(ctx context.Context, target, name string) error {
	if strings.IndexByte(target, 0) >= 0 {
		return l.opErr("symlink", name, fmt.Errorf("target %q: %w", target, ErrUnsafePath))
	}
	return l.at(ctx, "symlink", name, false, func(pfd int, base string) error {
		return unix.Symlinkat(target, pfd, base)
	})
}

// Link makes newname a hardlink to oldname; oldname is not followed if it is a symlink
// (linkat without AT_SYMLINK_FOLLOW links the symlink itself).
func (l *Local) Link(ctx context.Context, oldname, newname string) error {
	return l.two(ctx, "link", oldname, newname, func(opfd int, obase string, npfd int, nbase string) error {
		return unix.Linkat(opfd, obase, npfd, nbase, 0)
	})
}

// Rename moves oldname to newname with renameat(2): atomic, replacing a non-directory.
func (l *Local) Rename(ctx context.Context, oldname, newname string) error {
	return l.two(ctx, "rename", oldname, newname, func(opfd int, obase string, npfd int, nbase string) error {
		return unix.Renameat(opfd, obase, npfd, nbase)
	})
}

// two resolves the parents of two names (once when they share one) for fn.
func (l *Local) two(ctx context.Context, op, oldname, newname string, fn func(opfd int, obase string, npfd int, nbase string) error) error {
	if err := l.check(op, newname); err != nil {
		return err
	}
	if newname == "." {
		return l.opErr(op, newname, fmt.Errorf("not allowed on the root: %w", ErrUnsafePath))
	}
	return l.at(ctx, op, oldname, false, func(opfd int, obase string) error {
		odir, _ := split(oldname)
		ndir, nbase := split(newname)
		npfd := opfd
		// The new name is said once: as a base name when it is in the same
		// directory (a temporary file renamed into place), shortened when huge.
		shown := newname
		if ndir != odir {
			fd, err := l.openDir(ndir)
			if err != nil {
				return fmt.Errorf("to %q: %w", shortName(newname), err)
			}
			defer l.closeDir(fd)
			npfd = fd
		} else {
			shown = nbase
		}
		if err := fn(opfd, obase, npfd, nbase); err != nil {
			return fmt.Errorf("to %q: %w", shortName(shown), err)
		}
		return nil
	})
}

// Remove deletes a file, a symlink or an empty directory.
func (l *Local) Remove(ctx context.Context, name string) error {
	return l.at(ctx, "remove", name, false, func(pfd int, base string) error {
		err := unix.Unlinkat(pfd, base, 0)
		if err == unix.EISDIR {
			err = unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR)
		}
		return err
	})
}

// Setattr applies the parts of attr selected by mask to name itself: owner with
// fchownat, then the mode with fchmodat2 (skipped on a symlink), then times with
// utimensat, all three through one O_PATH|O_NOFOLLOW descriptor that pins the inode
// checked below (AT_EMPTY_PATH): none of them can reach a symlink's target, nor a
// file swapped in at the name after the check.
func (l *Local) Setattr(ctx context.Context, name string, attr Attr, mask SetMask) error {
	return l.at(ctx, "setattr", name, true, func(pfd int, base string) error {
		if base == "" { // the root: its descriptor is the directory itself
			return fsetattr(pfd, attr, mask)
		}
		if mask&(SetOwner|SetPerm|SetTimes) == 0 {
			return nil
		}
		// Pin the inode (O_PATH|O_NOFOLLOW) and check it before changing anything: a
		// file or symlink (not a directory) that has other names is refused, since
		// one of them may be outside the root (a hardlink planted in a home, or an
		// entry swapped for one after it was listed). Owner and mode then go through
		// the pinned descriptor, so they reach the inode that was checked.
		fd, err := openatRetry(pfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
		t := st.Mode & unix.S_IFMT
		if t != unix.S_IFDIR && st.Nlink > 1 {
			return errSharedInode
		}
		if t == unix.S_IFLNK && mask&SetTimes != 0 && noUtimesEmptyPath.Load() {
			// Refused before anything is changed (see utimesPath).
			return fmt.Errorf("setting a symlink's mtime without utimensat(AT_EMPTY_PATH) (Linux < 5.8): %w", ErrNotSupported)
		}
		if mask&SetOwner != 0 {
			if err := unix.Fchownat(fd, "", int(attr.UID), int(attr.GID), unix.AT_EMPTY_PATH); err != nil {
				return fmt.Errorf("chown: %w", err)
			}
		}
		if mask&SetPerm != 0 && t != unix.S_IFLNK {
			if err := fchmodPath(fd, unixMode(attr.Perm)); err != nil {
				return fmt.Errorf("chmod: %w", err)
			}
		}
		if localTestHook != nil {
			localTestHook("setattr-pinned", base)
		}
		if mask&SetTimes != 0 {
			if err := utimesPath(fd, t == unix.S_IFLNK, attr.ModTime); err != nil {
				return fmt.Errorf("setting mtime: %w", err)
			}
		}
		return nil
	})
}

// utimesPath sets the times of the inode an O_PATH descriptor pins, a symlink
// included: utimensat(fd, "", AT_EMPTY_PATH), which Linux 5.8 and later accept on
// any descriptor, O_PATH ones of symlinks too (kernel commit 44a3b87444058b2c,
// "utimensat: AT_EMPTY_PATH support ... on an O_PATH file (including symlinks)"):
// the inode is the descriptor's, so a name swapped since the check cannot
// redirect it. Older kernels answer EINVAL:
// a non-symlink then goes through /proc/self/fd (as glibc's futimens emulation
// does; the magic link leads to the pinned inode), and a symlink is
// ErrNotSupported (Features().SymlinkTimes is false there, so the copier does not
// ask): following /proc/self/fd/N to a symlink is not something to rely on.
func utimesPath(fd int, symlink bool, t time.Time) error {
	ts := timespecs(t)
	if !noUtimesEmptyPath.Load() {
		err := unix.UtimesNanoAt(fd, "", ts[:], unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
		if err != unix.EINVAL {
			return err
		}
		noUtimesEmptyPath.Store(true)
	}
	if symlink {
		return fmt.Errorf("setting a symlink's mtime without AT_EMPTY_PATH (Linux < 5.8): %w", ErrNotSupported)
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), ts[:], 0)
}

// noUtimesEmptyPath is set once utimensat refused AT_EMPTY_PATH (Linux before 5.8).
var noUtimesEmptyPath atomic.Bool

// probeUtimesEmptyPath tells whether utimensat takes AT_EMPTY_PATH, with a call
// that changes nothing (both times UTIME_OMIT) on the root descriptor.
func probeUtimesEmptyPath(fd int) bool {
	omit := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
	return unix.UtimesNanoAt(fd, "", omit, unix.AT_EMPTY_PATH) != unix.EINVAL
}

// errSharedInode refuses a change on a file another name shares.
var errSharedInode = fmt.Errorf("a file with other hardlinks, which may be outside the root, is not changed: %w", ErrUnsafePath)

// fchmodPath sets the mode of an O_PATH descriptor (not a symlink): fchmodat2 with
// AT_EMPTY_PATH, or through /proc/self/fd where fchmodat2 is missing.
func fchmodPath(fd int, mode uint32) error {
	if !noFchmodat2.Load() {
		err := unix.Fchmodat(fd, "", mode, unix.AT_EMPTY_PATH)
		if err != unix.EOPNOTSUPP {
			return err
		}
		noFchmodat2.Store(true)
	}
	return unix.Fchmodat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), mode, 0)
}

// fsetattr applies attr to an open descriptor (not O_PATH), in the order that keeps
// setuid/setgid: chown, chmod, times.
func fsetattr(fd int, attr Attr, mask SetMask) error {
	if mask&SetOwner != 0 {
		if err := unix.Fchown(fd, int(attr.UID), int(attr.GID)); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	if mask&SetPerm != 0 {
		if err := unix.Fchmod(fd, unixMode(attr.Perm)); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if mask&SetTimes != 0 {
		if err := futimens(fd, attr.ModTime); err != nil {
			return fmt.Errorf("setting mtime: %w", err)
		}
	}
	return nil
}

// noFchmodat2 is set once fchmodat2 answered ENOSYS (Linux before 6.6).
var noFchmodat2 atomic.Bool

// chmodNoFollow sets base's mode without following a symlink; it reports link=true
// (and changes nothing) when base is a symlink, whose mode Linux cannot change.
func chmodNoFollow(pfd int, base string, mode uint32) (link bool, err error) {
	if !noFchmodat2.Load() {
		err := unix.Fchmodat(pfd, base, mode, unix.AT_SYMLINK_NOFOLLOW)
		switch err {
		case nil:
			return false, nil
		case unix.EOPNOTSUPP:
			// fchmodat2 refuses symlinks with EOPNOTSUPP, but x/sys also maps ENOSYS
			// to it: tell the two apart with an lstat.
			var st unix.Stat_t
			if serr := fstatat(pfd, base, &st); serr != nil {
				return false, serr
			}
			if st.Mode&unix.S_IFMT == unix.S_IFLNK {
				return true, nil
			}
			noFchmodat2.Store(true)
		default:
			return false, err
		}
	}
	// Old kernels: pin the inode with an O_PATH|O_NOFOLLOW descriptor, check its type,
	// and chmod through /proc/self/fd (as glibc's fchmodat emulation does).
	fd, err := openatRetry(pfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return true, nil
	}
	return false, unix.Fchmodat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), mode, 0)
}

func timespecs(t time.Time) [2]unix.Timespec {
	ts := unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
	return [2]unix.Timespec{ts, ts} // atime = mtime
}

// futimens sets atime and mtime of an open descriptor: utimensat(fd, NULL, ...),
// which x/sys does not expose (its Futimes goes through /proc at microsecond precision).
func futimens(fd int, t time.Time) error {
	ts := timespecs(t)
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// unixMode converts permission bits, setuid, setgid and sticky to a st_mode.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= unix.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		u |= unix.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		u |= unix.S_ISVTX
	}
	return u
}

// modeFromStat converts a st_mode to an fs.FileMode (as os.Lstat does).
func modeFromStat(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

func infoFromStat(name string, st *unix.Stat_t) Info {
	return Info{
		Name:    name,
		Mode:    modeFromStat(st.Mode),
		Size:    st.Size,
		ModTime: time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec)),
		UID:     st.Uid,
		GID:     st.Gid,
		Dev:     uint64(st.Dev),
		Ino:     uint64(st.Ino),
		Nlink:   uint64(st.Nlink),
	}
}

// copyBufs hold the buffers of copies the kernel cannot do by itself (across file
// systems, from a non-file reader) and of ReadDir.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// localReader reads a file opened by Open.
type localReader struct {
	ctx  context.Context
	fd   int
	name string
	l    *Local
	size int64 // at open: lets a kernel copy stop without a last call to find EOF
	// sparse: the file had holes at open (st_blocks below its size).
	sparse bool
	opened FileState
	mu     sync.Mutex
}

var _ StatReader = (*localReader)(nil)

// Opened describes the file as fstat saw it at Open.
func (r *localReader) Opened() FileState { return r.opened }

// Stat describes the open file now (fstat: the inode, whatever its name became).
func (r *localReader) Stat() (FileState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var st unix.Stat_t
	if r.fd < 0 {
		return FileState{}, r.l.opErr("stat", r.name, fs.ErrClosed)
	}
	if err := unix.Fstat(r.fd, &st); err != nil {
		return FileState{}, r.l.opErr("stat", r.name, err)
	}
	return fileState(&st), nil
}

func (r *localReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	for {
		n, err := unix.Read(r.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN && clearNonblock(r.fd):
			continue
		case err != nil:
			return 0, r.l.opErr("reading", r.name, err)
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// WriteTo hands the copy to the destination: the kernel (copy_file_range) for a Local
// writer, the destination's own ReadFrom (SFTP's concurrent writes) otherwise.
func (r *localReader) WriteTo(w io.Writer) (int64, error) {
	switch w := w.(type) {
	case *localWriter:
		return w.ReadFrom(r)
	case io.ReaderFrom:
		return w.ReadFrom(readerOnly{r})
	}
	return copyBuffer(w, readerOnly{r})
}

func (r *localReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fd < 0 {
		return nil
	}
	err := unix.Close(r.fd)
	r.fd = -1
	return r.l.opErr("closing", r.name, err)
}

// clearNonblock turns O_NONBLOCK off on fd and reports whether it was on. Open uses
// O_NONBLOCK only so that a FIFO swapped in for a file cannot block the open (as GNU
// tar does); regular files ignore it on Linux, but should a file system answer EAGAIN
// for a read that would wait, the descriptor goes back to blocking and the read is
// retried.
func clearNonblock(fd int) bool {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK == 0 {
		return false
	}
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_NONBLOCK)
	return err == nil
}

// readerOnly hides WriteTo/ReadFrom so that io.Copy does not recurse.
type readerOnly struct{ io.Reader }

// localWriter writes a file made by Create and applies its attributes on Close.
type localWriter struct {
	ctx    context.Context
	fd     int
	name   string
	attr   Attr
	l      *Local
	chmod  bool  // the mode made at create is not attr.Perm
	off    int64 // where the next Write goes (Write skips zero blocks with lseek)
	hole   bool  // the last bytes written were skipped: Close sets the size
	xattrs map[string][]byte
	// xattrsLost: the file system could not store them (see XattrWriter).
	xattrsLost bool
	mu         sync.Mutex
	closed     bool
}

// Write writes p at the end of what was written, leaving every whole, aligned
// block of zeros as a hole (skipped with lseek; Close sets the size when the file
// ends in one): data from a source that cannot report its holes (SFTP, another
// file system) keeps them anyway, like cp --sparse and rsync -S.
func (w *localWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	for n < len(p) {
		// Up to the next block boundary, then whole blocks.
		j := n + min(holeBlock-int(w.off%holeBlock), len(p)-n)
		if j-n == holeBlock && isZero(p[n:j]) {
			for j+holeBlock <= len(p) && isZero(p[j:j+holeBlock]) {
				j += holeBlock
			}
			if _, err := unix.Seek(w.fd, int64(j-n), unix.SEEK_CUR); err != nil {
				return n, w.l.opErr("writing", w.name, err)
			}
			w.off += int64(j - n)
			w.hole = true
			n = j
			continue
		}
		for j < len(p) && !(j+holeBlock <= len(p) && isZero(p[j:j+holeBlock])) {
			j = min(j+holeBlock, len(p))
		}
		for n < j {
			m, err := unix.Write(w.fd, p[n:j])
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return n, w.l.opErr("writing", w.name, err)
			}
			n += m
			w.off += int64(m)
		}
		w.hole = false
	}
	return n, nil
}

// ReadFrom copies from a Local reader or an *os.File with copy_file_range(2), and
// from anything else through a pooled buffer.
func (w *localWriter) ReadFrom(r io.Reader) (int64, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	switch src := r.(type) {
	case *localReader:
		if src.sparse && w.off == 0 {
			n, handled, err := w.copySparse(src.fd, src.size)
			if handled {
				return n, err
			}
		}
		n, handled, err := w.copyRange(src.fd, src.size)
		w.off += n
		if handled {
			return n, err
		}
		m, err := copyBuffer(readerOnlyW{w}, readerOnly{src})
		return n + m, err
	case *os.File:
		if fi, err := src.Stat(); err == nil && fi.Mode().IsRegular() {
			rc, err := src.SyscallConn()
			if err == nil {
				var n int64
				var handled bool
				var cerr error
				if err := rc.Read(func(fd uintptr) bool {
					n, handled, cerr = w.copyRange(int(fd), fi.Size())
					w.off += n
					return true
				}); err == nil {
					if handled {
						return n, cerr
					}
					m, err := copyBuffer(readerOnlyW{w}, readerOnly{src})
					return n + m, err
				}
			}
		}
	}
	return copyBuffer(readerOnlyW{w}, readerOnly{r})
}

// copyRange copies from rfd to w with copy_file_range until EOF. handled is false
// when the kernel cannot copy between these files (across file systems, a file
// system without support) and the caller must continue with read/write from the
// current offsets; n counts what was copied before that.
//
// size is the source's size when it was opened (-1 if unknown). A call that returns
// less than asked once size bytes are copied is taken as EOF, which saves the extra
// call that would return 0 (one syscall per small file); a file that grew since it
// was opened is then copied as it was at open, like any file that changes during a
// copy (the copier's quick check catches it on the next run).
func (w *localWriter) copyRange(rfd int, size int64) (n int64, handled bool, err error) {
	const chunk = 1 << 30
	for {
		if err := w.ctx.Err(); err != nil {
			return n, true, err
		}
		m, err := unix.CopyFileRange(rfd, nil, w.fd, nil, chunk, 0)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN && clearNonblock(rfd):
			continue
		case err == unix.EXDEV || err == unix.ENOSYS || err == unix.EINVAL || err == unix.EOPNOTSUPP || err == unix.EBADF || err == unix.EPERM:
			return n, false, nil
		case err != nil:
			return n, true, w.l.opErr("copying to", w.name, err)
		case m == 0 && n == 0:
			// Some file systems (procfs-like, some FUSE) answer 0 for data they
			// cannot copy; a read tells a real EOF from that at the cost of one call.
			return 0, false, nil
		case m == 0:
			return n, true, nil
		}
		n += int64(m)
		if size >= 0 && n >= size && m < chunk {
			return n, true, nil
		}
	}
}

// copySparse copies a file with holes: only its data regions (found with
// SEEK_DATA/SEEK_HOLE), each at its own offset, then sets the size, so the holes
// stay holes (a 2 GiB image with a few KiB of data takes a few KiB, as with cp).
// It returns the file's size as the count. handled is false, with nothing written,
// when the source cannot report its regions (the caller then copies every byte,
// and Write leaves all-zero blocks as holes).
func (w *localWriter) copySparse(rfd int, size int64) (n int64, handled bool, err error) {
	var off int64
	for off < size {
		if err := w.ctx.Err(); err != nil {
			return off, true, err
		}
		data, err := unix.Seek(rfd, off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			break // only a hole is left
		}
		if err == unix.EINVAL && off == 0 {
			return 0, false, nil // no SEEK_DATA here
		}
		if err != nil {
			return off, true, w.l.opErr("finding data in the source of", w.name, err)
		}
		if data >= size {
			break
		}
		hole, err := unix.Seek(rfd, data, unix.SEEK_HOLE)
		if err != nil {
			return off, true, w.l.opErr("finding holes in the source of", w.name, err)
		}
		hole = min(hole, size) // the file may have grown since it was opened
		if err := w.copyAt(rfd, data, hole); err != nil {
			return off, true, err
		}
		off = hole
	}
	if err := ftruncate(w.fd, size); err != nil {
		return off, true, w.l.opErr("setting the size of", w.name, err)
	}
	w.off = size
	return size, true, nil
}

// copyAt copies bytes [from, to) of rfd to the same offsets of w, with
// copy_file_range, or pread/pwrite where the kernel cannot copy between the two.
func (w *localWriter) copyAt(rfd int, from, to int64) error {
	roff, woff := from, from
	for roff < to {
		m, err := unix.CopyFileRange(rfd, &roff, w.fd, &woff, int(min(to-roff, 1<<30)), 0)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EXDEV || err == unix.ENOSYS || err == unix.EINVAL || err == unix.EOPNOTSUPP || err == unix.EBADF || err == unix.EPERM:
			return w.preadWrite(rfd, roff, to)
		case err != nil:
			return w.l.opErr("copying to", w.name, err)
		case m == 0:
			return nil // the source shrank: what is left reads as a hole
		}
	}
	return nil
}

func (w *localWriter) preadWrite(rfd int, off, to int64) error {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for off < to {
		m, err := unix.Pread(rfd, buf[:min(int64(len(buf)), to-off)], off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return w.l.opErr("reading the source of", w.name, err)
		}
		if m == 0 {
			return nil
		}
		for p := buf[:m]; len(p) > 0; {
			k, err := unix.Pwrite(w.fd, p, off)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return w.l.opErr("writing", w.name, err)
			}
			p, off = p[k:], off+int64(k)
		}
	}
	return nil
}

func ftruncate(fd int, size int64) error {
	for {
		if err := unix.Ftruncate(fd, size); err != unix.EINTR {
			return err
		}
	}
}

// holeBlock is the unit Write leaves as a hole when it is all zeros: the page
// size and the block size of the usual file systems (ext4, xfs, tmpfs; EFS
// allocates in 4 KiB too).
const holeBlock = 4096

var zeroBlock [holeBlock]byte

func isZero(p []byte) bool { return bytes.Equal(p, zeroBlock[:len(p)]) }

// readerOnlyW hides ReadFrom so that copyBuffer does not recurse.
type readerOnlyW struct{ io.Writer }

func copyBuffer(w io.Writer, r io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(w, r, *bp)
}

// Close applies the attributes (fchown, fchmod, futimens: see Create) and closes.
// A second Close returns nil.
func (w *localWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.ctx.Err()
	if err == nil && w.hole {
		if err = ftruncate(w.fd, w.off); err != nil {
			err = fmt.Errorf("setting the size after a trailing hole: %w", err)
		}
	}
	if err == nil {
		mask := SetAll
		if !w.chmod {
			mask &^= SetPerm
		}
		if len(w.xattrs) > 0 {
			// After the owner (chown clears file capabilities), before the mode
			// (which sets an ACL's mask to the group bits asked for) and the mtime.
			if err = fsetattr(w.fd, w.attr, SetOwner); err == nil {
				err = xattrOps{w.fd}.apply(w.xattrs)
				if errors.Is(err, ErrNotSupported) {
					err, w.xattrsLost = nil, true
				}
			}
			mask = SetPerm | SetTimes
		}
		if err == nil && localTestHook != nil {
			localTestHook("close-times", w.name) // owner, xattrs, mode: not yet the mtime
		}
		if err == nil {
			err = fsetattr(w.fd, w.attr, mask&^SetTimes)
		}
		if err == nil {
			// Last: the mtime says the file is complete (see InPlaceCreator).
			err = fsetattr(w.fd, w.attr, mask&SetTimes)
		}
	}
	if cerr := unix.Close(w.fd); err == nil {
		err = cerr
	}
	w.fd = -1 // a stray Write after Close must not reach a reused descriptor
	return w.l.opErr("closing", w.name, err)
}
