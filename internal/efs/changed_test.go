//go:build linux

package efs_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// TestCopyFileChangedDuringCopy: a file truncated or grown while it is copied used
// to be stamped with its old listed mtime and the copy exited 0. It is copied
// again; one that keeps changing is reported (ChangedDuringCopy, an entry error)
// and stamped so that a rerun copies it again.
func TestCopyFileChangedDuringCopy(t *testing.T) {
	testutil.RequireRoot(t)
	for _, plain := range []bool{false, true} { // plain: a reader without Stat (lstat after)
		name := map[bool]string{false: "fstat", true: "lstat"}[plain]
		t.Run(name+"/truncated-once", func(t *testing.T) {
			srcDir, dstDir, src, dst := changeHomes(t, plain)
			big := filepath.Join(srcDir, "big")
			calls := 0
			efs.SetCopyHook(t, func(_, n string) {
				if n == "big" {
					calls++
					if calls == 1 { // the user truncates it while the copy reads it
						must(t, os.Truncate(big, 1000))
						future := time.Now().Add(time.Hour)
						must(t, os.Chtimes(big, future, future))
					}
				}
			})
			rep, err := efs.Copy(context.Background(), src, dst, efs.CopyOptions{UID: newUID, Workers: 2})
			must(t, err)
			if calls != 2 || rep.ChangedDuringCopy != 0 {
				t.Errorf("copied %d times, %d reported changed", calls, rep.ChangedDuringCopy)
			}
			sameFile(t, big, filepath.Join(dstDir, "big"))
		})
		t.Run(name+"/keeps-growing", func(t *testing.T) {
			srcDir, dstDir, src, dst := changeHomes(t, plain)
			big := filepath.Join(srcDir, "big")
			efs.SetCopyHook(t, func(_, n string) {
				if n == "big" {
					f, err := os.OpenFile(big, os.O_APPEND|os.O_WRONLY, 0)
					must(t, err)
					_, err = f.Write([]byte("more log lines\n"))
					must(t, err)
					must(t, f.Close())
					st, _ := os.Stat(big)
					later := st.ModTime().Add(time.Second)
					must(t, os.Chtimes(big, later, later))
				}
			})
			rep, err := efs.Copy(context.Background(), src, dst, efs.CopyOptions{UID: newUID, Workers: 2})
			if !errors.Is(err, efs.ErrEntriesFailed) || rep.ChangedDuringCopy != 1 || rep.Errors != 1 ||
				len(rep.ChangedDuringCopyPaths) != 1 || rep.ChangedDuringCopyPaths[0] != "big" {
				t.Fatalf("err %v, report %+v", err, rep)
			}
			if e := rep.ErrorList[0]; e.Path != "big" || !strings.Contains(e.Err, "changed while it was copied") {
				t.Errorf("listed error %+v", e)
			}
			// Kept, but not looking like the current file: a rerun copies it again.
			sfi, err := os.Stat(big)
			must(t, err)
			dfi, err := os.Stat(filepath.Join(dstDir, "big"))
			must(t, err)
			if dfi.ModTime().Equal(sfi.ModTime()) {
				t.Errorf("destination stamped with the source's current mtime %v", sfi.ModTime())
			}
			efs.SetCopyHook(t, nil)
			rep, err = efs.Copy(context.Background(), src, dst, efs.CopyOptions{UID: newUID, Workers: 2})
			must(t, err)
			if rep.Copied != 1 {
				t.Errorf("rerun copied %d files, want 1", rep.Copied)
			}
			sameFile(t, big, filepath.Join(dstDir, "big"))
		})
	}
}

func changeHomes(t *testing.T, plain bool) (string, string, efs.FS, efs.FS) {
	t.Helper()
	base := t.TempDir()
	srcDir, dstDir := filepath.Join(base, "src"), filepath.Join(base, "dst")
	must(t, os.MkdirAll(srcDir, 0o755))
	must(t, os.MkdirAll(dstDir, 0o700))
	must(t, os.WriteFile(filepath.Join(srcDir, "big"), bytes.Repeat([]byte("0123456789abcdef"), 1<<16), 0o644))
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	must(t, os.Chtimes(filepath.Join(srcDir, "big"), old, old))
	must(t, os.WriteFile(filepath.Join(srcDir, "calm"), []byte("calm"), 0o644))
	var src efs.FS = newLocalFS(t, srcDir)
	if plain {
		src = plainOpenFS{src}
	}
	return srcDir, dstDir, src, newLocalFS(t, dstDir)
}

// sameFile checks content, size and mtime.
func sameFile(t *testing.T, a, b string) {
	t.Helper()
	da, err := os.ReadFile(a)
	must(t, err)
	db, err := os.ReadFile(b)
	must(t, err)
	if !bytes.Equal(da, db) {
		t.Errorf("%s: %d bytes, source %d bytes", b, len(db), len(da))
	}
	fa, _ := os.Stat(a)
	fb, _ := os.Stat(b)
	if !fa.ModTime().Equal(fb.ModTime()) {
		t.Errorf("%s: mtime %v, source %v", b, fb.ModTime(), fa.ModTime())
	}
}
