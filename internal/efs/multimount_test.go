//go:build linux

package efs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/efs/efstest"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// bindMount mounts dir on a new directory (read-only when ro) until the test ends:
// a second mount of the same directory, as a second NFS mount of one volume is.
func bindMount(t *testing.T, dir string, ro bool) string {
	t.Helper()
	testutil.RequireRoot(t)
	mnt := t.TempDir()
	if err := unix.Mount(dir, mnt, "", unix.MS_BIND, ""); err != nil {
		if !testutil.Strict() && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)) {
			t.Skipf("bind mount not permitted here: %v", err)
		}
		t.Fatalf("bind-mounting %s on %s: %v", dir, mnt, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", mnt, err)
		}
	})
	if ro {
		if err := unix.Mount("", mnt, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			t.Fatalf("remounting %s read-only: %v", mnt, err)
		}
	}
	return mnt
}

// newMultiMount opens a MultiMount over dir itself and n-1 bind mounts of it (the
// mounts at the indexes in ro read-only).
func newMultiMount(t *testing.T, dir string, n int, ro ...int) *efs.MultiMount {
	t.Helper()
	roots := []string{dir}
	for i := 1; i < n; i++ {
		roots = append(roots, bindMount(t, dir, contains(ro, i)))
	}
	ls := make([]*efs.Local, n)
	for i, r := range roots {
		l, err := efs.NewLocal(r)
		must(t, err)
		ls[i] = l
	}
	m, err := efs.NewMultiMount(context.Background(), ls, nil)
	if err != nil {
		for _, l := range ls {
			l.Close()
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestMultiMountConformance runs the FS suite through three mounts of each root:
// every guarantee of Local (no symlink followed, nothing outside the root) holds
// whichever mount an operation is routed to.
func TestMultiMountConformance(t *testing.T) {
	efstest.Run(t, func(t *testing.T) (efs.FS, string) {
		dir := t.TempDir()
		return newMultiMount(t, dir, 3), dir
	})
}

// TestMultiMountCopy copies the full fixture (hardlinks across directories,
// symlinks pointing outside, odd names, setuid files) through four mounts of the
// destination, then verifies it, then checks that a rerun writes nothing.
func TestMultiMountCopy(t *testing.T) {
	srcDir, dstDir, fx := homes(t)
	ctx := context.Background()
	src := newLocalFS(t, srcDir)
	dst := newMultiMount(t, dstDir, 4)
	rep, err := efs.Copy(ctx, src, dst, copyOpts())
	if err != nil {
		t.Fatalf("copy: %v (%+v)", err, rep)
	}
	checkTree(t, srcDir, dstDir, checkOpts{gran: time.Nanosecond, hardlinks: true, linkOwner: true, linkTimes: true})
	if rep.Files != 17 || rep.Hardlinks != 2 || rep.Symlinks != 5 || rep.Errors != 0 {
		t.Errorf("report: files %d hardlinks %d symlinks %d errors %d", rep.Files, rep.Hardlinks, rep.Symlinks, rep.Errors)
	}
	if entries, _ := os.ReadDir(fx.outside); len(entries) != 1 {
		t.Errorf("outside dir changed: %v", entries)
	}
	vr, err := efs.Verify(ctx, src, dst, efs.VerifyOptions{UID: newUID, Checksum: true})
	if err != nil {
		t.Fatalf("verify: %v %+v", err, vr.List)
	}
	rep2, err := efs.Copy(ctx, src, dst, copyOpts())
	must(t, err)
	if rep2.Copied != 0 || rep2.MetadataFixed != 0 || rep2.Hardlinks != 0 {
		t.Errorf("rerun wrote: %+v", rep2)
	}
}

// TestMultiMountRouting makes one of two mounts read-only: every write of an entry
// routed to it fails with EROFS and nothing appears, every write routed to the other
// lands on disk. So each entry is written through exactly the mount MountFor names,
// the entries of one directory use both mounts, and a temporary name goes with
// the final name it stands for (its rename stays within one mount).
func TestMultiMountRouting(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "flat"), 0o755))
	m := newMultiMount(t, dir, 2, 1)
	ctx := context.Background()
	used := map[int]int{}
	var rw, ro string // one entry of each kind, for Link and Rename below
	for i := 0; i < 24; i++ {
		name := fmt.Sprintf("flat/f%02d", i)
		want := m.MountFor(name)
		used[want]++
		if tmp := efs.TempName(name); m.MountFor(tmp) != want {
			t.Errorf("%s and its temporary name %s go to different mounts", name, tmp)
		}
		w, err := m.Create(ctx, name, efs.Attr{UID: newUID, GID: srcGID, Perm: 0o644, ModTime: baseMtime})
		if err == nil {
			_, err = w.Write([]byte("data"))
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
		_, statErr := os.Lstat(filepath.Join(dir, name))
		switch want {
		case 1:
			ro = name
			if !errors.Is(err, syscall.EROFS) {
				t.Errorf("%s (read-only mount): create error %v, want EROFS", name, err)
			}
			if !errors.Is(statErr, fs.ErrNotExist) {
				t.Errorf("%s exists though its mount is read-only", name)
			}
			if _, err := m.CreateInPlace(ctx, name, efs.Attr{UID: newUID, GID: srcGID, Perm: 0o644, ModTime: baseMtime}); !errors.Is(err, syscall.EROFS) {
				t.Errorf("%s (read-only mount): CreateInPlace error %v, want EROFS", name, err)
			}
			if err := m.Mkdir(ctx, name+".d", 0o755); m.MountFor(name+".d") == 1 && !errors.Is(err, syscall.EROFS) {
				t.Errorf("Mkdir %s.d: %v, want EROFS", name, err)
			}
		default:
			rw = name
			must(t, err)
			if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != "data" {
				t.Errorf("%s = %q, %v", name, b, err)
			}
			if st, _ := os.Lstat(filepath.Join(dir, name)); st == nil || st.Sys().(*syscall.Stat_t).Uid != newUID {
				t.Errorf("%s not owned by %d", name, newUID)
			}
		}
	}
	if used[0] == 0 || used[1] == 0 {
		t.Fatalf("one directory's entries spread over %v, want both mounts", used)
	}
	if _, err := m.ReadDir(ctx, "flat"); err != nil {
		t.Errorf("ReadDir: %v", err)
	}
	// Link and Rename go through the new name's mount.
	if err := m.Link(ctx, rw, ro+".h"); m.MountFor(ro+".h") == 1 && !errors.Is(err, syscall.EROFS) {
		t.Errorf("Link to %s.h: %v, want EROFS", ro, err)
	}
	var to string
	for i := 0; to == ""; i++ {
		if n := fmt.Sprintf("flat/r%d", i); m.MountFor(n) == 0 {
			to = n
		}
	}
	must(t, m.Rename(ctx, rw, to))
	if _, err := os.Lstat(filepath.Join(dir, to)); err != nil {
		t.Errorf("rename through the writable mount: %v", err)
	}
}

// TestMultiMountListsThroughFirstMount: every directory, at any depth, is listed
// through the first mount (the one whose cache the parent's listing refreshed),
// never through the mount its name hashes to: with the other mounts closed, every
// listing still works.
func TestMultiMountListsThroughFirstMount(t *testing.T) {
	dir := t.TempDir()
	var names []string
	for i := range 6 {
		for _, n := range []string{fmt.Sprintf("d%d", i), fmt.Sprintf("d%d/e", i), fmt.Sprintf("d%d/e/f%d", i, i)} {
			must(t, os.MkdirAll(filepath.Join(dir, n), 0o755))
			names = append(names, n)
		}
	}
	must(t, os.WriteFile(filepath.Join(dir, "d0/e/file"), []byte("x"), 0o644))
	roots := []string{dir, bindMount(t, dir, false), bindMount(t, dir, false)}
	ls := make([]*efs.Local, len(roots))
	for i, r := range roots {
		l, err := efs.NewLocal(r)
		must(t, err)
		ls[i] = l
	}
	m, err := efs.NewMultiMount(context.Background(), ls, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	elsewhere := 0
	for _, n := range names {
		if m.MountFor(n) != 0 {
			elsewhere++
		}
	}
	if elsewhere == 0 {
		t.Fatalf("every test directory hashes to the first mount: the test proves nothing")
	}
	must(t, ls[1].Close())
	must(t, ls[2].Close())
	ctx := context.Background()
	for _, n := range append([]string{"."}, names...) {
		if _, err := m.ReadDir(ctx, n); err != nil {
			t.Errorf("ReadDir %s (its entries' mount: %d): %v", n, m.MountFor(n), err)
		}
	}
	ents, err := m.ReadDir(ctx, "d0/e")
	if err != nil || len(ents) != 2 {
		t.Errorf("ReadDir d0/e: %v, %v; want f0 and file", ents, err)
	}
}

// TestMultiMountRefusesOtherVolume: two different directories are refused with a
// clear error, and the probe file is gone from both.
func TestMultiMountRefusesOtherVolume(t *testing.T) {
	testutil.RequireRoot(t)
	a, b := t.TempDir(), t.TempDir()
	la, lb := newLocal(t, a), newLocal(t, b)
	_, err := efs.NewMultiMount(context.Background(), []*efs.Local{la, lb}, nil)
	if !errors.Is(err, efs.ErrNotSameVolume) {
		t.Fatalf("NewMultiMount(two directories) = %v, want ErrNotSameVolume", err)
	}
	t.Log(err)
	for _, d := range []string{a, b} {
		if ents, _ := os.ReadDir(d); len(ents) != 0 {
			t.Errorf("%s: probe left behind: %v", d, ents)
		}
	}
}

// lanesFS is a destination that says it has several mounts (as MultiMount does)
// and records the most creates in flight at once, each held for a while (a
// create's round trip).
type lanesFS struct {
	efs.FS
	lanes          int
	inFlight, most atomic.Int64
}

func (l *lanesFS) Mounts() int { return l.lanes }

func (l *lanesFS) Create(ctx context.Context, name string, attr efs.Attr) (io.WriteCloser, error) {
	n := l.inFlight.Add(1)
	defer l.inFlight.Add(-1)
	for {
		m := l.most.Load()
		if n <= m || l.most.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(20 * time.Millisecond) // long enough for every allowed create to overlap, even on a loaded machine
	return l.FS.Create(ctx, name, attr)
}

// The per-directory cap counts per destination mount: a flat directory through 4
// mounts has 4 locks, and gets 4 times the files in flight (with the cap per
// directory only, each mount's lock sat idle most of the time).
func TestCopyPerDirectoryCapPerMount(t *testing.T) {
	testutil.RequireRoot(t)
	for _, lanes := range []int{1, 4} {
		t.Run(fmt.Sprintf("%d mounts", lanes), func(t *testing.T) {
			srcDir, dstDir := t.TempDir(), t.TempDir()
			manyFiles(t, srcDir, 64, 1)
			dst := &lanesFS{FS: newLocalFS(t, dstDir), lanes: lanes}
			opts := copyOpts()
			opts.Workers, opts.PerDirectory = 32, 2
			rep, err := efs.Copy(context.Background(), newLocalFS(t, srcDir), dst, opts)
			must(t, err)
			if rep.Copied != 64 {
				t.Fatalf("copied %d files, want 64", rep.Copied)
			}
			if got, want := dst.most.Load(), int64(2*lanes); got != want {
				t.Fatalf("at most %d creates in flight in one directory, want %d (2 per mount, %d mounts)", got, want, lanes)
			}
			fi, err := os.Stat(filepath.Join(dstDir, "d000", "f00063"))
			must(t, err)
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != newUID || fi.Size() != 63%1024 {
				t.Fatalf("f00063: uid %d size %d", st.Uid, fi.Size())
			}
		})
	}
}
