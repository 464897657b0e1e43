package location

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studio-migrator/studio-migrator/internal/efs"
)

// TestCheckPlatformRefusesLocal injects the error a non-Linux build returns and
// checks that a local location is refused, by CheckPlatform and by Open and
// OpenDest, before anything is opened or created, while an SFTP location passes.
func TestCheckPlatformRefusesLocal(t *testing.T) {
	dir := t.TempDir()
	local, err := Parse(filepath.Join(dir, "200001"))
	if err != nil {
		t.Fatal(err)
	}
	remote, err := Parse("sftp://root@efs-host/mnt/efs/200001")
	if err != nil {
		t.Fatal(err)
	}

	// This build (Linux) opens local homes.
	if err := CheckPlatform(local, remote); err != nil {
		t.Fatalf("CheckPlatform on Linux: %v", err)
	}

	checkLocal = func() error { return efs.ErrUnsupportedPlatform }
	t.Cleanup(func() { checkLocal = efs.CheckLocal })

	if err := CheckPlatform(remote); err != nil {
		t.Errorf("CheckPlatform(sftp) = %v, want nil: the far end opens it", err)
	}
	err = CheckPlatform(remote, local)
	if !errors.Is(err, efs.ErrUnsupportedPlatform) || !strings.Contains(err.Error(), local.Local) {
		t.Errorf("CheckPlatform(sftp, local) = %v, want efs.ErrUnsupportedPlatform naming %s", err, local.Local)
	}
	if fsys, err := Open(context.Background(), Location{Local: dir}, Options{}); !errors.Is(err, efs.ErrUnsupportedPlatform) || fsys != nil {
		t.Errorf("Open(local) = %v, %v; want nil, efs.ErrUnsupportedPlatform", fsys, err)
	}
	prepared := false
	_, err = OpenDest(context.Background(), local, Options{}, func(efs.FS, string) error { prepared = true; return nil })
	if !errors.Is(err, efs.ErrUnsupportedPlatform) {
		t.Errorf("OpenDest(local) = %v, want efs.ErrUnsupportedPlatform", err)
	}
	if prepared {
		t.Error("OpenDest ran prepare on a platform that cannot open the destination")
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("the parent holds %v (%v), want nothing created", entries, err)
	}
}

// TestParseSlashPath: an absolute slash path is the path a Linux worker opens,
// kept as written (cleaned) on every platform, as filepath.Abs keeps it here.
func TestParseSlashPath(t *testing.T) {
	for in, want := range map[string]string{"/mnt/efs/fs-0old": "/mnt/efs/fs-0old", "/mnt//efs/./x/../fs-1/": "/mnt/efs/fs-1"} {
		l, err := Parse(in)
		if err != nil || l.Local != want || l.String() != want {
			t.Errorf("Parse(%q) = %+v, %v; want local %s", in, l, err, want)
		}
		if abs, _ := filepath.Abs(in); abs != l.Local {
			t.Errorf("Parse(%q) = %s, filepath.Abs = %s", in, l.Local, abs)
		}
	}
}
