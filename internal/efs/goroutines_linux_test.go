package efs_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// A copy of a one-file tree with the default pool (128 workers) starts only the
// goroutines it needs: counted while the file is being written, a handful more
// than before the copy, not the whole pool (each a stack to allocate: most of a
// small copy's start-up when they all started up front). The file arrives whole.
func TestCopySmallTreeStartsFewGoroutines(t *testing.T) {
	testutil.RequireRoot(t)
	srcDir, dstDir := t.TempDir(), t.TempDir()
	must(t, os.WriteFile(filepath.Join(srcDir, "only"), []byte("one file"), 0o640))
	src, dst := newLocalFS(t, srcDir), newLocalFS(t, dstDir)
	before := runtime.NumGoroutine()
	during := -1
	efs.SetWriteHook(t, func(point, name string) {
		if point == "create" && name == "only" {
			during = runtime.NumGoroutine()
		}
	})
	rep, err := efs.Copy(context.Background(), src, dst, efs.CopyOptions{UID: newUID})
	if err != nil {
		t.Fatalf("copy: %v (%+v)", err, rep)
	}
	if rep.Files != 1 || rep.Copied != 1 {
		t.Fatalf("report: files %d copied %d, want 1 and 1", rep.Files, rep.Copied)
	}
	if b, err := os.ReadFile(filepath.Join(dstDir, "only")); err != nil || string(b) != "one file" {
		t.Fatalf("destination file: %q, %v", b, err)
	}
	// The copy's own: one walker, one worker, the progress ticker; headroom for
	// the runtime's and the test framework's.
	if during < 0 {
		t.Fatal("the write hook never ran")
	}
	if extra := during - before; extra > 8 {
		t.Errorf("%d goroutines more than before the copy while its one file was written, want at most 8", extra)
	}
}
