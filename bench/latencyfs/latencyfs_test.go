//go:build linux

package latencyfs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/bench/latencyfs"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// requireFUSE skips (or, under MIGRATOR_STRICT_TESTS=1, fails) where FUSE cannot mount.
func requireFUSE(t *testing.T) {
	t.Helper()
	if err := latencyfs.Available(); err != nil {
		if testutil.Strict() {
			t.Fatal(err)
		}
		t.Skip(err.Error() + "; run scripts/test.sh as root to require it")
	}
}

func mounted(dir string) bool {
	b, _ := os.ReadFile("/proc/self/mounts")
	return strings.Contains(string(b), " "+dir+" ")
}

// elapsed runs f and returns how long it took, failing the test on error.
func elapsed(t *testing.T, what string, f func() error) time.Duration {
	t.Helper()
	start := time.Now()
	if err := f(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return time.Since(start)
}

func TestDelaysApplied(t *testing.T) {
	requireFUSE(t)
	backing, mnt := t.TempDir(), t.TempDir()
	d := latencyfs.Delays{Read: 20 * time.Millisecond, Write: 50 * time.Millisecond}
	// No kernel caching: every call below reaches the server.
	srv, err := latencyfs.Mount(mnt, backing, latencyfs.Options{Delays: d, CacheTimeout: -1, Debug: os.Getenv("LATENCYFS_DEBUG") != ""})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Unmount()

	// Lower bounds only: these prove the delay is charged, not how fast anything is.
	checks := []struct {
		what string
		min  time.Duration
		f    func() error
	}{
		{"mkdir (lookup + mkdir)", d.Read + d.Write, func() error { return os.Mkdir(filepath.Join(mnt, "dir"), 0o755) }},
		{"write file (create + committing flush)", 2 * d.Write, func() error { return os.WriteFile(filepath.Join(mnt, "dir/f"), []byte("hello"), 0o644) }},
		{"lstat", d.Read, func() error { _, err := os.Lstat(filepath.Join(mnt, "dir/f")); return err }},
		{"read file (open + read + flush)", 3 * d.Read, func() error { _, err := os.ReadFile(filepath.Join(mnt, "dir/f")); return err }},
		{"lchown", d.Write, func() error { return os.Lchown(filepath.Join(mnt, "dir/f"), 12345, 678) }},
		{"symlink", d.Write, func() error { return os.Symlink("f", filepath.Join(mnt, "dir/l")) }},
		{"lchown symlink", d.Write, func() error { return os.Lchown(filepath.Join(mnt, "dir/l"), 12345, 678) }},
		{"link", d.Write, func() error { return os.Link(filepath.Join(mnt, "dir/f"), filepath.Join(mnt, "dir/h")) }},
		{"readdir", d.Read, func() error { _, err := os.ReadDir(filepath.Join(mnt, "dir")); return err }},
		{"rename", d.Write, func() error { return os.Rename(filepath.Join(mnt, "dir/h"), filepath.Join(mnt, "dir/h2")) }},
	}
	for _, c := range checks {
		if got := elapsed(t, c.what, c.f); got < c.min {
			t.Errorf("%s took %v, want at least %v", c.what, got, c.min)
		}
	}

	// The operations reached the backing directory, chown as root included.
	for _, name := range []string{"dir/f", "dir/l", "dir/h2"} {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(backing, name), &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != 12345 || st.Gid != 678 {
			t.Errorf("%s owned by %d:%d in the backing dir, want 12345:678", name, st.Uid, st.Gid)
		}
	}
	if c := srv.Counts(); c.Read == 0 || c.Write == 0 {
		t.Errorf("counts = %+v", c)
	}

	if err := srv.Unmount(); err != nil {
		t.Fatal(err)
	}
	if mounted(mnt) {
		t.Errorf("%s still mounted", mnt)
	}
}

// TestDelaysOverlap checks that concurrent requests sleep in parallel, as round trips
// to EFS overlap: serialized delays would make every parallel tool look serial. The
// bound is loose (half the serial time) so a busy machine cannot fail it.
func TestDelaysOverlap(t *testing.T) {
	requireFUSE(t)
	backing, mnt := t.TempDir(), t.TempDir()
	const n, delay = 16, 100 * time.Millisecond
	for i := 0; i < n; i++ {
		os.WriteFile(filepath.Join(backing, fmt.Sprint(i)), nil, 0o644)
	}
	srv, err := latencyfs.Mount(mnt, backing, latencyfs.Options{Delays: latencyfs.Delays{Read: delay, Write: delay}, CacheTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Unmount()
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := os.Lstat(filepath.Join(mnt, fmt.Sprint(i))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got := time.Since(start)
	if got < delay {
		t.Errorf("%d parallel lstats took %v, want at least %v", n, got, delay)
	}
	if got > n*delay/2 {
		t.Errorf("%d parallel lstats took %v: delays are serialized (serial would be %v)", n, got, n*delay)
	}
}
