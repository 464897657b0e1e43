//go:build linux

package efs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// TestCopyHugePathSaidOnceShortened: an entry nested beyond PATH_MAX (about 6 KB of
// path) fails; its error names the path shortened in the middle, not three times
// whole.
func TestCopyHugePathSaidOnceShortened(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	srcDir := filepath.Join(base, "src")
	must(t, os.MkdirAll(srcDir, 0o755))
	must(t, os.MkdirAll(filepath.Join(base, "dst"), 0o700))
	// Built with mkdirat/openat one level at a time: no path-based syscall takes it.
	comp := strings.Repeat("p", 250)
	fd, err := unix.Open(srcDir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, err)
	full := ""
	for i := range 24 {
		must(t, unix.Mkdirat(fd, comp, 0o755))
		nfd, err := unix.Openat(fd, comp, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		must(t, err)
		unix.Close(fd)
		fd = nfd
		if i > 0 {
			full += "/"
		}
		full += comp
	}
	ffd, err := unix.Openat(fd, "deep-file", unix.O_CREAT|unix.O_WRONLY, 0o644)
	must(t, err)
	unix.Close(ffd)
	unix.Close(fd)
	full += "/deep-file"
	if len(full) < 6000 {
		t.Fatalf("path only %d bytes", len(full))
	}
	rep, err := efs.Copy(context.Background(), newLocalFS(t, srcDir), newLocalFS(t, filepath.Join(base, "dst")), efs.CopyOptions{UID: newUID, Workers: 4})
	if !errors.Is(err, efs.ErrEntriesFailed) || rep == nil || rep.Errors == 0 || len(rep.ErrorList) == 0 {
		t.Fatalf("copy of a path beyond PATH_MAX: %v, %+v", err, rep)
	}
	for _, e := range rep.ErrorList {
		line := e.Path + ": " + e.Op + ": " + e.Err
		t.Logf("error line (%d bytes): %s", len(line), line)
		if len(line) > 1600 {
			t.Errorf("error line is %d bytes long", len(line))
		}
		if strings.Contains(line, strings.Repeat(comp+"/", 3)) {
			t.Errorf("error line holds the long path whole")
		}
		if strings.Count(line, "bytes]") != 1 {
			t.Errorf("error line names the path %d times", strings.Count(line, "bytes]"))
		}
		if !strings.Contains(e.Path, "bytes]") {
			t.Errorf("path %.100q... not shortened in the middle", e.Path)
		}
	}
}

// TestCopyFatalENOSPCCounted: the error that stops a copy (the destination is full)
// is counted and listed; the summary used to say errors=0.
func TestCopyFatalENOSPCCounted(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	srcDir, dstDir := filepath.Join(base, "src"), filepath.Join(base, "dst")
	must(t, os.MkdirAll(srcDir, 0o755))
	must(t, os.MkdirAll(dstDir, 0o700))
	if err := unix.Mount("tmpfs", dstDir, "tmpfs", 0, "size=256k"); err != nil {
		t.Fatalf("mounting a small tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dstDir, unix.MNT_DETACH) })
	data := make([]byte, 64<<10)
	for i := range data {
		data[i] = byte(i*7 + 1)
	}
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		must(t, os.WriteFile(filepath.Join(srcDir, n), data, 0o644))
	}
	rep, err := efs.Copy(context.Background(), newLocalFS(t, srcDir), newLocalFS(t, dstDir), efs.CopyOptions{UID: newUID, Workers: 2})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("copy onto a full volume: %v", err)
	}
	if rep == nil || rep.Errors < 1 || len(rep.ErrorList) < 1 {
		t.Fatalf("fatal ENOSPC not counted: %+v", rep)
	}
	if e := rep.ErrorList[0]; !strings.Contains(e.Err, "no space left") {
		t.Errorf("listed error %+v does not say the volume is full", e)
	}
}
