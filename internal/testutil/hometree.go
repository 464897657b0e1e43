//go:build linux

package testutil

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// HomeTree writes a small home under dir, owned by UID 200001 (GID 1001): n files
// ("data I") spread over 10 directories d00..d09, a symlink to /etc/passwd (a link
// a copy must keep, never follow) and a FIFO (a special file a copy skips). Needs
// root, for the owners.
func HomeTree(t testing.TB, dir string, n int) {
	t.Helper()
	RequireRoot(t)
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%10), fmt.Sprintf("f%04d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(fmt.Sprint("data ", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "passwd-link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 200001, 1001)
	}); err != nil {
		t.Fatal(err)
	}
}
