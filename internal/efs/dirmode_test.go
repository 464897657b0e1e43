//go:build linux

package efs_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// setattrSpy records the mask of every Setattr, by name.
type setattrSpy struct {
	efs.FS
	mu    sync.Mutex
	masks map[string][]efs.SetMask
}

func (s *setattrSpy) Setattr(ctx context.Context, name string, attr efs.Attr, mask efs.SetMask) error {
	s.mu.Lock()
	s.masks[name] = append(s.masks[name], mask)
	s.mu.Unlock()
	return s.FS.Setattr(ctx, name, attr, mask)
}

// TestCopyMakesDirectoriesWithTheirFinalMode: a directory whose mode gives its
// owner rwx and has no special bit is made with that mode (group and other bits
// reduced to what both have in common while it is still owned by this process),
// so that finishing it sets only its owner and mtime: one round trip fewer per
// directory on EFS. Every other directory is made 0700 and chmod-ed at the end.
// The final modes, owners and mtimes are exact either way, and a rerun changes
// nothing.
func TestCopyMakesDirectoriesWithTheirFinalMode(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	srcDir, dstDir := filepath.Join(base, "src"), filepath.Join(base, "dst")
	must(t, os.Mkdir(srcDir, 0o755))
	must(t, os.Mkdir(dstDir, 0o700))
	cases := []struct {
		name      string
		mode      fs.FileMode
		interim   fs.FileMode // while its file is written
		chmodLast bool        // finishDir sets its mode too
	}{
		{"d755", 0o755, 0o755, false},
		{"d700", 0o700, 0o700, false},
		{"d711", 0o711, 0o711, false},
		{"d775", 0o775, 0o755, true}, // group bits above other's: not while root's group owns it
		{"d750", 0o750, 0o700, true},
		{"d555", 0o555, 0o700, true}, // not writable by its owner: made writable, fixed last
		{"d2775", 0o775 | fs.ModeSetgid, 0o700, true},
		{"d1777", 0o777 | fs.ModeSticky, 0o700, true},
	}
	mtime := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, c := range cases {
		d := filepath.Join(srcDir, c.name)
		must(t, os.Mkdir(d, 0o700))
		must(t, os.WriteFile(filepath.Join(d, "f"), []byte(c.name), 0o644))
		must(t, os.Chmod(d, c.mode))
		must(t, os.Chtimes(d, mtime, mtime))
	}

	var (
		mu      sync.Mutex
		interim = map[string]fs.FileMode{}
	)
	efs.SetWriteHook(t, func(point, name string) {
		if point != "create" {
			return
		}
		fi, err := os.Lstat(filepath.Join(dstDir, path.Dir(name)))
		if err != nil {
			t.Errorf("lstat of %s's directory while it is written: %v", name, err)
			return
		}
		mu.Lock()
		interim[path.Dir(name)] = fi.Mode() & (fs.ModePerm | fs.ModeSetgid | fs.ModeSticky)
		mu.Unlock()
	})
	ctx := context.Background()
	src := newLocalFS(t, srcDir)
	dst := &setattrSpy{FS: newLocalFS(t, dstDir), masks: map[string][]efs.SetMask{}}
	rep, err := efs.Copy(ctx, src, dst, copyOpts())
	must(t, err)

	for _, c := range cases {
		if got := interim[c.name]; got != c.interim {
			t.Errorf("%s (%v) was %v while its file was written, want %v", c.name, c.mode, got, c.interim)
		}
		want := efs.SetOwner | efs.SetTimes
		if c.chmodLast {
			want = efs.SetAll
		}
		if got := dst.masks[c.name]; len(got) != 1 || got[0] != want {
			t.Errorf("%s (%v): Setattr masks %v, want one %v", c.name, c.mode, got, want)
		}
		fi, err := os.Lstat(filepath.Join(dstDir, c.name))
		must(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode()&(fs.ModePerm|fs.ModeSetgid|fs.ModeSticky) != c.mode || st.Uid != newUID || !fi.ModTime().Equal(mtime) {
			t.Errorf("%s: mode %v uid %d mtime %v, want %v %d %v", c.name, fi.Mode(), st.Uid, fi.ModTime(), c.mode, newUID, mtime)
		}
	}
	checkTree(t, srcDir, dstDir, checkOpts{gran: time.Nanosecond, hardlinks: true, linkOwner: true, linkTimes: true})

	// A rerun finds every directory as it should be and sets nothing.
	dst.masks = map[string][]efs.SetMask{}
	rep2, err := efs.Copy(ctx, src, dst, copyOpts())
	must(t, err)
	if len(dst.masks) != 0 || rep2.Copied != 0 || rep2.Unchanged != rep.Files+rep.Dirs {
		t.Errorf("rerun: setattrs %v, copied %d, unchanged %d (want %d)", dst.masks, rep2.Copied, rep2.Unchanged, rep.Files+rep.Dirs)
	}
}

// xattrCallSpy is a source that counts Xattrs calls by name. It embeds *efs.Local,
// so Local's other abilities (listing a directory with its attributes) are kept.
type xattrCallSpy struct {
	*efs.Local
	mu    sync.Mutex
	calls map[string]int
}

func (s *xattrCallSpy) Xattrs(ctx context.Context, name string) (map[string][]byte, error) {
	s.mu.Lock()
	s.calls[name]++
	s.mu.Unlock()
	return s.Local.Xattrs(ctx, name)
}

// TestCopyReadsNewDirectoryXattrsWithItsListing: a directory the destination does
// not have yet gets the source's extended attributes read on the descriptor its
// listing opened, not by opening it again when it is finished (a round trip per
// directory on EFS). A directory the destination already has is read when it is
// finished, as before; either way the attributes arrive.
func TestCopyReadsNewDirectoryXattrsWithItsListing(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	srcDir, dstDir := filepath.Join(base, "src"), filepath.Join(base, "dst")
	must(t, os.MkdirAll(filepath.Join(srcDir, "a", "b"), 0o755))
	must(t, os.Mkdir(dstDir, 0o700))
	must(t, os.WriteFile(filepath.Join(srcDir, "a", "b", "f"), []byte("f"), 0o644))
	must(t, unix.Lsetxattr(filepath.Join(srcDir, "a"), "user.project", []byte("p1"), 0))
	must(t, unix.Lsetxattr(filepath.Join(srcDir, "a", "b"), "user.part", []byte("p2"), 0))

	ctx := context.Background()
	src := &xattrCallSpy{Local: newLocalFS(t, srcDir), calls: map[string]int{}}
	dst := newLocalFS(t, dstDir)
	_, err := efs.Copy(ctx, src, dst, copyOpts())
	must(t, err)
	for _, d := range []string{"a", "a/b"} {
		if n := src.calls[d]; n != 0 {
			t.Errorf("source directory %s opened %d more times for its extended attributes", d, n)
		}
	}
	check := func(name, attr, want string) {
		t.Helper()
		if v, err := getxattr(t, filepath.Join(dstDir, name), attr); err != nil || string(v) != want {
			t.Errorf("%s %s: %q, %v; want %q", name, attr, v, err, want)
		}
	}
	check("a", "user.project", "p1")
	check("a/b", "user.part", "p2")

	// A new subdirectory in a directory the destination has: the new one's
	// attributes come with its listing, the existing one (changed: it gets a new
	// entry) has them read when it is finished.
	must(t, os.Mkdir(filepath.Join(srcDir, "a", "c"), 0o755))
	must(t, unix.Lsetxattr(filepath.Join(srcDir, "a", "c"), "user.part", []byte("p3"), 0))
	src.calls = map[string]int{}
	_, err = efs.Copy(ctx, src, dst, copyOpts())
	must(t, err)
	if src.calls["a/c"] != 0 || src.calls["a"] != 1 {
		t.Errorf("rerun: Xattrs calls %v, want none for a/c and one for a", src.calls)
	}
	check("a/c", "user.part", "p3")
	check("a", "user.project", "p1")
}

// mkdirOrder records the order of Mkdir calls.
type mkdirOrder struct {
	efs.FS
	mu    sync.Mutex
	names []string
}

func (m *mkdirOrder) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	m.mu.Lock()
	m.names = append(m.names, name)
	m.mu.Unlock()
	return m.FS.Mkdir(ctx, name, perm)
}

// TestCopyMakesWidestSubdirectoriesFirst: the kernel makes a directory's
// subdirectories one at a time, so the ones with the most subdirectories of their
// own (by link count) are made first and their walks start soonest, whatever
// order the listing had.
func TestCopyMakesWidestSubdirectoriesFirst(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	srcDir, dstDir := filepath.Join(base, "src"), filepath.Join(base, "dst")
	must(t, os.Mkdir(dstDir, 0o700))
	for i := range 10 {
		must(t, os.MkdirAll(filepath.Join(srcDir, fmt.Sprintf("narrow%d", i)), 0o755))
	}
	for i := range 5 {
		must(t, os.MkdirAll(filepath.Join(srcDir, "wide", fmt.Sprintf("s%d", i)), 0o755))
	}
	for i := range 2 {
		must(t, os.MkdirAll(filepath.Join(srcDir, "mid", fmt.Sprintf("s%d", i)), 0o755))
	}
	dst := &mkdirOrder{FS: newLocalFS(t, dstDir)}
	// One mkdir at a time in a directory, so the order is the copier's own.
	_, err := efs.Copy(context.Background(), newLocalFS(t, srcDir), dst, efs.CopyOptions{UID: newUID, Workers: 4, PerDirectory: 1})
	must(t, err)
	var top []string
	for _, n := range dst.names {
		if !strings.Contains(n, "/") {
			top = append(top, n)
		}
	}
	if len(top) != 12 || top[0] != "wide" || top[1] != "mid" {
		t.Errorf("top-level mkdirs in order %v, want wide, mid, then the others", top)
	}
}
