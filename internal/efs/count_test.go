package efs_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/studio-migrator/studio-migrator/internal/efs"
)

func TestCountTotals(t *testing.T) {
	root := t.TempDir()
	write := func(name string, size int) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.txt", 10)
	write("d1/b.bin", 1000)
	write("d1/d2/c", 5)
	write("d1/d2/.studio-migrator.c.0123456789abcdef.tmp", 777) // left by a killed copy: not counted
	if err := os.Mkdir(filepath.Join(root, "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A link to a directory outside the tree counts as a link and is never entered.
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "d1", "out")); err != nil {
		t.Fatal(err)
	}
	f, err := efs.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := efs.Count(context.Background(), f, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := efs.Totals{Entries: 8, Files: 3, Dirs: 4, Symlinks: 1, Bytes: 1015}
	if got != want {
		t.Fatalf("Count = %+v, want %+v", got, want)
	}
}
