//go:build linux

package efs

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestLocalClearNonblock(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	if _, err := unix.Read(p[0], make([]byte, 1)); err != unix.EAGAIN {
		t.Fatalf("non-blocking read of an empty pipe = %v", err)
	}
	if !clearNonblock(p[0]) {
		t.Error("clearNonblock on a non-blocking descriptor = false")
	}
	if clearNonblock(p[0]) {
		t.Error("clearNonblock on a blocking descriptor = true (a retry loop would spin)")
	}
	if fl, _ := unix.FcntlInt(uintptr(p[0]), unix.F_GETFL, 0); fl&unix.O_NONBLOCK != 0 {
		t.Error("still O_NONBLOCK")
	}
}

func TestValidFSName(t *testing.T) {
	for name, want := range map[string]bool{
		".": true, "a": true, "a/b": true, "bad\xff": true, "new\nline": true, "...": true, "a/.b": true,
		"": false, "/": false, "/a": false, "a/": false, "a//b": false, "./a": false, "a/.": false,
		"..": false, "a/../b": false, "a\x00b": false,
	} {
		if got := validFSName(name); got != want {
			t.Errorf("validFSName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestCreateMode(t *testing.T) {
	for perm, want := range map[fs.FileMode]uint32{
		0o644: 0o644, 0o755: 0o755, 0o600: 0o600, 0o700: 0o700, 0o444: 0o444, 0o777: 0o777,
		0o640: 0o600, 0o750: 0o700, 0o660: 0o600, 0o604: 0o600, 0o674: 0o644, 0o705: 0o700,
		0o775: 0o755, 0o664: 0o644, 0o646: 0o644, 0o044: 0o044, 0: 0,
		fs.ModeSetuid | 0o755: 0o755, fs.ModeSetgid | 0o2750: 0o700, fs.ModeSticky | 0o644: 0o644,
	} {
		if got := createMode(perm); got != want {
			t.Errorf("createMode(%v) = %#o, want %#o", perm, got, want)
		}
	}
}

// Create and Mkdir skip the chmod only when the mode made is exactly the one asked
// for, whatever the umask and a setgid parent did; the result is always exact.
func TestLocalCreateModeUnderUmask(t *testing.T) {
	old := unix.Umask(0o027)
	defer unix.Umask(old)
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "sgid"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "sgid"), fs.ModeSetgid|0o755); err != nil {
		t.Fatal(err)
	}
	l, err := NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	mtime := time.Unix(1_600_000_000, 0)
	for i, perm := range []fs.FileMode{0o644, 0o600, 0o700, 0o777, 0o666, 0o640, 0o604, 0o755, 0, fs.ModeSetuid | 0o755} {
		for _, dir := range []string{"", "sgid/"} {
			name := fmt.Sprintf("%sf%d", dir, i)
			attr := Attr{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), Perm: perm, ModTime: mtime}
			w, err := l.Create(ctx, name, attr)
			if err != nil {
				t.Fatal(err)
			}
			lw := w.(*localWriter)
			wantChmod := createMode(perm)&^0o027 != unixMode(perm)
			if lw.chmod != wantChmod {
				t.Errorf("%s (%v): chmod needed = %v, want %v", name, perm, lw.chmod, wantChmod)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			inf, err := l.Lstat(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if inf.Mode != perm {
				t.Errorf("%s: mode %v, want %v", name, inf.Mode, perm)
			}
			dname := name + ".d"
			if err := l.Mkdir(ctx, dname, perm); err != nil {
				t.Fatal(err)
			}
			if inf, _ := l.Lstat(ctx, dname); inf.Mode != fs.ModeDir|perm {
				t.Errorf("%s: mode %v, want %v", dname, inf.Mode, fs.ModeDir|perm)
			}
		}
	}
}
