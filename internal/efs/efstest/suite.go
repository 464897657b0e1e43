//go:build linux

package efstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/efs"
)

// NewFS returns a fresh, empty FS for one subtest, and the local path of its root
// ("" when the root is not visible on this machine; the on-disk checks are then
// skipped and only what the FS itself reports is checked). The FS is closed by the
// caller's t.Cleanup.
type NewFS func(t *testing.T) (fsys efs.FS, root string)

// Run runs every conformance subtest against FSs made by newFS.
func Run(t *testing.T, newFS NewFS) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Names", testNames},
		{"CreateExclusive", testCreateExclusive},
		{"CreateAttr", testCreateAttr},
		{"Mkdir", testMkdir},
		{"Symlink", testSymlink},
		{"Link", testLink},
		{"Rename", testRename},
		{"RenameAtomic", testRenameAtomic},
		{"Remove", testRemove},
		{"Setattr", testSetattr},
		{"SetattrSymlink", testSetattrSymlink},
		{"ReadDir", testReadDir},
		{"Open", testOpen},
		{"UnsafeNames", testUnsafeNames},
		{"SymlinkParent", testSymlinkParent},
		{"NotExist", testNotExist},
		{"Concurrent", testConcurrent},
		{"Canceled", testCanceled},
		{"MtimeRange", testMtimeRange},
		{"Xattrs", testXattrs},
		{"ZeroBlocks", testZeroBlocks},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys, root := newFS(t)
			e := &env{t: t, fs: fsys, root: root, feat: fsys.Features(), ctx: context.Background()}
			e.uid, e.gid = uint32(os.Getuid()), uint32(os.Getgid())
			e.root0 = os.Geteuid() == 0
			if e.root0 {
				// Root can give files away: use a Studio-like UID and another GID,
				// so a backend that ignores the owner is caught.
				e.uid, e.gid = 200001, 1001
			}
			tc.fn(t, e)
		})
	}
}

type env struct {
	t     *testing.T
	fs    efs.FS
	root  string
	feat  efs.Features
	ctx   context.Context
	uid   uint32
	gid   uint32
	root0 bool // running as root: ownership can be checked
}

// mtime is a modification time with nanoseconds, so that a backend storing less than
// it claims is caught.
var mtime = time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC)

func (e *env) attr(perm fs.FileMode) efs.Attr {
	return efs.Attr{UID: e.uid, GID: e.gid, Perm: perm, ModTime: mtime}
}

// want is what the FS must report for t: truncated to its granularity.
func (e *env) want(t time.Time) time.Time {
	if g := e.feat.TimeGranularity; g > 0 {
		return t.Truncate(g)
	}
	return t
}

func (e *env) disk(name string) string {
	if name == "." {
		return e.root
	}
	return filepath.Join(e.root, filepath.FromSlash(name))
}

// lstatDisk returns the on-disk lstat of name, or nil when the root is not visible.
func (e *env) lstatDisk(name string) (os.FileInfo, *syscall.Stat_t) {
	e.t.Helper()
	if e.root == "" {
		return nil, nil
	}
	fi, err := os.Lstat(e.disk(name))
	if err != nil {
		e.t.Fatalf("on disk: %v", err)
	}
	return fi, fi.Sys().(*syscall.Stat_t)
}

func (e *env) absentDisk(name string) {
	e.t.Helper()
	if e.root == "" {
		return
	}
	if _, err := os.Lstat(e.disk(name)); !errors.Is(err, fs.ErrNotExist) {
		e.t.Errorf("%s exists on disk (%v), want nothing", name, err)
	}
}

func (e *env) write(name string, data []byte, attr efs.Attr) {
	e.t.Helper()
	w, err := e.fs.Create(e.ctx, name, attr)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		e.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) mkdir(name string) {
	e.t.Helper()
	if err := e.fs.Mkdir(e.ctx, name, 0o755); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) symlink(target, name string) {
	e.t.Helper()
	if err := e.fs.Symlink(e.ctx, target, name); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) lstat(name string) efs.Info {
	e.t.Helper()
	inf, err := e.fs.Lstat(e.ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return inf
}

func (e *env) read(name string) []byte {
	e.t.Helper()
	r, err := e.fs.Open(e.ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// checkFile asserts name holds data with exactly attr, through the FS and on disk.
func (e *env) checkFile(name string, data []byte, attr efs.Attr) {
	e.t.Helper()
	inf := e.lstat(name)
	wantMT := e.want(attr.ModTime)
	if inf.Mode != attr.Perm || inf.Size != int64(len(data)) || !inf.ModTime.Equal(wantMT) || inf.UID != attr.UID || inf.GID != attr.GID {
		e.t.Errorf("Lstat(%q) = mode %v size %d mtime %v owner %d:%d; want %v %d %v %d:%d",
			name, inf.Mode, inf.Size, inf.ModTime, inf.UID, inf.GID, attr.Perm, len(data), wantMT, attr.UID, attr.GID)
	}
	if got := e.read(name); !bytes.Equal(got, data) {
		e.t.Errorf("Open(%q) read %d bytes, want %d", name, len(got), len(data))
	}
	fi, st := e.lstatDisk(name)
	if fi == nil {
		return
	}
	if fi.Mode() != attr.Perm || !fi.ModTime().Equal(wantMT) || st.Uid != attr.UID || st.Gid != attr.GID {
		e.t.Errorf("on disk %q: mode %v mtime %v owner %d:%d; want %v %v %d:%d",
			name, fi.Mode(), fi.ModTime(), st.Uid, st.Gid, attr.Perm, wantMT, attr.UID, attr.GID)
	}
	if got, err := os.ReadFile(e.disk(name)); err != nil || !bytes.Equal(got, data) {
		e.t.Errorf("on disk %q: %d bytes (%v), want %d", name, len(got), err, len(data))
	}
}

func isErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v, want %v", what, err, want)
	}
}

func testNames(t *testing.T, e *env) {
	names := []string{
		"new\nline",
		"bad\xff\xfeutf8",
		strings.Repeat("x", 255),
		"sp ace\ttab",
		"-dash",
		"ünïcødé",
		"back\\slash",
		"*?[glob]",
	}
	for _, d := range []string{"files", "dirs", "links"} {
		e.mkdir(d)
	}
	for i, n := range names {
		data := []byte(fmt.Sprintf("file %d", i))
		e.write("files/"+n, data, e.attr(0o644))
		e.checkFile("files/"+n, data, e.attr(0o644))
		e.mkdir("dirs/" + n)
		e.write("dirs/"+n+"/"+n, data, e.attr(0o644)) // a name below a name
		e.symlink(n, "links/"+n)
		if got, err := e.fs.Readlink(e.ctx, "links/"+n); err != nil || got != n {
			t.Errorf("Readlink(links/%q) = %q, %v", n, got, err)
		}
	}
	for _, d := range []string{"files", "dirs", "links"} {
		ents, err := e.fs.ReadDir(e.ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, en := range ents {
			got[en.Name] = true
		}
		for _, n := range names {
			if !got[n] {
				t.Errorf("ReadDir(%s) misses %q", d, n)
			}
		}
		if len(ents) != len(names) {
			t.Errorf("ReadDir(%s) returned %d entries, want %d", d, len(ents), len(names))
		}
	}
	// A component longer than 255 bytes is refused by the file system, not truncated.
	if _, err := e.fs.Create(e.ctx, strings.Repeat("y", 256), e.attr(0o644)); err == nil {
		t.Error("Create of a 256-byte name succeeded")
	}
}

func testCreateExclusive(t *testing.T, e *env) {
	e.write("f", []byte("first"), e.attr(0o644))
	if w, err := e.fs.Create(e.ctx, "f", e.attr(0o600)); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over a file = %v, want ErrExist", err)
		if w != nil {
			w.Close()
		}
	}
	e.mkdir("d")
	_, err := e.fs.Create(e.ctx, "d", e.attr(0o600))
	isErr(t, "Create over a directory", err, fs.ErrExist)
	// A dangling symlink is an existing name: its target must not be created.
	e.symlink("target", "dangling")
	_, err = e.fs.Create(e.ctx, "dangling", e.attr(0o600))
	isErr(t, "Create over a dangling symlink", err, fs.ErrExist)
	if _, err := e.fs.Lstat(e.ctx, "target"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Create followed a dangling symlink: Lstat(target) = %v", err)
	}
	e.absentDisk("target")
	e.checkFile("f", []byte("first"), e.attr(0o644))
}

func testCreateAttr(t *testing.T, e *env) {
	big := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstu\n"), 100_003) // ~3 MiB, not a block multiple
	cases := []struct {
		name string
		perm fs.FileMode
		data []byte
	}{
		{"plain", 0o644, []byte("hello")},
		{"private", 0o600, []byte("secret")},
		{"exec", 0o755, []byte("#!/bin/sh\n")},
		{"setuid", fs.ModeSetuid | 0o755, []byte("suid")}, // chown after chmod would clear it
		{"setgid", fs.ModeSetgid | 0o750, []byte("sgid")},
		{"sticky", fs.ModeSticky | 0o644, nil},
		{"allbits", fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o777, []byte("x")},
		{"none", 0, []byte("nothing")},
		{"empty", 0o644, nil},
		{"big", 0o640, big},
	}
	for _, c := range cases {
		e.write(c.name, c.data, e.attr(c.perm))
		e.checkFile(c.name, c.data, e.attr(c.perm))
	}
	// Many small writes, attributes applied only once, after the last one.
	w, err := e.fs.Create(e.ctx, "small-writes", e.attr(fs.ModeSetuid|0o700))
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(big); off += 1000 {
		if _, err := w.Write(big[off:min(off+1000, len(big))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	e.checkFile("small-writes", big, e.attr(fs.ModeSetuid|0o700))
}

func testMkdir(t *testing.T, e *env) {
	for name, perm := range map[string]fs.FileMode{
		"plain": 0o755, "private": 0o700, "setgid": fs.ModeSetgid | 0o775, "sticky": fs.ModeSticky | 0o777,
	} {
		if err := e.fs.Mkdir(e.ctx, name, perm); err != nil {
			t.Fatal(err)
		}
		if inf := e.lstat(name); inf.Mode != fs.ModeDir|perm {
			t.Errorf("Lstat(%s).Mode = %v, want %v", name, inf.Mode, fs.ModeDir|perm)
		}
		if fi, _ := e.lstatDisk(name); fi != nil && fi.Mode() != fs.ModeDir|perm {
			t.Errorf("on disk %s: %v, want %v", name, fi.Mode(), fs.ModeDir|perm)
		}
	}
	// Existing directory: no error, attributes left alone.
	if err := e.fs.Mkdir(e.ctx, "private", 0o777); err != nil {
		t.Errorf("Mkdir on an existing directory = %v", err)
	}
	if inf := e.lstat("private"); inf.Mode != fs.ModeDir|0o700 {
		t.Errorf("Mkdir changed an existing directory to %v", inf.Mode)
	}
	if err := e.fs.Mkdir(e.ctx, ".", 0o700); err != nil {
		t.Errorf("Mkdir(.) = %v, want nil (the root exists)", err)
	}
	e.mkdir("plain/sub")
	// Not a directory: a file or a symlink (even to a directory) is ErrExist.
	e.write("file", nil, e.attr(0o644))
	isErr(t, "Mkdir over a file", e.fs.Mkdir(e.ctx, "file", 0o755), fs.ErrExist)
	e.symlink("plain", "dirlink")
	isErr(t, "Mkdir over a symlink to a directory", e.fs.Mkdir(e.ctx, "dirlink", 0o755), fs.ErrExist)
	isErr(t, "Mkdir in a missing directory", e.fs.Mkdir(e.ctx, "missing/sub", 0o755), fs.ErrNotExist)
	// Concurrent Mkdir of one name: every caller succeeds.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.fs.Mkdir(e.ctx, "race", 0o755); err != nil {
				t.Errorf("concurrent Mkdir: %v", err)
			}
		}()
	}
	wg.Wait()
}

func testSymlink(t *testing.T, e *env) {
	e.mkdir("d")
	targets := map[string]string{
		"d/rel":      "../x/./y//z",
		"d/abs":      "/etc/passwd",
		"d/dangling": "no/such/target",
		"d/dot":      ".",
		"d/dotdot":   "..",
		"d/space":    "a b\tc\nd",
		"d/trailing": "dir/",
		"d/long":     strings.Repeat("t/", 500) + "end",
	}
	for name, target := range targets {
		e.symlink(target, name)
	}
	for name, target := range targets {
		if got, err := e.fs.Readlink(e.ctx, name); err != nil || got != target {
			t.Errorf("Readlink(%s) = %q, %v; want %q", name, got, err, target)
		}
		inf := e.lstat(name)
		if inf.Mode.Type() != fs.ModeSymlink || inf.Size != int64(len(target)) {
			t.Errorf("Lstat(%s) = %v size %d, want a symlink of size %d", name, inf.Mode, inf.Size, len(target))
		}
		if e.root != "" {
			if got, err := os.Readlink(e.disk(name)); err != nil || got != target {
				t.Errorf("on disk %s -> %q, %v; want %q", name, got, err, target)
			}
		}
	}
	isErr(t, "Symlink over an existing name", e.fs.Symlink(e.ctx, "x", "d/rel"), fs.ErrExist)
	if got, _ := e.fs.Readlink(e.ctx, "d/rel"); got != targets["d/rel"] {
		t.Errorf("Symlink over an existing name changed it to %q", got)
	}
	e.write("f", nil, e.attr(0o644))
	if _, err := e.fs.Readlink(e.ctx, "f"); err == nil {
		t.Error("Readlink of a regular file succeeded")
	}
	if _, err := e.fs.Readlink(e.ctx, "d"); err == nil {
		t.Error("Readlink of a directory succeeded")
	}
}

func testLink(t *testing.T, e *env) {
	e.write("f", []byte("linked"), e.attr(0o640))
	e.mkdir("d")
	err := e.fs.Link(e.ctx, "f", "d/h")
	if !e.feat.Hardlinks {
		isErr(t, "Link without Features.Hardlinks", err, efs.ErrNotSupported)
		if _, err := e.fs.Lstat(e.ctx, "d/h"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("an unsupported Link left %q: %v", "d/h", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	e.checkFile("d/h", []byte("linked"), e.attr(0o640))
	a, b := e.lstat("f"), e.lstat("d/h")
	if e.feat.Inodes {
		if a.Ino == 0 || a.Ino != b.Ino || a.Dev != b.Dev || a.Nlink != 2 || b.Nlink != 2 {
			t.Errorf("Lstat: f ino %d dev %d nlink %d, d/h ino %d dev %d nlink %d; want one inode, nlink 2",
				a.Ino, a.Dev, a.Nlink, b.Ino, b.Dev, b.Nlink)
		}
	} else if a.Ino != 0 || a.Nlink != 0 {
		t.Errorf("Features.Inodes is false but Lstat reports ino %d nlink %d", a.Ino, a.Nlink)
	}
	if _, sa := e.lstatDisk("f"); sa != nil {
		if _, sb := e.lstatDisk("d/h"); sa.Ino != sb.Ino || sa.Nlink != 2 {
			t.Errorf("on disk: ino %d vs %d, nlink %d", sa.Ino, sb.Ino, sa.Nlink)
		}
	}
	isErr(t, "Link over an existing name", e.fs.Link(e.ctx, "f", "d/h"), fs.ErrExist)
	isErr(t, "Link of a missing name", e.fs.Link(e.ctx, "missing", "d/h2"), fs.ErrNotExist)
	// A hardlink to a symlink links the symlink itself, never its target.
	e.symlink("f", "sl")
	if err := e.fs.Link(e.ctx, "sl", "sl2"); err == nil {
		if inf := e.lstat("sl2"); inf.Mode.Type() != fs.ModeSymlink {
			t.Errorf("Link of a symlink made a %v", inf.Mode)
		}
	}
}

func testRename(t *testing.T, e *env) {
	e.write("old", []byte("old contents"), e.attr(0o644))
	e.write("tmp", []byte("new"), e.attr(0o600))
	before := e.lstat("tmp")
	if err := e.fs.Rename(e.ctx, "tmp", "old"); err != nil {
		t.Fatalf("Rename over an existing file: %v", err)
	}
	e.checkFile("old", []byte("new"), e.attr(0o600))
	if after := e.lstat("old"); e.feat.Inodes && after.Ino != before.Ino {
		t.Errorf("Rename changed the inode: %d -> %d", before.Ino, after.Ino)
	}
	isErr(t, "Lstat of the renamed-away name", errOf(e.fs.Lstat(e.ctx, "tmp")), fs.ErrNotExist)
	e.absentDisk("tmp")

	// Across directories, a directory with its contents, a symlink as itself.
	e.mkdir("a")
	e.mkdir("b")
	e.write("a/f", []byte("f"), e.attr(0o644))
	if err := e.fs.Rename(e.ctx, "a/f", "b/g"); err != nil {
		t.Fatal(err)
	}
	e.checkFile("b/g", []byte("f"), e.attr(0o644))
	if err := e.fs.Rename(e.ctx, "b", "a/c"); err != nil {
		t.Fatal(err)
	}
	e.checkFile("a/c/g", []byte("f"), e.attr(0o644))
	e.symlink("a", "link")
	if err := e.fs.Rename(e.ctx, "link", "link2"); err != nil {
		t.Fatal(err)
	}
	if got, err := e.fs.Readlink(e.ctx, "link2"); err != nil || got != "a" {
		t.Errorf("renamed symlink -> %q, %v", got, err)
	}
	// A symlink replaced by a file: the link is replaced, its target untouched.
	e.write("tmp2", []byte("over the link"), e.attr(0o644))
	if err := e.fs.Rename(e.ctx, "tmp2", "link2"); err != nil {
		t.Fatal(err)
	}
	e.checkFile("link2", []byte("over the link"), e.attr(0o644))
	if inf := e.lstat("a"); !inf.Mode.IsDir() {
		t.Errorf("Rename over a symlink changed its target: %v", inf.Mode)
	}
	isErr(t, "Rename of a missing name", e.fs.Rename(e.ctx, "missing", "x"), fs.ErrNotExist)
}

// testRenameAtomic: while a name is replaced again and again, a reader always finds
// it, and always finds one complete version, never a mix or a missing file.
func testRenameAtomic(t *testing.T, e *env) {
	versions := [][]byte{bytes.Repeat([]byte("A"), 64<<10), bytes.Repeat([]byte("B"), 64<<10)}
	e.write("target", versions[0], e.attr(0o644))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	reads := 0
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			r, err := e.fs.Open(e.ctx, "target")
			if err != nil {
				t.Errorf("Open during renames: %v", err)
				return
			}
			b, err := io.ReadAll(r)
			r.Close()
			if err != nil {
				t.Errorf("reading during renames: %v", err)
				return
			}
			if !bytes.Equal(b, versions[0]) && !bytes.Equal(b, versions[1]) {
				t.Errorf("read a partial or mixed version (%d bytes)", len(b))
				return
			}
			reads++
		}
	}()
	for i := 1; i <= 40 && !t.Failed(); i++ {
		tmp := fmt.Sprintf("tmp%d", i)
		e.write(tmp, versions[i%2], e.attr(0o644))
		if err := e.fs.Rename(e.ctx, tmp, "target"); err != nil {
			t.Errorf("Rename: %v", err)
			break
		}
	}
	close(stop)
	wg.Wait()
	e.checkFile("target", versions[0], e.attr(0o644))
	t.Logf("%d reads during 40 renames", reads)
}

func testRemove(t *testing.T, e *env) {
	e.write("f", []byte("x"), e.attr(0o644))
	e.mkdir("d")
	e.write("d/keep", []byte("keep"), e.attr(0o644))
	e.symlink("d/keep", "link")
	e.symlink("d", "dirlink")
	e.mkdir("empty")
	for _, n := range []string{"f", "link", "dirlink", "empty"} {
		if err := e.fs.Remove(e.ctx, n); err != nil {
			t.Errorf("Remove(%s) = %v", n, err)
		}
		isErr(t, "Lstat after Remove("+n+")", errOf(e.fs.Lstat(e.ctx, n)), fs.ErrNotExist)
		e.absentDisk(n)
	}
	e.checkFile("d/keep", []byte("keep"), e.attr(0o644)) // a removed symlink's target stays
	if err := e.fs.Remove(e.ctx, "d"); err == nil {
		t.Error("Remove of a non-empty directory succeeded")
	}
	e.lstat("d/keep")
	isErr(t, "Remove of a missing name", e.fs.Remove(e.ctx, "missing"), fs.ErrNotExist)
	if err := e.fs.Remove(e.ctx, "."); err == nil {
		t.Error("Remove(.) succeeded")
	}
}

func testSetattr(t *testing.T, e *env) {
	a := e.attr(0o644)
	e.write("f", []byte("data"), a)
	other := efs.Attr{UID: e.uid, GID: e.gid, Perm: fs.ModeSetuid | fs.ModeSetgid | 0o750, ModTime: time.Date(2001, 2, 3, 4, 5, 6, 987654321, time.UTC)}
	if e.root0 {
		other.UID, other.GID = 300002, 3003
	}
	// Each part alone changes only that part.
	if err := e.fs.Setattr(e.ctx, "f", other, efs.SetOwner); err != nil {
		t.Fatal(err)
	}
	e.checkFile("f", []byte("data"), efs.Attr{UID: other.UID, GID: other.GID, Perm: a.Perm, ModTime: a.ModTime})
	if err := e.fs.Setattr(e.ctx, "f", other, efs.SetPerm); err != nil {
		t.Fatal(err)
	}
	e.checkFile("f", []byte("data"), efs.Attr{UID: other.UID, GID: other.GID, Perm: other.Perm, ModTime: a.ModTime})
	if err := e.fs.Setattr(e.ctx, "f", other, efs.SetTimes); err != nil {
		t.Fatal(err)
	}
	e.checkFile("f", []byte("data"), other)
	// All at once keeps setuid/setgid (chown before chmod).
	e.write("g", []byte("g"), e.attr(0o600))
	if err := e.fs.Setattr(e.ctx, "g", other, efs.SetAll); err != nil {
		t.Fatal(err)
	}
	e.checkFile("g", []byte("g"), other)
	// Directories, the root included.
	e.mkdir("d")
	dirAttr := other
	dirAttr.Perm = fs.ModeSetgid | fs.ModeSticky | 0o770
	for _, n := range []string{"d", "."} {
		if err := e.fs.Setattr(e.ctx, n, dirAttr, efs.SetAll); err != nil {
			t.Fatalf("Setattr(%s): %v", n, err)
		}
		inf := e.lstat(n)
		if inf.Mode != fs.ModeDir|dirAttr.Perm || inf.UID != dirAttr.UID || inf.GID != dirAttr.GID || !inf.ModTime.Equal(e.want(dirAttr.ModTime)) {
			t.Errorf("Lstat(%s) after Setattr = %+v", n, inf)
		}
	}
	if err := e.fs.Setattr(e.ctx, "d", dirAttr, 0); err != nil {
		t.Errorf("Setattr with an empty mask = %v", err)
	}
}

func testSetattrSymlink(t *testing.T, e *env) {
	e.write("target", []byte("t"), e.attr(0o644))
	e.symlink("target", "link")
	before := e.lstat("link")
	la := efs.Attr{UID: e.uid, GID: e.gid, Perm: 0o600, ModTime: time.Date(2002, 1, 1, 0, 0, 0, 5000, time.UTC)}
	if e.root0 {
		la.UID, la.GID = 400004, 4004
	}
	check := func(mask efs.SetMask, supported bool, what string) {
		t.Helper()
		err := e.fs.Setattr(e.ctx, "link", la, mask)
		if !supported {
			isErr(t, "Setattr("+what+") on a symlink without support", err, efs.ErrNotSupported)
			if inf := e.lstat("link"); inf.UID != before.UID || inf.GID != before.GID || !inf.ModTime.Equal(before.ModTime) {
				t.Errorf("an unsupported Setattr(%s) changed the link: %+v", what, inf)
			}
		} else if err != nil {
			t.Fatalf("Setattr(%s) on a symlink: %v", what, err)
		}
		// Never the target.
		e.checkFile("target", []byte("t"), e.attr(0o644))
	}
	check(efs.SetPerm, true, "perm") // ignored on a symlink, never an error
	if inf := e.lstat("link"); inf.Mode.Type() != fs.ModeSymlink {
		t.Errorf("link became %v", inf.Mode)
	}
	check(efs.SetOwner, e.feat.SymlinkOwner, "owner")
	if e.feat.SymlinkOwner {
		inf := e.lstat("link")
		if inf.UID != la.UID || inf.GID != la.GID {
			t.Errorf("symlink owner = %d:%d, want %d:%d", inf.UID, inf.GID, la.UID, la.GID)
		}
		if _, st := e.lstatDisk("link"); st != nil && (st.Uid != la.UID || st.Gid != la.GID) {
			t.Errorf("on disk symlink owner = %d:%d", st.Uid, st.Gid)
		}
	}
	check(efs.SetTimes, e.feat.SymlinkTimes, "times")
	if e.feat.SymlinkTimes {
		if inf := e.lstat("link"); !inf.ModTime.Equal(e.want(la.ModTime)) {
			t.Errorf("symlink mtime = %v, want %v", inf.ModTime, e.want(la.ModTime))
		}
		if fi, _ := e.lstatDisk("link"); fi != nil && !fi.ModTime().Equal(e.want(la.ModTime)) {
			t.Errorf("on disk symlink mtime = %v", fi.ModTime())
		}
	}
	check(efs.SetAll, e.feat.SymlinkOwner && e.feat.SymlinkTimes, "all")
	// An absolute link out of the root: following it would re-own a file elsewhere.
	if e.root != "" {
		outside := filepath.Join(t.TempDir(), "victim")
		if err := os.WriteFile(outside, []byte("v"), 0o644); err != nil {
			t.Fatal(err)
		}
		before, _ := os.Lstat(outside)
		e.symlink(outside, "abslink")
		e.fs.Setattr(e.ctx, "abslink", la, efs.SetAll)
		after, _ := os.Lstat(outside)
		bst, ast := before.Sys().(*syscall.Stat_t), after.Sys().(*syscall.Stat_t)
		if after.Mode() != before.Mode() || !after.ModTime().Equal(before.ModTime()) || ast.Uid != bst.Uid || ast.Gid != bst.Gid {
			t.Errorf("Setattr on a symlink changed its target outside the root: %v -> %v", before, after)
		}
	}
	// A dangling link: nothing may be created.
	e.symlink("nowhere", "dangling")
	e.fs.Setattr(e.ctx, "dangling", la, efs.SetAll)
	isErr(t, "Lstat(nowhere) after Setattr on a dangling link", errOf(e.fs.Lstat(e.ctx, "nowhere")), fs.ErrNotExist)
}

func testReadDir(t *testing.T, e *env) {
	e.mkdir("d")
	e.write("d/f", []byte("12345"), e.attr(0o640))
	e.mkdir("d/sub")
	e.symlink("f", "d/link")
	e.symlink("/nonexistent/outside", "d/out")
	ents, err := e.fs.ReadDir(e.ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name < ents[j].Name })
	var names []string
	for _, en := range ents {
		names = append(names, en.Name)
		want := e.lstat("d/" + en.Name)
		want.Name = en.Name
		if !en.ModTime.Equal(want.ModTime) {
			t.Errorf("ReadDir %s mtime %v, Lstat %v", en.Name, en.ModTime, want.ModTime)
		}
		en.ModTime, want.ModTime = time.Time{}, time.Time{}
		if en.Mode.IsDir() { // a directory's size and nlink are not part of the contract here
			en.Size, want.Size = 0, 0
		}
		if en != want {
			t.Errorf("ReadDir entry %+v, Lstat %+v", en, want)
		}
	}
	if strings.Join(names, ",") != "f,link,out,sub" {
		t.Fatalf("ReadDir names = %q", names)
	}
	if ents[0].Mode != 0o640 || ents[0].Size != 5 || ents[0].UID != e.uid || ents[0].GID != e.gid ||
		!ents[0].ModTime.Equal(e.want(mtime)) {
		t.Errorf("ReadDir file entry = %+v", ents[0])
	}
	if ents[1].Mode.Type() != fs.ModeSymlink || ents[1].Size != 1 || ents[2].Mode.Type() != fs.ModeSymlink {
		t.Errorf("ReadDir symlink entries = %+v, %+v (must describe the links, not follow them)", ents[1], ents[2])
	}
	if !ents[3].Mode.IsDir() {
		t.Errorf("ReadDir dir entry = %+v", ents[3])
	}
	if sub, err := e.fs.ReadDir(e.ctx, "d/sub"); err != nil || len(sub) != 0 {
		t.Errorf("ReadDir of an empty directory = %v, %v", sub, err)
	}
	if root, err := e.fs.ReadDir(e.ctx, "."); err != nil || len(root) != 1 || root[0].Name != "d" {
		t.Errorf("ReadDir(.) = %+v, %v", root, err)
	}
	if _, err := e.fs.ReadDir(e.ctx, "d/f"); err == nil {
		t.Error("ReadDir of a file succeeded")
	}
	if _, err := e.fs.ReadDir(e.ctx, "d/link"); err == nil {
		t.Error("ReadDir followed a symlink")
	}
	// Many entries (more than one getdents buffer / readdir batch).
	e.mkdir("many")
	for i := 0; i < 300; i++ {
		e.write(fmt.Sprintf("many/%03d-%s", i, strings.Repeat("n", 100)), nil, e.attr(0o644))
	}
	if m, err := e.fs.ReadDir(e.ctx, "many"); err != nil || len(m) != 300 {
		t.Errorf("ReadDir(many) = %d entries, %v", len(m), err)
	}
	if inf := e.lstat("."); !inf.Mode.IsDir() {
		t.Errorf("Lstat(.) = %v", inf.Mode)
	}
}

func testOpen(t *testing.T, e *env) {
	e.write("f", []byte("contents"), e.attr(0o600))
	e.mkdir("d")
	e.symlink("f", "link")
	if got := e.read("f"); string(got) != "contents" {
		t.Errorf("read %q", got)
	}
	if r, err := e.fs.Open(e.ctx, "link"); err == nil {
		r.Close()
		t.Error("Open followed a symlink")
	}
	if r, err := e.fs.Open(e.ctx, "d"); err == nil {
		r.Close()
		t.Error("Open of a directory succeeded")
	}
	isErr(t, "Open of a missing file", errOf(e.fs.Open(e.ctx, "missing")), fs.ErrNotExist)
	// Open does not change the file (atime aside) and many readers may share it.
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.fs.Open(e.ctx, "f")
			if err != nil {
				t.Error(err)
				return
			}
			defer r.Close()
			if b, err := io.ReadAll(r); err != nil || string(b) != "contents" {
				t.Errorf("concurrent read %q, %v", b, err)
			}
		}()
	}
	wg.Wait()
	e.checkFile("f", []byte("contents"), e.attr(0o600))
}

// unsafeNames must be refused by every operation with ErrUnsafePath.
var unsafeNames = []string{"../x", "../../etc/passwd", "/abs", "/", "a/../../x", "a/..", "..", "a\x00b", "a//b", "", "./a", "a/", "a/./b"}

func testUnsafeNames(t *testing.T, e *env) {
	e.mkdir("a")
	e.write("a/b", []byte("b"), e.attr(0o644))
	before := e.tree()
	attr := e.attr(0o777)
	for _, bad := range unsafeNames {
		q := fmt.Sprintf("%q", bad)
		check := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, efs.ErrUnsafePath) {
				t.Errorf("%s(%s) = %v, want ErrUnsafePath", op, q, err)
			}
		}
		check("Lstat", errOf(e.fs.Lstat(e.ctx, bad)))
		check("ReadDir", errOf(e.fs.ReadDir(e.ctx, bad)))
		check("Readlink", errOf(e.fs.Readlink(e.ctx, bad)))
		check("Open", errOf(e.fs.Open(e.ctx, bad)))
		w, err := e.fs.Create(e.ctx, bad, attr)
		check("Create", err)
		if w != nil {
			w.Close()
		}
		check("Mkdir", e.fs.Mkdir(e.ctx, bad, 0o777))
		check("Symlink", e.fs.Symlink(e.ctx, "a", bad))
		check("Link from", e.fs.Link(e.ctx, bad, "l"))
		check("Link to", e.fs.Link(e.ctx, "a/b", bad))
		check("Rename from", e.fs.Rename(e.ctx, bad, "r"))
		check("Rename to", e.fs.Rename(e.ctx, "a/b", bad))
		check("Remove", e.fs.Remove(e.ctx, bad))
		check("Setattr", e.fs.Setattr(e.ctx, bad, attr, efs.SetAll))
	}
	if after := e.tree(); after != before {
		t.Errorf("unsafe names changed the tree:\nbefore %s\nafter  %s", before, after)
	}
}

// tree describes everything under the root through the FS (names, types, modes,
// owners, sizes, mtimes), for before/after comparisons.
func (e *env) tree() string {
	e.t.Helper()
	var b strings.Builder
	var walk func(dir string)
	walk = func(dir string) {
		ents, err := e.fs.ReadDir(e.ctx, dir)
		if err != nil {
			e.t.Fatal(err)
		}
		sort.Slice(ents, func(i, j int) bool { return ents[i].Name < ents[j].Name })
		for _, en := range ents {
			name := en.Name
			if dir != "." {
				name = dir + "/" + name
			}
			fmt.Fprintf(&b, "%q %v %d:%d %d %d;", name, en.Mode, en.UID, en.GID, en.Size, en.ModTime.UnixNano())
			if en.Mode.IsDir() {
				walk(name)
			}
		}
	}
	walk(".")
	return b.String()
}

// testSymlinkParent: a symlink as a middle component is never followed, whether it
// points inside the root or outside it.
func testSymlinkParent(t *testing.T, e *env) {
	e.mkdir("real")
	e.write("real/f", []byte("inside"), e.attr(0o644))
	e.symlink("real", "in")
	outside := ""
	if e.root != "" {
		outside = t.TempDir()
		if err := os.WriteFile(filepath.Join(outside, "f"), []byte("outside"), 0o644); err != nil {
			t.Fatal(err)
		}
		e.symlink(outside, "out")
	}
	before := e.tree()
	attr := e.attr(0o777)
	attr.ModTime = time.Unix(12345, 0)
	for _, link := range []string{"in", "out"} {
		if link == "out" && outside == "" {
			continue
		}
		check := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, efs.ErrUnsafePath) {
				t.Errorf("%s through symlink %q = %v, want ErrUnsafePath", op, link, err)
			}
		}
		f := link + "/f"
		check("Lstat", errOf(e.fs.Lstat(e.ctx, f)))
		check("Open", errOf(e.fs.Open(e.ctx, f)))
		check("Readlink", errOf(e.fs.Readlink(e.ctx, f)))
		w, err := e.fs.Create(e.ctx, link+"/new", attr)
		check("Create", err)
		if w != nil {
			w.Close()
		}
		check("Mkdir", e.fs.Mkdir(e.ctx, link+"/newdir", 0o777))
		check("Symlink", e.fs.Symlink(e.ctx, "x", link+"/newlink"))
		check("Setattr", e.fs.Setattr(e.ctx, f, attr, efs.SetAll))
		check("Remove", e.fs.Remove(e.ctx, f))
		check("Rename from", e.fs.Rename(e.ctx, f, "stolen"))
		check("Rename to", e.fs.Rename(e.ctx, "real/f", link+"/moved"))
		if e.feat.Hardlinks {
			check("Link from", e.fs.Link(e.ctx, f, "hard"))
			check("Link to", e.fs.Link(e.ctx, "real/f", link+"/hard"))
		}
		if _, err := e.fs.ReadDir(e.ctx, link); err == nil {
			t.Errorf("ReadDir(%q) followed a symlink", link)
		}
	}
	if after := e.tree(); after != before {
		t.Errorf("operations through symlinks changed the tree:\nbefore %s\nafter  %s", before, after)
	}
	if outside != "" {
		ents, _ := os.ReadDir(outside)
		fi, err := os.Lstat(filepath.Join(outside, "f"))
		if len(ents) != 1 || err != nil || fi.Mode() != 0o644 || fi.ModTime().Equal(attr.ModTime) ||
			fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Getuid()) {
			t.Errorf("outside the root changed: %v, %v %v", ents, fi, err)
		}
		if b, _ := os.ReadFile(filepath.Join(outside, "f")); string(b) != "outside" {
			t.Errorf("outside file now holds %q", b)
		}
	}
}

func testNotExist(t *testing.T, e *env) {
	e.mkdir("d")
	attr := e.attr(0o644)
	for _, n := range []string{"missing", "d/missing", "missing/x"} {
		isErr(t, "Lstat("+n+")", errOf(e.fs.Lstat(e.ctx, n)), fs.ErrNotExist)
		isErr(t, "ReadDir("+n+")", errOf(e.fs.ReadDir(e.ctx, n)), fs.ErrNotExist)
		isErr(t, "Readlink("+n+")", errOf(e.fs.Readlink(e.ctx, n)), fs.ErrNotExist)
		isErr(t, "Open("+n+")", errOf(e.fs.Open(e.ctx, n)), fs.ErrNotExist)
		isErr(t, "Remove("+n+")", e.fs.Remove(e.ctx, n), fs.ErrNotExist)
		isErr(t, "Setattr("+n+")", e.fs.Setattr(e.ctx, n, attr, efs.SetAll), fs.ErrNotExist)
		isErr(t, "Setattr("+n+", owner and times)", e.fs.Setattr(e.ctx, n, attr, efs.SetOwner|efs.SetTimes), fs.ErrNotExist)
		isErr(t, "Link("+n+")", e.fs.Link(e.ctx, n, "d/l"), fs.ErrNotExist)
		isErr(t, "Rename("+n+")", e.fs.Rename(e.ctx, n, "d/x"), fs.ErrNotExist)
		if err := errOf(e.fs.Lstat(e.ctx, n)); err != nil && !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not name %q", err, n)
		}
	}
	isErr(t, "Create in a missing directory", errOf(e.fs.Create(e.ctx, "missing/f", attr)), fs.ErrNotExist)
	isErr(t, "Symlink in a missing directory", e.fs.Symlink(e.ctx, "x", "missing/l"), fs.ErrNotExist)
}

func testConcurrent(t *testing.T, e *env) {
	const workers, files = 8, 25
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir := fmt.Sprintf("w%d", w)
			for _, d := range []string{dir, "shared"} {
				if err := e.fs.Mkdir(e.ctx, d, 0o755); err != nil {
					t.Error(err)
					return
				}
			}
			for i := 0; i < files; i++ {
				for _, name := range []string{fmt.Sprintf("%s/f%d", dir, i), fmt.Sprintf("shared/%d-%d", w, i)} {
					wr, err := e.fs.Create(e.ctx, name+".tmp", e.attr(0o644))
					if err != nil {
						t.Error(err)
						return
					}
					if _, err := io.WriteString(wr, name); err != nil {
						t.Error(err)
					}
					if err := wr.Close(); err != nil {
						t.Error(err)
					}
					if err := e.fs.Rename(e.ctx, name+".tmp", name); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	shared, err := e.fs.ReadDir(e.ctx, "shared")
	if err != nil || len(shared) != workers*files {
		t.Fatalf("shared holds %d entries (%v), want %d", len(shared), err, workers*files)
	}
	for w := 0; w < workers; w++ {
		for i := 0; i < files; i++ {
			name := fmt.Sprintf("shared/%d-%d", w, i)
			e.checkFile(name, []byte(name), e.attr(0o644))
			name = fmt.Sprintf("w%d/f%d", w, i)
			if got := e.read(name); string(got) != name {
				t.Errorf("%s holds %q", name, got)
			}
		}
	}
}

// testCanceled: an operation under a canceled context fails and changes nothing.
func testCanceled(t *testing.T, e *env) {
	e.write("f", []byte("f"), e.attr(0o644))
	before := e.tree()
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	if w, err := e.fs.Create(ctx, "new", e.attr(0o644)); err == nil {
		w.Close()
		t.Error("Create under a canceled context succeeded")
	}
	for op, err := range map[string]error{
		"Mkdir":   e.fs.Mkdir(ctx, "newdir", 0o755),
		"Symlink": e.fs.Symlink(ctx, "f", "newlink"),
		"Rename":  e.fs.Rename(ctx, "f", "g"),
		"Remove":  e.fs.Remove(ctx, "f"),
		"Setattr": e.fs.Setattr(ctx, "f", e.attr(0o600), efs.SetAll),
	} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s under a canceled context = %v, want context.Canceled", op, err)
		}
	}
	if after := e.tree(); after != before {
		t.Errorf("canceled operations changed the tree:\nbefore %s\nafter  %s", before, after)
	}
}

// testMtimeRange: mtimes far from now are stored exactly (to the granularity), or
// refused with ErrNotSupported; never silently stored as another date.
func testMtimeRange(t *testing.T, e *env) {
	times := []time.Time{
		time.Unix(0, 0), // the epoch (tar archives without times)
		time.Date(2040, 1, 2, 3, 4, 5, 500, time.UTC),    // past 2038
		time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC),  // before the epoch
		time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC),      // past 2106 (unsigned 32-bit seconds)
		time.Date(1901, 12, 13, 20, 45, 52, 0, time.UTC), // the signed 32-bit minimum
	}
	for i, mt := range times {
		name := fmt.Sprintf("f%d", i)
		a := e.attr(0o644)
		a.ModTime = mt
		w, err := e.fs.Create(e.ctx, name, a)
		if err == nil {
			w.Write([]byte("x"))
			err = w.Close()
		}
		switch {
		case errors.Is(err, efs.ErrNotSupported):
			t.Logf("mtime %v: %v", mt, err)
		case err != nil:
			t.Errorf("Create with mtime %v: %v, want success or ErrNotSupported", mt, err)
		default:
			e.checkFile(name, []byte("x"), a)
		}
		// Setattr on an existing file: exact, or refused without a change.
		e.write(name+".s", nil, e.attr(0o644))
		err = e.fs.Setattr(e.ctx, name+".s", a, efs.SetTimes)
		switch {
		case errors.Is(err, efs.ErrNotSupported):
			e.checkFile(name+".s", nil, e.attr(0o644))
		case err != nil:
			t.Errorf("Setattr with mtime %v: %v, want success or ErrNotSupported", mt, err)
		default:
			e.checkFile(name+".s", nil, a)
		}
	}
}

func errOf[T any](_ T, err error) error { return err }
