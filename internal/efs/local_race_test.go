//go:build linux

package efs_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// outsideFile makes a file outside the home (mode 0644, mtime 2001) and a hardlink
// to it inside the home at name, as a user who can write in the home can.
func outsideFile(t *testing.T, base, home, name string) (string, time.Time) {
	t.Helper()
	out := filepath.Join(base, "outside-secret")
	must(t, os.WriteFile(out, []byte("outside"), 0o644))
	must(t, os.Chmod(out, 0o644))
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	must(t, os.Chtimes(out, old, old))
	must(t, os.Link(out, filepath.Join(home, name)))
	return out, old
}

func checkOutside(t *testing.T, out string, mtime time.Time) {
	t.Helper()
	fi, st := lstatSys(t, out)
	if !fi.ModTime().Equal(mtime) || fi.Mode().Perm() != 0o644 || st.Uid != 0 {
		t.Errorf("outside file changed: mode %v, mtime %v, uid %d", fi.Mode(), fi.ModTime(), st.Uid)
	}
}

// TestLocalSetattrSymlinkTimesPinned: a symlink's mtime used to be set by name after
// the pinned-descriptor check; a hardlink to an outside file renamed over the
// symlink in between got the new mtime. The times now go through the descriptor.
func TestLocalSetattrSymlinkTimesPinned(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	home := filepath.Join(base, "home")
	must(t, os.MkdirAll(home, 0o755))
	must(t, os.Symlink("target", filepath.Join(home, "link")))
	out, old := outsideFile(t, base, home, ".planted")
	l := newLocalFS(t, home)
	if !l.Features().SymlinkTimes {
		t.Skip("kernel without utimensat(AT_EMPTY_PATH): symlink times are not set at all")
	}
	swapped := false
	efs.SetLocalHook(t, func(point, name string) {
		if point == "setattr-pinned" && name == "link" && !swapped {
			swapped = true
			must(t, os.Rename(filepath.Join(home, ".planted"), filepath.Join(home, "link")))
		}
	})
	want := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	err := l.Setattr(context.Background(), "link", efs.Attr{UID: newUID, GID: srcGID, ModTime: want}, efs.SetOwner|efs.SetTimes)
	if !swapped {
		t.Fatal("the hook did not run")
	}
	t.Logf("Setattr: %v", err)
	checkOutside(t, out, old)
}

// TestLocalMkdirChmodPinned: Mkdir used to chmod by name when the new directory's
// mode was not the one asked for (a default ACL, the umask, setgid); a hardlink to
// an outside file put at the name in between got the directory's mode.
func TestLocalMkdirChmodPinned(t *testing.T) {
	testutil.RequireRoot(t)
	for _, old := range []bool{false, true} {
		t.Run(map[bool]string{false: "fchmodat2", true: "old-kernel"}[old], func(t *testing.T) {
			base := t.TempDir()
			home := filepath.Join(base, "home")
			must(t, os.MkdirAll(home, 0o755))
			out, mtime := outsideFile(t, base, home, ".planted")
			l := newLocalFS(t, home)
			if old {
				efs.LocalOldKernel(t, l)
			}
			swapped := false
			efs.SetLocalHook(t, func(point, name string) {
				if point == "mkdir-chmod" && name == "new" && !swapped {
					swapped = true
					must(t, os.Remove(filepath.Join(home, "new")))
					must(t, os.Rename(filepath.Join(home, ".planted"), filepath.Join(home, "new")))
				}
			})
			// setgid is never given to mkdir itself, so a chmod always follows.
			err := l.Mkdir(context.Background(), "new", fs.ModeSetgid|0o700)
			if !swapped {
				t.Fatal("the hook did not run")
			}
			if err == nil {
				t.Errorf("Mkdir succeeded on a name swapped for a file")
			}
			t.Logf("Mkdir: %v", err)
			checkOutside(t, out, mtime)
		})
	}
	// Without a swap the mode is exact.
	base := t.TempDir()
	l := newLocalFS(t, base)
	must(t, l.Mkdir(context.Background(), "d", fs.ModeSetgid|0o750))
	if fi, _ := lstatSys(t, filepath.Join(base, "d")); fi.Mode() != fs.ModeDir|fs.ModeSetgid|0o750 {
		t.Errorf("mode %v", fi.Mode())
	}
}

// TestLocalSetattrTimesWithoutEmptyPath: where utimensat refuses AT_EMPTY_PATH
// (Linux < 5.8), a file's or directory's times still go through the pinned
// descriptor (/proc/self/fd), and a symlink's are refused before anything changes
// (Features().SymlinkTimes is false, so the copier does not ask).
func TestLocalSetattrTimesWithoutEmptyPath(t *testing.T) {
	testutil.RequireRoot(t)
	efs.LocalNoUtimesEmptyPath(t)
	base := t.TempDir()
	must(t, os.WriteFile(filepath.Join(base, "f"), []byte("x"), 0o644))
	must(t, os.Mkdir(filepath.Join(base, "d"), 0o755))
	must(t, os.Symlink("f", filepath.Join(base, "l")))
	l := newLocalFS(t, base)
	if l.Features().SymlinkTimes {
		t.Errorf("Features().SymlinkTimes without AT_EMPTY_PATH")
	}
	want := time.Date(2010, 1, 1, 0, 0, 0, 42, time.UTC)
	for _, n := range []string{"f", "d"} {
		must(t, l.Setattr(context.Background(), n, efs.Attr{ModTime: want}, efs.SetTimes))
		if fi, _ := lstatSys(t, filepath.Join(base, n)); !fi.ModTime().Equal(want) {
			t.Errorf("%s: mtime %v", n, fi.ModTime())
		}
	}
	_, before := lstatSys(t, filepath.Join(base, "l"))
	err := l.Setattr(context.Background(), "l", efs.Attr{UID: newUID, GID: srcGID, ModTime: want}, efs.SetOwner|efs.SetTimes)
	if !errors.Is(err, efs.ErrNotSupported) {
		t.Errorf("symlink times: %v", err)
	}
	if fi, st := lstatSys(t, filepath.Join(base, "l")); st.Uid != before.Uid || fi.ModTime().Equal(want) {
		t.Errorf("a refused Setattr changed the symlink: uid %d, mtime %v", st.Uid, fi.ModTime())
	}
}
