//go:build linux

package location_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/studio-migrator/studio-migrator/internal/location"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

func loc(t *testing.T, s string) location.Location {
	t.Helper()
	l, err := location.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestOverlapBindMount: with `mount --bind src view`, --to view/new is inside the
// source although no path says so (the copy recursed into the source until
// ENAMETOOLONG). Device and inode catch it, for a destination that does not exist
// yet (and whose parent does not either), and the other way round.
func TestOverlapBindMount(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	src, view, other := filepath.Join(base, "src"), filepath.Join(base, "view"), filepath.Join(base, "other")
	for _, d := range []string{filepath.Join(src, "sub"), view, other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount(src, view, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("mount --bind: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(view, unix.MNT_DETACH) })

	for _, tc := range []struct {
		from, to string
		want     bool
	}{
		{src, filepath.Join(view, "new"), true},
		{src, filepath.Join(view, "missing", "deeper", "new"), true},
		{src, view, true},
		{filepath.Join(view, "sub"), src, true}, // source inside the destination
		{src, filepath.Join(other, "new"), false},
		{filepath.Join(src, "sub"), filepath.Join(other, "new"), false},
		{src, filepath.Join(src, "x"), true}, // plain nesting still caught
		{src, "sftp://host/" + src, false},
	} {
		if got := location.Overlap(loc(t, tc.from), loc(t, tc.to)); got != tc.want {
			t.Errorf("Overlap(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}
