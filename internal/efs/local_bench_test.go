//go:build linux

package efs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/efs"
)

// benchDir is a fresh directory on tmpfs (/dev/shm) when there is one, so the numbers
// measure syscall overhead rather than a disk; EFS_BENCH_DIR overrides it.
func benchDir(b *testing.B) string {
	b.Helper()
	base := os.Getenv("EFS_BENCH_DIR")
	if base == "" {
		if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
			base = "/dev/shm"
		}
	}
	dir, err := os.MkdirTemp(base, "efsbench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// BenchmarkLocalCreateSmall: create, write 4 KiB, close with owner, mode and mtime
// applied, in a directory two levels below the root (so parent resolution is paid),
// through Local and through plain os calls that follow symlinks (the baseline).
func BenchmarkLocalCreateSmall(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 4096)
	attr := efs.Attr{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), Perm: 0o644, ModTime: time.Unix(1e9, 0)}
	ctx := context.Background()
	for _, walk := range []bool{false, true} {
		name := "Local"
		if walk {
			name = "LocalWalk"
		}
		b.Run(name, func(b *testing.B) {
			root := benchDir(b)
			os.MkdirAll(filepath.Join(root, "a", "b"), 0o755)
			l := newLocal(b, root)
			if walk {
				efs.LocalUseWalk(l)
			}
			i := 0
			for b.Loop() {
				w, err := l.Create(ctx, fmt.Sprintf("a/b/f%d", i), attr)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := w.Write(data); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
	b.Run("os", func(b *testing.B) {
		root := benchDir(b)
		os.MkdirAll(filepath.Join(root, "a", "b"), 0o755)
		i := 0
		for b.Loop() {
			p := filepath.Join(root, "a", "b", fmt.Sprintf("f%d", i))
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Write(data); err != nil {
				b.Fatal(err)
			}
			if err := f.Chown(int(attr.UID), int(attr.GID)); err != nil {
				b.Fatal(err)
			}
			if err := f.Chmod(attr.Perm); err != nil {
				b.Fatal(err)
			}
			if err := os.Chtimes(p, attr.ModTime, attr.ModTime); err != nil {
				b.Fatal(err)
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkLocalLstat: one metadata lookup two levels down, Local vs os.Lstat.
func BenchmarkLocalLstat(b *testing.B) {
	root := benchDir(b)
	os.MkdirAll(filepath.Join(root, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(root, "a", "b", "f"), nil, 0o644)
	ctx := context.Background()
	b.Run("Local", func(b *testing.B) {
		l := newLocal(b, root)
		for b.Loop() {
			if _, err := l.Lstat(ctx, "a/b/f"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("os", func(b *testing.B) {
		p := filepath.Join(root, "a", "b", "f")
		for b.Loop() {
			if _, err := os.Lstat(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLocalCopySmall: what the copier does per small file: Open the source,
// Create a temporary name, io.Copy, Close (attributes), Rename into place; Local to
// Local vs the same with os calls.
func BenchmarkLocalCopySmall(b *testing.B) {
	data := bytes.Repeat([]byte("y"), 4096)
	attr := efs.Attr{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), Perm: 0o644, ModTime: time.Unix(1e9, 0)}
	ctx := context.Background()
	srcRoot := benchDir(b)
	os.MkdirAll(filepath.Join(srcRoot, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(srcRoot, "a", "b", "f"), data, 0o644)
	b.Run("Local", func(b *testing.B) {
		dstRoot := benchDir(b)
		os.MkdirAll(filepath.Join(dstRoot, "a", "b"), 0o755)
		src, dst := newLocal(b, srcRoot), newLocal(b, dstRoot)
		i := 0
		for b.Loop() {
			r, err := src.Open(ctx, "a/b/f")
			if err != nil {
				b.Fatal(err)
			}
			name := fmt.Sprintf("a/b/f%d", i)
			w, err := dst.Create(ctx, name+".tmp", attr)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(w, r); err != nil {
				b.Fatal(err)
			}
			r.Close()
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			if err := dst.Rename(ctx, name+".tmp", name); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("os", func(b *testing.B) {
		dstRoot := benchDir(b)
		os.MkdirAll(filepath.Join(dstRoot, "a", "b"), 0o755)
		i := 0
		for b.Loop() {
			r, err := os.Open(filepath.Join(srcRoot, "a", "b", "f"))
			if err != nil {
				b.Fatal(err)
			}
			p := filepath.Join(dstRoot, "a", "b", fmt.Sprintf("f%d", i))
			w, err := os.OpenFile(p+".tmp", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(w, r); err != nil {
				b.Fatal(err)
			}
			r.Close()
			w.Chown(int(attr.UID), int(attr.GID))
			w.Chmod(attr.Perm)
			os.Chtimes(p+".tmp", attr.ModTime, attr.ModTime)
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			if err := os.Rename(p+".tmp", p); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
