//go:build linux

package efs_test

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
	"syscall"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

func newLocal(t testing.TB, root string) *efs.Local {
	t.Helper()
	l, err := efs.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestLocalNewLocal(t *testing.T) {
	dir := t.TempDir()
	if _, err := efs.NewLocal(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing root: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	if _, err := efs.NewLocal(filepath.Join(dir, "file")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file root: %v", err)
	}
	if _, err := efs.NewLocal(""); !errors.Is(err, efs.ErrUnsafePath) {
		t.Errorf("empty root: %v", err)
	}
	// A symlink in the root path itself is the administrator's choice: followed once.
	real := filepath.Join(dir, "real")
	os.Mkdir(real, 0o755)
	os.Symlink("real", filepath.Join(dir, "mnt"))
	l := newLocal(t, filepath.Join(dir, "mnt"))
	if l.Root() != real || l.String() != "local:"+real {
		t.Errorf("Root = %q, String = %q; want the resolved %q", l.Root(), l.String(), real)
	}
	writeFile(t, l, "x", []byte("x"), efs.Attr{Perm: 0o644})
	if b, err := os.ReadFile(filepath.Join(real, "x")); err != nil || string(b) != "x" {
		t.Errorf("through a symlinked root: %q, %v", b, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Lstat(context.Background(), "x"); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Lstat after Close: %v", err)
	}
}

// A symlink as a middle component is refused by every operation, whether it points
// inside or outside the root, and nothing happens outside.
func TestLocalSymlinkInMiddleComponent(t *testing.T) {
	testutil.RequireRoot(t)
	for _, mode := range []string{"openat2", "walk"} {
		t.Run(mode, func(t *testing.T) {
			root, outside := t.TempDir(), t.TempDir()
			secret := filepath.Join(outside, "secret")
			os.WriteFile(secret, []byte("s"), 0o600)
			os.Mkdir(filepath.Join(root, "in"), 0o755)
			os.WriteFile(filepath.Join(root, "in", "secret"), []byte("s"), 0o600)
			os.Symlink(outside, filepath.Join(root, "out"))
			os.Symlink("in", filepath.Join(root, "inlink"))
			os.Mkdir(filepath.Join(root, "d"), 0o755)
			os.Symlink("../out", filepath.Join(root, "d", "deep"))
			l := newLocal(t, root)
			if mode == "walk" {
				efs.LocalOldKernel(t, l)
			}
			ctx := context.Background()
			attr := efs.Attr{UID: 4242, GID: 4242, Perm: 0o4777, ModTime: time.Unix(1, 0)}
			before, _ := os.Lstat(secret)
			for _, link := range []string{"out", "inlink", "d/deep"} {
				name := link + "/secret"
				check := func(what string, err error) {
					t.Helper()
					if !errors.Is(err, efs.ErrUnsafePath) {
						t.Errorf("%s(%q) = %v, want ErrUnsafePath", what, name, err)
					} else if !strings.Contains(err.Error(), "symlink") || !strings.Contains(err.Error(), link+"/") {
						t.Errorf("%s(%q): unclear error %q", what, name, err)
					}
				}
				_, err := l.Lstat(ctx, name)
				check("Lstat", err)
				_, err = l.Open(ctx, name)
				check("Open", err)
				_, err = l.Readlink(ctx, name)
				check("Readlink", err)
				_, err = l.ReadDir(ctx, link+"/sub")
				check("ReadDir", err)
				_, err = l.Create(ctx, link+"/new", attr)
				check("Create", err)
				check("Mkdir", l.Mkdir(ctx, link+"/newdir", 0o755))
				check("Symlink", l.Symlink(ctx, "x", link+"/newlink"))
				check("Setattr", l.Setattr(ctx, name, attr, efs.SetAll))
				check("Remove", l.Remove(ctx, name))
				check("Rename", l.Rename(ctx, name, "stolen"))
				check("Rename to", l.Rename(ctx, "d", link+"/d"))
				check("Link", l.Link(ctx, name, "hard"))
				check("Link to", l.Link(ctx, "in/secret", link+"/hard"))
			}
			// The final component being a symlink: ReadDir and Open refuse, others act on the link.
			if _, err := l.ReadDir(ctx, "out"); err == nil {
				t.Error("ReadDir followed a symlink")
			}
			if _, err := l.Open(ctx, "inlink"); err == nil || !strings.Contains(err.Error(), "symlink") {
				t.Errorf("Open of a symlink: %v", err)
			}
			if err := l.Setattr(ctx, "out", attr, efs.SetAll); err != nil {
				t.Fatal(err)
			}
			after, _ := os.Lstat(secret)
			ents, _ := os.ReadDir(outside)
			if len(ents) != 1 || after.Mode() != before.Mode() || !after.ModTime().Equal(before.ModTime()) ||
				after.Sys().(*syscallStat).Uid != before.Sys().(*syscallStat).Uid {
				t.Errorf("outside changed: %v, %v -> %v", ents, before, after)
			}
			if fi, _ := os.Lstat(outside); fi.Sys().(*syscallStat).Uid == 4242 || fi.ModTime().Equal(time.Unix(1, 0)) {
				t.Error("Setattr on a symlink changed its target")
			}
			if fi, _ := os.Lstat(filepath.Join(root, "out")); fi.Sys().(*syscallStat).Uid != 4242 || !fi.ModTime().Equal(time.Unix(1, 0)) {
				t.Error("Setattr on a symlink did not change the link")
			}
		})
	}
}

// Open's reader and Create's writer copy through the kernel and still produce every byte.
func TestLocalCopyFastPath(t *testing.T) {
	src, dst := newLocal(t, t.TempDir()), newLocal(t, t.TempDir())
	data := bytes.Repeat([]byte("0123456789abcdef"), 300_001)
	attr := efs.Attr{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), Perm: 0o640, ModTime: time.Unix(1e9, 123456789)}
	writeFile(t, src, "f", data, attr)
	ctx := context.Background()
	// The copier relies on these to hit copy_file_range through a plain io.Copy.
	r, err := src.Open(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.(io.WriterTo); !ok {
		t.Error("Open's reader is not an io.WriterTo")
	}
	r.Close()
	w, err := dst.Create(ctx, "probe", attr)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.(io.ReaderFrom); !ok {
		t.Error("Create's writer is not an io.ReaderFrom")
	}
	w.Close()
	for i, how := range []string{"io.Copy", "os.File", "plain reader", "WriteTo plain writer"} {
		name := "f" + string(rune('a'+i))
		w, err := dst.Create(ctx, name, attr)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		switch how {
		case "io.Copy":
			r, _ := src.Open(ctx, "f")
			n, err = io.Copy(w, r)
			r.Close()
		case "os.File":
			f, _ := os.Open(filepath.Join(src.Root(), "f"))
			n, err = io.Copy(w, f)
			f.Close()
		case "plain reader":
			n, err = io.Copy(w, bytes.NewReader(data))
		case "WriteTo plain writer":
			r, _ := src.Open(ctx, "f")
			var buf bytes.Buffer
			_, err = io.Copy(&buf, r)
			r.Close()
			if err == nil {
				n, err = io.Copy(w, &buf)
			}
		}
		if err != nil || n != int64(len(data)) {
			t.Fatalf("%s: %d, %v", how, n, err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(filepath.Join(dst.Root(), name))
		fi, _ := os.Lstat(filepath.Join(dst.Root(), name))
		if !bytes.Equal(got, data) || fi.Mode() != 0o640 || !fi.ModTime().Equal(attr.ModTime) {
			t.Errorf("%s: %d bytes, mode %v, mtime %v", how, len(got), fi.Mode(), fi.ModTime())
		}
	}
}

type syscallStat = syscall.Stat_t

// Lstat and ReadDir report exactly what lstat(2) says, special files included.
func TestLocalInfoMatchesLstat(t *testing.T) {
	testutil.RequireRoot(t)
	root := t.TempDir()
	l := newLocal(t, root)
	p := func(n string) string { return filepath.Join(root, n) }
	os.WriteFile(p("suid"), []byte("abc"), 0o644)
	os.Chown(p("suid"), 200001, 1001) // before chmod: chown clears setuid/setgid
	syscall.Chmod(p("suid"), 0o6755)
	os.Chtimes(p("suid"), time.Unix(1, 2), time.Unix(1e9, 999999999))
	os.Link(p("suid"), p("hard"))
	os.Mkdir(p("sticky"), 0o755)
	syscall.Chmod(p("sticky"), 0o1777)
	syscall.Mkfifo(p("fifo"), 0o640)
	syscall.Mknod(p("null"), syscall.S_IFCHR|0o666, int(1<<8|3))
	os.Chmod(p("null"), 0o666) // past the umask
	os.Symlink("suid", p("link"))
	want := map[string]os.FileMode{
		"suid": os.ModeSetuid | os.ModeSetgid | 0o755, "hard": os.ModeSetuid | os.ModeSetgid | 0o755,
		"sticky": os.ModeDir | os.ModeSticky | 0o777, "fifo": os.ModeNamedPipe | 0o640,
		"null": os.ModeDevice | os.ModeCharDevice | 0o666, "link": os.ModeSymlink | 0o777,
	}
	ents, err := l.ReadDir(context.Background(), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != len(want) {
		t.Errorf("ReadDir: %d entries, want %d", len(ents), len(want))
	}
	for _, en := range ents {
		inf, err := l.Lstat(context.Background(), en.Name)
		if err != nil {
			t.Fatal(err)
		}
		inf.Name = en.Name
		if inf != en {
			t.Errorf("ReadDir %+v != Lstat %+v", en, inf)
		}
		fi, st := lstatSys(t, p(en.Name))
		exp := efs.Info{Name: en.Name, Mode: fi.Mode(), Size: fi.Size(), ModTime: fi.ModTime(), UID: st.Uid, GID: st.Gid,
			Dev: st.Dev, Ino: st.Ino, Nlink: st.Nlink}
		if en != exp || en.Mode != want[en.Name] {
			t.Errorf("entry %+v, want %+v (mode %v)", en, exp, want[en.Name])
		}
	}
	if inf, _ := l.Lstat(context.Background(), "suid"); inf.Nlink != 2 || inf.ModTime != time.Unix(1e9, 999999999) || inf.UID != 200001 {
		t.Errorf("suid: %+v", inf)
	}
	// Open refuses special files without blocking on the FIFO.
	for _, n := range []string{"fifo", "null", "sticky", "link"} {
		done := make(chan error, 1)
		go func() {
			r, err := l.Open(context.Background(), n)
			if err == nil {
				r.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), n) {
				t.Errorf("Open(%s) = %v, want an error naming it", n, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Open(%s) blocked", n)
		}
	}
}

// A directory swapped for a symlink to outside while operations run: no write ever
// lands outside, because each lookup refuses symlinks atomically.
func TestLocalSwapRace(t *testing.T) {
	testutil.RequireRoot(t)
	for _, mode := range []string{"openat2", "walk"} {
		t.Run(mode, func(t *testing.T) {
			root, outside := t.TempDir(), t.TempDir()
			l := newLocal(t, root)
			if mode == "walk" {
				efs.LocalOldKernel(t, l)
			}
			ctx := context.Background()
			os.Mkdir(filepath.Join(root, "d"), 0o755)
			os.Symlink(outside, filepath.Join(root, "link"))
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				d, link, tmp := filepath.Join(root, "d"), filepath.Join(root, "link"), filepath.Join(root, "tmp")
				for {
					select {
					case <-stop:
						return
					default:
					}
					// d <-> link, so "d" is a real directory half of the time.
					os.Rename(d, tmp)
					os.Rename(link, d)
					os.Rename(tmp, link)
				}
			}()
			attr := efs.Attr{UID: 4242, GID: 4242, Perm: 0o777, ModTime: time.Unix(7, 0)}
			deadline := time.Now().Add(300 * time.Millisecond)
			ok := 0
			for i := 0; time.Now().Before(deadline); i++ {
				name := fmt.Sprintf("d/f%d", i)
				if w, err := l.Create(ctx, name, attr); err == nil {
					w.Write([]byte("x"))
					w.Close()
					ok++
				}
				l.Mkdir(ctx, name+".dir", 0o777)
				l.Symlink(ctx, "/etc", name+".lnk")
				l.Setattr(ctx, "d/f0", attr, efs.SetAll)
			}
			close(stop)
			<-done
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Errorf("%d entries written outside the root (%d creates succeeded)", len(ents), ok)
			}
			if fi, st := lstatSys(t, outside); st.Uid == 4242 || fi.ModTime().Equal(time.Unix(7, 0)) {
				t.Error("the outside directory was re-owned or touched")
			}
			t.Logf("%d creates succeeded inside", ok)
		})
	}
}

// A Write or Read after Close fails instead of reaching a descriptor number the
// process has since reused for another file.
func TestLocalUseAfterClose(t *testing.T) {
	l := newLocal(t, t.TempDir())
	ctx := context.Background()
	attr := efs.Attr{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), Perm: 0o644, ModTime: time.Unix(1e9, 0)}
	w, err := l.Create(ctx, "f", attr)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("data"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	victim, err := l.Create(ctx, "victim", attr) // likely reuses the descriptor number
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("stray")); err == nil {
		t.Error("Write after Close succeeded")
	}
	victim.Close()
	r, err := l.Open(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := r.Read(make([]byte, 4)); err == nil {
		t.Error("Read after Close succeeded")
	}
	if b, _ := os.ReadFile(filepath.Join(l.Root(), "victim")); len(b) != 0 {
		t.Errorf("victim holds %q", b)
	}
}
