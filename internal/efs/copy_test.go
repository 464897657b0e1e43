//go:build linux

package efs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

const (
	oldUID = 200001
	newUID = 200007
	srcGID = 1001
)

var (
	longName   = strings.Repeat("L", 255)
	oddNames   = []string{"new\nline", "bad\xffutf8", longName, " lead space", "-dash", ".hidden"}
	baseMtime  = time.Date(2024, 3, 1, 12, 30, 45, 123456789, time.UTC)
	setuidFile = "bin/tool"
)

// mtime returns a distinct mtime per index, with nanoseconds, so truncation bugs show.
func mtime(i int) time.Time { return baseMtime.Add(time.Duration(i)*time.Hour + time.Duration(i)*1111) }

// fixture is what buildTree made, for the checks.
type fixture struct {
	outside string // a directory outside the home that links point at
}

// buildTree writes a home directory owned by oldUID with every kind of entry the
// copier has to handle.
func buildTree(t *testing.T, dir string) fixture {
	t.Helper()
	testutil.RequireRoot(t)
	outside := filepath.Join(filepath.Dir(dir), "outside")
	must(t, os.MkdirAll(outside, 0o755))
	must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("outside secret"), 0o600))

	must(t, os.MkdirAll(dir, 0o750))
	for _, d := range []string{"a/b/c", "empty", "bin", "private", "names", "links"} {
		must(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	i := 0
	file := func(name string, data []byte, perm fs.FileMode) {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, data, 0o600))
		must(t, os.Chown(p, oldUID, srcGID))
		must(t, os.Chmod(p, perm)) // after chown, which clears setuid
		i++
		must(t, os.Chtimes(p, mtime(i), mtime(i)))
	}
	file("top.txt", []byte("top"), 0o644)
	file("a/one", bytes.Repeat([]byte("1"), 5000), 0o640)
	file("a/b/two", []byte("two"), 0o600)
	file("a/b/c/three", bytes.Repeat([]byte{0, 1, 2, 3}, 100000), 0o755)
	file("a/zero", nil, 0o644)
	file(setuidFile, []byte("#!/bin/sh\n"), 0o755|fs.ModeSetuid)
	file("bin/sgid", []byte("sgid"), 0o755|fs.ModeSetgid)
	file("private/key", []byte("k"), 0o400)
	for _, n := range oddNames {
		file("names/"+n, []byte("name "+n), 0o644)
	}
	must(t, os.Chmod(filepath.Join(dir, setuidFile), 0o755|os.ModeSetuid))
	must(t, os.Chmod(filepath.Join(dir, "bin/sgid"), 0o755|os.ModeSetgid))

	// Hardlinks: three names of one file, across directories.
	file("links/h1", []byte("hard"), 0o644)
	must(t, os.Link(filepath.Join(dir, "links/h1"), filepath.Join(dir, "links/h2")))
	must(t, os.Link(filepath.Join(dir, "links/h1"), filepath.Join(dir, "a/h3")))

	// Symlinks: relative, absolute outside, to a directory outside, dangling.
	link := func(target, name string) {
		p := filepath.Join(dir, name)
		must(t, os.Symlink(target, p))
		must(t, os.Lchown(p, oldUID, srcGID))
		i++
		ts := []unix.Timespec{unix.NsecToTimespec(mtime(i).UnixNano()), unix.NsecToTimespec(mtime(i).UnixNano())}
		must(t, unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW))
	}
	link("../top.txt", "links/rel")
	link(filepath.Join(outside, "secret"), "links/abs-outside")
	link(outside, "links/dir-outside")
	link("../../../../../etc/passwd", "links/dotdot")
	link("does/not/exist", "links/dangling")

	// Specials: skipped.
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	ln, err := net.Listen("unix", filepath.Join(dir, "sock"))
	must(t, err)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()

	// Directories last, deepest first, so their mtimes stay put.
	for _, d := range []string{"a/b/c", "a/b", "a", "empty", "bin", "private", "names", "links", "."} {
		p := filepath.Join(dir, d)
		must(t, os.Chown(p, oldUID, srcGID))
		i++
		must(t, os.Chtimes(p, mtime(i), mtime(i)))
	}
	must(t, os.Chmod(filepath.Join(dir, "private"), 0o700))
	must(t, os.Chmod(filepath.Join(dir, "a"), 0o775|os.ModeSetgid)) // setgid dir: kept
	return fixture{outside: outside}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type checkOpts struct {
	gran       time.Duration
	keepSetID  bool
	hardlinks  bool // hardlinks expected to be kept
	linkOwner  bool // symlink owner expected to be newUID
	linkTimes  bool
	specialsOK bool
}

// checkTree compares dst against src on disk: bytes, owners, modes, mtimes, link
// targets, hardlink identity, and that no special file or temp file is in dst.
func checkTree(t *testing.T, src, dst string, o checkOpts) {
	t.Helper()
	srcToDst := map[uint64]uint64{}
	n := 0
	err := filepath.WalkDir(src, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		q := filepath.Join(dst, rel)
		sfi, sst := lstatSys(t, p)
		switch sfi.Mode().Type() {
		case fs.ModeNamedPipe, fs.ModeSocket, fs.ModeDevice, fs.ModeCharDevice:
			if _, err := os.Lstat(q); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s: special file in destination (err %v)", rel, err)
			}
			return nil
		}
		n++
		dfi, err := os.Lstat(q)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		dst := dfi.Sys().(*syscall.Stat_t)
		if sfi.Mode().Type() != dfi.Mode().Type() {
			t.Errorf("%s: type %v, want %v", rel, dfi.Mode().Type(), sfi.Mode().Type())
			return nil
		}
		isLink := sfi.Mode()&fs.ModeSymlink != 0
		if !isLink || o.linkOwner {
			if dst.Uid != newUID || dst.Gid != sst.Gid {
				t.Errorf("%s: owner %d:%d, want %d:%d", rel, dst.Uid, dst.Gid, newUID, sst.Gid)
			}
		}
		wantMode := sfi.Mode()
		if sfi.Mode().IsRegular() && !o.keepSetID {
			wantMode &^= fs.ModeSetuid | fs.ModeSetgid
		}
		if !isLink && dfi.Mode() != wantMode {
			t.Errorf("%s: mode %v, want %v", rel, dfi.Mode(), wantMode)
		}
		if (!isLink || o.linkTimes) && !dfi.ModTime().Equal(sfi.ModTime().Truncate(o.gran)) {
			t.Errorf("%s: mtime %v, want %v", rel, dfi.ModTime(), sfi.ModTime().Truncate(o.gran))
		}
		switch {
		case isLink:
			st, _ := os.Readlink(p)
			dt, _ := os.Readlink(q)
			if st != dt {
				t.Errorf("%s: link target %q, want %q", rel, dt, st)
			}
		case sfi.Mode().IsRegular():
			sb, _ := os.ReadFile(p)
			db, _ := os.ReadFile(q)
			if !bytes.Equal(sb, db) {
				t.Errorf("%s: content differs (%d bytes, want %d)", rel, len(db), len(sb))
			}
			if sst.Nlink > 1 {
				if prev, ok := srcToDst[sst.Ino]; ok {
					if got := prev == dst.Ino; got != o.hardlinks {
						t.Errorf("%s: shares inode with its hardlink: %v, want %v", rel, got, o.hardlinks)
					}
				} else {
					srcToDst[sst.Ino] = dst.Ino
				}
			}
		}
		return nil
	})
	must(t, err)
	// Nothing in dst that src lacks, no temp files.
	must(t, filepath.WalkDir(dst, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(de.Name(), ".studio-migrator.") {
			t.Errorf("temp file left: %s", p)
		}
		rel, _ := filepath.Rel(dst, p)
		if _, err := os.Lstat(filepath.Join(src, rel)); err != nil {
			t.Errorf("%s: in destination only", rel)
		}
		return nil
	}))
	if n < 10 {
		t.Fatalf("checked only %d entries", n)
	}
}

func newLocalFS(t testing.TB, dir string) *efs.Local {
	t.Helper()
	l, err := efs.NewLocal(dir)
	must(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// homes returns a source home with the fixture and a prepared, empty destination.
func homes(t *testing.T) (srcDir, dstDir string, fx fixture) {
	t.Helper()
	base := t.TempDir()
	srcDir = filepath.Join(base, "old", fmt.Sprint(oldUID))
	fx = buildTree(t, srcDir)
	must(t, os.MkdirAll(filepath.Join(base, "new"), 0o755))
	parent := newLocalFS(t, filepath.Join(base, "new"))
	must(t, efs.PrepareDest(context.Background(), parent, fmt.Sprint(newUID), newUID, srcGID, false))
	return srcDir, filepath.Join(base, "new", fmt.Sprint(newUID)), fx
}

func copyOpts() efs.CopyOptions { return efs.CopyOptions{UID: newUID, Workers: 8} }

func TestCopyLocalToLocal(t *testing.T) {
	srcDir, dstDir, fx := homes(t)
	ctx := context.Background()
	src, dst := newLocalFS(t, srcDir), newLocalFS(t, dstDir)
	spy := &openSpy{FS: src}
	rep, err := efs.Copy(ctx, spy, dst, copyOpts())
	if err != nil {
		t.Fatalf("copy: %v (%+v)", err, rep)
	}
	checkTree(t, srcDir, dstDir, checkOpts{gran: time.Nanosecond, hardlinks: true, linkOwner: true, linkTimes: true})
	// Symlinks were read with Readlink only; their targets never opened or listed.
	for _, name := range spy.names() {
		if strings.HasPrefix(name, "links/") && name != "links/h1" && name != "links/h2" || name == "fifo" || name == "sock" {
			t.Errorf("copier opened or listed %q", name)
		}
	}

	if rep.StrippedSetID != 2 || rep.Specials != 2 || rep.Hardlinks != 2 || rep.Symlinks != 5 || rep.Errors != 0 {
		t.Errorf("report: stripped %d specials %d hardlinks %d symlinks %d errors %d", rep.StrippedSetID, rep.Specials, rep.Hardlinks, rep.Symlinks, rep.Errors)
	}
	if rep.Files != 17 || rep.Dirs != 8 || rep.Copied != rep.Files-rep.Hardlinks+rep.Symlinks {
		t.Errorf("report: files %d dirs %d copied %d", rep.Files, rep.Dirs, rep.Copied)
	}
	// Links were never followed: the outside secret is untouched and not copied.
	if entries, _ := os.ReadDir(fx.outside); len(entries) != 1 {
		t.Errorf("outside dir changed: %v", entries)
	}
	if fi, _ := os.Lstat(filepath.Join(dstDir, "links/dir-outside")); fi == nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("links/dir-outside is not a symlink in the destination: %v", fi)
	}

	vr, err := efs.Verify(ctx, src, dst, efs.VerifyOptions{UID: newUID, Checksum: true})
	if err != nil {
		t.Fatalf("verify: %v %+v", err, vr.List)
	}
	if vr.Files != 17 || vr.Checksummed != 17-0 || vr.Bytes != rep.Bytes {
		t.Errorf("verify counts: %+v", vr)
	}

	// A rerun writes nothing.
	rep2, err := efs.Copy(ctx, src, dst, copyOpts())
	must(t, err)
	if rep2.Copied != 0 || rep2.CopiedBytes != 0 || rep2.MetadataFixed != 0 || rep2.Hardlinks != 0 {
		t.Errorf("rerun wrote: %+v", rep2)
	}
	if want := rep.Files + rep.Symlinks + rep.Dirs; rep2.Unchanged != want {
		t.Errorf("rerun unchanged %d, want %d", rep2.Unchanged, want)
	}
	checkTree(t, srcDir, dstDir, checkOpts{gran: time.Nanosecond, hardlinks: true, linkOwner: true, linkTimes: true})
}

func TestCopyKeepSetIDAndGID(t *testing.T) {
	srcDir, dstDir, _ := homes(t)
	gid := uint32(4242)
	opts := copyOpts()
	opts.KeepSetID = true
	opts.GID = &gid
	rep, err := efs.Copy(context.Background(), newLocalFS(t, srcDir), newLocalFS(t, dstDir), opts)
	must(t, err)
	if rep.StrippedSetID != 0 {
		t.Errorf("stripped %d with KeepSetID", rep.StrippedSetID)
	}
	fi, st := lstatSys(t, filepath.Join(dstDir, setuidFile))
	if fi.Mode()&fs.ModeSetuid == 0 || st.Uid != newUID || st.Gid != gid {
		t.Errorf("%s: mode %v owner %d:%d", setuidFile, fi.Mode(), st.Uid, st.Gid)
	}
	if fi, _ := lstatSys(t, filepath.Join(dstDir, "a")); fi.Mode()&fs.ModeSetgid == 0 {
		t.Errorf("setgid dir lost its bit: %v", fi.Mode())
	}
}

func TestCopyResumeFixesOnlyDifferences(t *testing.T) {
	srcDir, dstDir, _ := homes(t)
	ctx := context.Background()
	src, dst := newLocalFS(t, srcDir), newLocalFS(t, dstDir)
	_, err := efs.Copy(ctx, src, dst, copyOpts())
	must(t, err)

	// Metadata-only differences: owner and mode.
	must(t, os.Chown(filepath.Join(dstDir, "top.txt"), 1234, srcGID))
	must(t, os.Chmod(filepath.Join(dstDir, "a/one"), 0o666))
	// Content difference: new data and mtime in the source.
	must(t, os.WriteFile(filepath.Join(srcDir, "a/b/two"), []byte("TWO!"), 0o600))
	// Type difference: a directory where the source has a file.
	must(t, os.Remove(filepath.Join(dstDir, "a/zero")))
	must(t, os.MkdirAll(filepath.Join(dstDir, "a/zero/sub"), 0o755))
	// Leftover of an interrupted run; an extra file the source does not have.
	must(t, os.WriteFile(filepath.Join(dstDir, "a/.studio-migrator.one.0123456789abcdef.tmp"), []byte("partial"), 0o600))
	must(t, os.WriteFile(filepath.Join(dstDir, "extra"), []byte("x"), 0o600))
	// Retargeted symlink.
	must(t, os.Remove(filepath.Join(dstDir, "links/rel")))
	must(t, os.Symlink("elsewhere", filepath.Join(dstDir, "links/rel")))

	rep, err := efs.Copy(ctx, src, dst, copyOpts())
	must(t, err)
	if rep.MetadataFixed != 2 || rep.Copied != 3 || rep.CopiedBytes != 4 || rep.TempRemoved != 1 || rep.Extra != 1 {
		t.Errorf("rerun: fixed %d copied %d bytes %d temp %d extra %d", rep.MetadataFixed, rep.Copied, rep.CopiedBytes, rep.TempRemoved, rep.Extra)
	}
	if _, err := os.Lstat(filepath.Join(dstDir, "extra")); err != nil {
		t.Errorf("extra file not left alone: %v", err)
	}

	// Delete removes extras, directories with their content too.
	must(t, os.MkdirAll(filepath.Join(dstDir, "gone/deep"), 0o755))
	opts := copyOpts()
	opts.Delete = true
	rep, err = efs.Copy(ctx, src, dst, opts)
	must(t, err)
	if rep.Deleted != 2 || rep.Copied != 0 {
		t.Errorf("deleted %d (want 2), copied %d", rep.Deleted, rep.Copied)
	}
	checkTree(t, srcDir, dstDir, checkOpts{gran: time.Nanosecond, hardlinks: true, linkOwner: true, linkTimes: true})
}

// cancelFS cancels a context after n Creates, to interrupt a copy midway.
type cancelFS struct {
	efs.FS
	n      atomic.Int64
	after  int64
	cancel context.CancelFunc
}

func (c *cancelFS) Create(ctx context.Context, name string, attr efs.Attr) (io.WriteCloser, error) {
	if c.n.Add(1) == c.after {
		c.cancel()
	}
	return c.FS.Create(ctx, name, attr)
}

// manyFiles writes n small files in dirs directories, owned by oldUID.
func manyFiles(t testing.TB, dir string, n, dirs int) {
	for d := range dirs {
		must(t, os.MkdirAll(filepath.Join(dir, fmt.Sprintf("d%03d", d)), 0o755))
	}
	data := bytes.Repeat([]byte("x"), 1024)
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("d%03d/f%05d", i%dirs, i))
		must(t, os.WriteFile(p, data[:i%1024], 0o644))
		must(t, os.Chown(p, oldUID, srcGID))
	}
}

func TestCopyResumeAfterCancel(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	srcDir, dstDir := filepath.Join(base, "src"), filepath.Join(base, "dst")
	manyFiles(t, srcDir, 2000, 20)
	must(t, os.Mkdir(dstDir, 0o700))
	src, dst := newLocalFS(t, srcDir), newLocalFS(t, dstDir)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := efs.Copy(ctx, src, &cancelFS{FS: dst, after: 500, cancel: cancel}, copyOpts())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted copy: err %v", err)
	}
	if rep.Copied == 0 || rep.Copied >= 2000 {
		t.Fatalf("interrupted copy copied %d files", rep.Copied)
	}
	first := rep.Copied
	rep, err = efs.Copy(context.Background(), src, dst, copyOpts())
	must(t, err)
	if rep.Copied+rep.Unchanged < 2000 || rep.Copied > 2000-first+10 {
		t.Errorf("resume copied %d, unchanged %d after %d", rep.Copied, rep.Unchanged, first)
	}
	vr, err := efs.Verify(context.Background(), src, dst, efs.VerifyOptions{UID: newUID, Checksum: true})
	if err != nil {
		t.Fatalf("verify after resume: %v %+v", err, vr.List)
	}
	checkTree(t, srcDir, dstDir, checkOpts{gran: time.Nanosecond, hardlinks: true, linkOwner: true, linkTimes: true})
}

type mkdirCancelFS struct {
	efs.FS
	n      atomic.Int64
	after  int64
	cancel context.CancelFunc
}

func (c *mkdirCancelFS) Mkdir(ctx context.Context, name string, perm fs.FileMode) error {
	if c.n.Add(1) == c.after {
		c.cancel()
	}
	return c.FS.Mkdir(ctx, name, perm)
}

// A copy cancelled while a wide level's subdirectories are being made (before their
// walks start) returns instead of waiting for walks that will never run, and a
// rerun finishes the tree.
func TestCopyCancelDuringWideLevel(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	srcDir, dstDir := filepath.Join(base, "src"), filepath.Join(base, "dst")
	for i := range 30 {
		manyFiles(t, filepath.Join(srcDir, fmt.Sprintf("w%02d", i)), 30, 30)
	}
	must(t, os.Mkdir(dstDir, 0o700))
	src, dst := newLocalFS(t, srcDir), newLocalFS(t, dstDir)
	for _, after := range []int64{5, 31, 200, 500} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := efs.Copy(ctx, src, &mkdirCancelFS{FS: dst, after: after, cancel: cancel}, efs.CopyOptions{UID: newUID, Workers: 2})
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled after %d mkdirs: err %v", after, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("copy cancelled after %d mkdirs did not return", after)
		}
		cancel()
	}
	if _, err := efs.Copy(context.Background(), src, dst, copyOpts()); err != nil {
		t.Fatal(err)
	}
	checkTree(t, srcDir, dstDir, checkOpts{gran: time.Nanosecond, hardlinks: true, linkOwner: true, linkTimes: true})
}

func TestVerifyFindsDifferences(t *testing.T) {
	srcDir, dstDir, _ := homes(t)
	ctx := context.Background()
	src, dst := newLocalFS(t, srcDir), newLocalFS(t, dstDir)
	_, err := efs.Copy(ctx, src, dst, copyOpts())
	must(t, err)

	// Same size and mtime, different bytes: only a checksum sees it.
	p := filepath.Join(dstDir, "top.txt")
	fi, _ := os.Stat(p)
	must(t, os.WriteFile(p, []byte("TOP"), 0o644))
	must(t, os.Chtimes(p, fi.ModTime(), fi.ModTime()))
	must(t, os.Remove(filepath.Join(dstDir, "a/b/two")))
	must(t, os.Chmod(filepath.Join(dstDir, "a/one"), 0o600))
	must(t, os.Remove(filepath.Join(dstDir, "links/rel")))
	must(t, os.Symlink("wrong", filepath.Join(dstDir, "links/rel")))
	must(t, os.Lchown(filepath.Join(dstDir, "links/rel"), newUID, srcGID))
	must(t, os.WriteFile(filepath.Join(dstDir, ".studio-migrator.x.0123456789abcdef.tmp"), nil, 0o600))
	must(t, os.Remove(filepath.Join(dstDir, "links/h2")))
	must(t, os.WriteFile(filepath.Join(dstDir, "links/h2"), []byte("hard"), 0o644))

	vr, err := efs.Verify(ctx, src, dst, efs.VerifyOptions{UID: newUID, Checksum: true})
	if !errors.Is(err, efs.ErrDifferences) {
		t.Fatalf("verify: %v", err)
	}
	got := map[string]bool{}
	for _, d := range vr.List {
		got[d.Path+" "+d.What] = true
	}
	for _, want := range []string{"top.txt content", "a/b/two missing", "a/one mode", "links/rel target",
		".studio-migrator.x.0123456789abcdef.tmp leftover-temp"} {
		if !got[want] {
			t.Errorf("verify did not report %q; got %v", want, got)
		}
	}
	hl := false
	for k := range got {
		hl = hl || strings.HasSuffix(k, " hardlink")
	}
	if !hl {
		t.Errorf("verify did not report the broken hardlink; got %v", got)
	}
	// Without checksums the content change is invisible.
	vr, _ = efs.Verify(ctx, src, dst, efs.VerifyOptions{UID: newUID})
	for _, d := range vr.List {
		if d.What == "content" {
			t.Errorf("content compared without Checksum: %+v", d)
		}
	}
}

func TestPrepareDest(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	base := t.TempDir()
	parent := newLocalFS(t, base)

	// Missing: created 0700, owned by the new UID.
	must(t, efs.PrepareDest(ctx, parent, "200007", newUID, srcGID, false))
	fi, st := lstatSys(t, filepath.Join(base, "200007"))
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 || st.Uid != newUID || st.Gid != srcGID {
		t.Errorf("created %v %d:%d", fi.Mode(), st.Uid, st.Gid)
	}
	// Existing and ours, or empty: accepted.
	must(t, efs.PrepareDest(ctx, parent, "200007", newUID, srcGID, false))
	must(t, os.Mkdir(filepath.Join(base, "empty"), 0o755))
	must(t, os.Chown(filepath.Join(base, "empty"), 300000, 300000))
	must(t, efs.PrepareDest(ctx, parent, "empty", newUID, srcGID, false))

	// Someone else's home with content: refused, nothing written.
	other := filepath.Join(base, "other")
	must(t, os.Mkdir(other, 0o755))
	must(t, os.WriteFile(filepath.Join(other, "theirs"), []byte("x"), 0o644))
	must(t, os.Chown(other, 300000, 300000))
	before, _ := os.Lstat(other)
	err := efs.PrepareDest(ctx, parent, "other", newUID, srcGID, false)
	if !errors.Is(err, efs.ErrDestinationInUse) {
		t.Fatalf("other's home: %v", err)
	}
	after, st := lstatSys(t, other)
	if st.Uid != 300000 || !after.ModTime().Equal(before.ModTime()) || after.Mode() != before.Mode() {
		t.Errorf("refused destination was changed")
	}
	must(t, efs.PrepareDest(ctx, parent, "other", newUID, srcGID, true)) // merge

	// A root-owned folder with content (the EFS root given instead of /<newUID>):
	// refused, its owner untouched; an empty root-owned one (an admin's mkdir) is fine.
	efsRoot := filepath.Join(base, "efs-root")
	must(t, os.MkdirAll(filepath.Join(efsRoot, "200001"), 0o755))
	err = efs.PrepareDest(ctx, parent, "efs-root", newUID, srcGID, false)
	if !errors.Is(err, efs.ErrDestinationInUse) || !strings.Contains(err.Error(), "EFS root") {
		t.Fatalf("root-owned folder with content: %v", err)
	}
	if _, st := lstatSys(t, efsRoot); st.Uid != 0 {
		t.Errorf("refused root-owned destination was re-owned to %d", st.Uid)
	}
	must(t, os.Mkdir(filepath.Join(base, "admin-mkdir"), 0o755))
	must(t, efs.PrepareDest(ctx, parent, "admin-mkdir", newUID, srcGID, false))

	// Bad names and a symlink in place of the home.
	for _, n := range []string{"..", "a/b", "/abs", ""} {
		if err := efs.PrepareDest(ctx, parent, n, newUID, srcGID, false); err == nil {
			t.Errorf("PrepareDest(%q) accepted", n)
		}
	}
	must(t, os.Symlink(other, filepath.Join(base, "link")))
	if err := efs.PrepareDest(ctx, parent, "link", newUID, srcGID, false); err == nil {
		t.Errorf("symlink accepted as destination")
	}
	if err := efs.PrepareDest(ctx, parent, "x", 0, 0, false); err == nil {
		t.Errorf("uid 0 accepted")
	}
}

func TestCopyRefusesUIDZero(t *testing.T) {
	d := t.TempDir()
	if _, err := efs.Copy(context.Background(), newLocalFS(t, d), newLocalFS(t, d), efs.CopyOptions{}); err == nil {
		t.Fatal("Copy with UID 0 accepted")
	}
	if _, err := efs.Verify(context.Background(), newLocalFS(t, d), newLocalFS(t, d), efs.VerifyOptions{}); err == nil {
		t.Fatal("Verify with UID 0 accepted")
	}
}

func TestCopyMissingSource(t *testing.T) {
	base := t.TempDir()
	src := newLocalFS(t, filepath.Join(base))
	must(t, os.Mkdir(filepath.Join(base, "dst"), 0o700))
	dst := newLocalFS(t, filepath.Join(base, "dst"))
	// A source root that vanished after it was opened.
	srcDir := filepath.Join(base, "gone")
	must(t, os.Mkdir(srcDir, 0o700))
	gone := newLocalFS(t, srcDir)
	must(t, os.Remove(srcDir))
	if _, err := efs.NewLocal(srcDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("NewLocal on a missing directory: %v", err)
	}
	_, err := efs.Copy(context.Background(), gone, dst, copyOpts())
	if err == nil {
		t.Fatalf("vanished source: no error")
	}
	_ = src
	if entries, _ := os.ReadDir(filepath.Join(base, "dst")); len(entries) != 0 {
		t.Errorf("destination written: %v", entries)
	}
}

// TestCopyReplacesPlantedSymlink: a symlink in the destination where the source has
// a directory (or a file) is replaced, never followed, so nothing is written
// through it outside the destination.
func TestCopyReplacesPlantedSymlink(t *testing.T) {
	srcDir, dstDir, fx := homes(t)
	must(t, os.Symlink(fx.outside, filepath.Join(dstDir, "a")))
	must(t, os.Symlink(filepath.Join(fx.outside, "secret"), filepath.Join(dstDir, "top.txt")))
	_, err := efs.Copy(context.Background(), newLocalFS(t, srcDir), newLocalFS(t, dstDir), copyOpts())
	must(t, err)
	entries, _ := os.ReadDir(fx.outside)
	if len(entries) != 1 {
		t.Errorf("written outside the destination: %v", entries)
	}
	if b, _ := os.ReadFile(filepath.Join(fx.outside, "secret")); string(b) != "outside secret" {
		t.Errorf("outside file changed: %q", b)
	}
	if _, st := lstatSys(t, filepath.Join(fx.outside, "secret")); st.Uid == newUID {
		t.Errorf("outside file chowned")
	}
	checkTree(t, srcDir, dstDir, checkOpts{gran: time.Nanosecond, hardlinks: true, linkOwner: true, linkTimes: true})
}

// noLinkOwnerFS is a destination that cannot own or time a symlink (SFTP without
// lsetstat@openssh.com).
type noLinkOwnerFS struct{ efs.FS }

func (f noLinkOwnerFS) Features() efs.Features {
	ft := f.FS.Features()
	ft.SymlinkOwner, ft.SymlinkTimes = false, false
	return ft
}

func TestCopyReportsLimitationAndProgress(t *testing.T) {
	srcDir, dstDir, _ := homes(t)
	var snaps []efs.Progress
	opts := copyOpts()
	opts.ProgressInterval = time.Millisecond
	opts.Progress = efs.ReporterFunc(func(p efs.Progress) { snaps = append(snaps, p) })
	rep, err := efs.Copy(context.Background(), newLocalFS(t, srcDir), noLinkOwnerFS{newLocalFS(t, dstDir)}, opts)
	must(t, err)
	if len(rep.Limitations) != 1 || !strings.Contains(rep.Limitations[0], "symlink") {
		t.Errorf("limitations: %q", rep.Limitations)
	}
	checkTree(t, srcDir, dstDir, checkOpts{gran: time.Nanosecond, hardlinks: true})
	if len(snaps) == 0 {
		t.Fatal("no progress")
	}
	last := snaps[len(snaps)-1]
	if !last.Done || last.Files != rep.Files || last.Bytes != rep.Bytes || last.CopiedBytes != rep.CopiedBytes {
		t.Errorf("last progress %+v, report %+v", last, rep)
	}
}

// openSpy records the names a copy opens or lists in the source.
type openSpy struct {
	efs.FS
	mu     sync.Mutex
	opened []string
}

func (s *openSpy) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.opened...)
}

func (s *openSpy) record(name string) {
	s.mu.Lock()
	s.opened = append(s.opened, name)
	s.mu.Unlock()
}

func (s *openSpy) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	s.record(name)
	return s.FS.Open(ctx, name)
}

func (s *openSpy) ReadDir(ctx context.Context, name string) ([]efs.Info, error) {
	if name != "." && name != "links" {
		s.record(name + "/")
	}
	return s.FS.ReadDir(ctx, name)
}

// TestCopyResumeDoesNotChownPlantedHardlink: a user of the new domain hardlinks a file
// from outside the home (another user's, root's) into the destination under a name the
// source has, with the same size and mtime (the source's owner controls those). The
// resume "metadata fix" must not chown or chmod the shared inode: the name is
// rewritten instead, and the outside file keeps its owner and mode.
func TestCopyResumeDoesNotChownPlantedHardlink(t *testing.T) {
	srcDir, dstDir, fx := homes(t)
	secret := filepath.Join(fx.outside, "secret")
	// The source file mimics the outside file: same size, same mtime.
	src := filepath.Join(srcDir, "top.txt")
	must(t, os.WriteFile(src, []byte("outside SECRET"), 0o644))
	must(t, os.Chown(src, oldUID, srcGID))
	must(t, os.Chmod(src, 0o644))
	st, _ := lstatSys(t, secret)
	must(t, os.Chtimes(src, st.ModTime(), st.ModTime()))
	must(t, os.Link(secret, filepath.Join(dstDir, "top.txt")))

	_, err := efs.Copy(context.Background(), newLocalFS(t, srcDir), newLocalFS(t, dstDir), copyOpts())
	must(t, err)
	_, sys := lstatSys(t, secret)
	if sys.Uid != 0 || sys.Mode&0o7777 != 0o600 {
		t.Errorf("outside file re-owned through a hardlink: uid %d mode %o", sys.Uid, sys.Mode&0o7777)
	}
	if b, _ := os.ReadFile(secret); string(b) != "outside secret" {
		t.Errorf("outside file changed: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dstDir, "top.txt")); string(b) != "outside SECRET" {
		t.Errorf("destination holds %q, not the source's data", b)
	}
	if _, d := lstatSys(t, filepath.Join(dstDir, "top.txt")); d.Uid != newUID || d.Nlink != 1 {
		t.Errorf("destination top.txt: uid %d nlink %d", d.Uid, d.Nlink)
	}
}

// TestCopyResumeDoesNotChownPlantedSymlinkHardlink: the same for a symlink: a hardlink
// to a symlink outside the destination, with the source's target, is recreated rather
// than re-owned in place (which would re-own the outside symlink too).
func TestCopyResumeDoesNotChownPlantedSymlinkHardlink(t *testing.T) {
	srcDir, dstDir, fx := homes(t)
	outLink := filepath.Join(fx.outside, "link")
	must(t, os.Symlink("secret", outLink))
	must(t, os.Remove(filepath.Join(srcDir, "top.txt")))
	must(t, os.Symlink("secret", filepath.Join(srcDir, "top.txt")))
	must(t, os.Lchown(filepath.Join(srcDir, "top.txt"), oldUID, srcGID))
	must(t, unix.Linkat(unix.AT_FDCWD, outLink, unix.AT_FDCWD, filepath.Join(dstDir, "top.txt"), 0))

	_, err := efs.Copy(context.Background(), newLocalFS(t, srcDir), newLocalFS(t, dstDir), copyOpts())
	must(t, err)
	if _, sys := lstatSys(t, outLink); sys.Uid != 0 {
		t.Errorf("outside symlink re-owned through a hardlink: uid %d", sys.Uid)
	}
	if _, d := lstatSys(t, filepath.Join(dstDir, "top.txt")); d.Uid != newUID || d.Nlink != 1 {
		t.Errorf("destination top.txt: uid %d nlink %d", d.Uid, d.Nlink)
	}
}

// TestCopyResumeSplitsBrokenHardlink: a hardlink group copied by an earlier run and
// broken in the source since (a name replaced by a copy with the same data and mtime,
// as cp -p does) is split in the destination too on the rerun, so Verify passes.
func TestCopyResumeSplitsBrokenHardlink(t *testing.T) {
	srcDir, dstDir, _ := homes(t)
	ctx := context.Background()
	src, dst := newLocalFS(t, srcDir), newLocalFS(t, dstDir)
	_, err := efs.Copy(ctx, src, dst, copyOpts())
	must(t, err)
	// Break links/h2 out of the group in the source, keeping data, owner and mtime.
	h2 := filepath.Join(srcDir, "links/h2")
	fi, _ := lstatSys(t, h2)
	must(t, os.Remove(h2))
	must(t, os.WriteFile(h2, []byte("hard"), 0o644))
	must(t, os.Chown(h2, oldUID, srcGID))
	must(t, os.Chtimes(h2, fi.ModTime(), fi.ModTime()))

	_, err = efs.Copy(ctx, src, dst, copyOpts())
	must(t, err)
	vr, err := efs.Verify(ctx, src, dst, efs.VerifyOptions{UID: newUID, Checksum: true})
	if err != nil {
		t.Fatalf("verify after rerun: %v %+v", err, vr.List)
	}
}

// swapFS swaps a destination directory for a hardlink to a file outside the home
// just before the copier applies that directory's attributes: a user of the new
// domain racing the copy in a home they can write to.
type swapFS struct {
	efs.FS
	dstDir, dir, outside string
	once                 sync.Once
}

func (f *swapFS) Setattr(ctx context.Context, name string, attr efs.Attr, mask efs.SetMask) error {
	if name == f.dir {
		f.once.Do(func() {
			p := filepath.Join(f.dstDir, f.dir)
			if err := os.Rename(p, p+".moved"); err == nil {
				os.Link(f.outside, p)
			}
		})
	}
	return f.FS.Setattr(ctx, name, attr, mask)
}

// TestCopyDirSwappedForHardlinkNotChowned: the directory's owner, mode and mtime
// must not land on the outside file, and the entry is reported as failed.
func TestCopyDirSwappedForHardlinkNotChowned(t *testing.T) {
	srcDir, dstDir, fx := homes(t)
	secret := filepath.Join(fx.outside, "secret")
	fi0, _ := lstatSys(t, secret)
	dst := &swapFS{FS: newLocalFS(t, dstDir), dstDir: dstDir, dir: "empty", outside: secret}
	rep, err := efs.Copy(context.Background(), newLocalFS(t, srcDir), dst, copyOpts())
	if !errors.Is(err, efs.ErrEntriesFailed) || rep == nil || rep.Errors != 1 {
		t.Errorf("copy: %v, report %+v; want one failed entry", err, rep)
	}
	fi, sys := lstatSys(t, secret)
	if sys.Uid != 0 || sys.Mode&0o7777 != 0o600 || !fi.ModTime().Equal(fi0.ModTime()) {
		t.Errorf("outside file changed through a swapped-in hardlink: uid %d mode %o mtime %v", sys.Uid, sys.Mode&0o7777, fi.ModTime())
	}
}

// TestRefusesLeaveUnchangedOwner: 4294967295 is chown's "leave unchanged"; as the new
// UID or GID every entry would stay root's. Copy, Verify and PrepareDest refuse it
// before touching anything.
func TestRefusesLeaveUnchangedOwner(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	base := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(base, "src"), 0o755))
	must(t, os.WriteFile(filepath.Join(base, "src", "f"), []byte("x"), 0o644))
	must(t, os.MkdirAll(filepath.Join(base, "dst"), 0o700))
	src, dst := newLocalFS(t, filepath.Join(base, "src")), newLocalFS(t, filepath.Join(base, "dst"))
	bad := uint32(4294967295)
	good := uint32(srcGID)
	for _, o := range []struct {
		uid uint32
		gid *uint32
	}{{bad, nil}, {newUID, &bad}, {bad, &good}} {
		if _, err := efs.Copy(ctx, src, dst, efs.CopyOptions{UID: o.uid, GID: o.gid}); !errors.Is(err, efs.ErrBadOwner) || !strings.Contains(err.Error(), "leave unchanged") {
			t.Errorf("Copy uid %d gid %v: %v", o.uid, o.gid, err)
		}
		if _, err := efs.Verify(ctx, src, dst, efs.VerifyOptions{UID: o.uid, GID: o.gid}); !errors.Is(err, efs.ErrBadOwner) {
			t.Errorf("Verify uid %d gid %v: %v", o.uid, o.gid, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(base, "dst", "f")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused copy wrote the file: %v", err)
	}
	parent := newLocalFS(t, base)
	for _, o := range [][2]uint32{{bad, srcGID}, {newUID, bad}} {
		if err := efs.PrepareDest(ctx, parent, "new", o[0], o[1], false); !errors.Is(err, efs.ErrBadOwner) {
			t.Errorf("PrepareDest %d:%d: %v", o[0], o[1], err)
		}
	}
	if _, err := os.Lstat(filepath.Join(base, "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused PrepareDest made the directory: %v", err)
	}
}
