//go:build linux

package efs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// TestCopyWritesNewFilesInPlace: on Local a new file is written at its final name
// (no temporary name, no rename), and until its data is complete it has neither
// the source's mtime nor the new owner, so neither a resume nor Verify could take
// it for finished.
func TestCopyWritesNewFilesInPlace(t *testing.T) {
	srcDir, dstDir, _ := homes(t)
	src, dst := newLocalFS(t, srcDir), newLocalFS(t, dstDir)
	var mu sync.Mutex
	seen := 0
	efs.SetWriteHook(t, func(point, name string) {
		if point != "copied" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		seen++
		sfi, err := os.Lstat(filepath.Join(srcDir, name))
		must(t, err)
		dfi, st := lstatSys(t, filepath.Join(dstDir, name))
		if !dfi.Mode().IsRegular() || dfi.Size() != sfi.Size() {
			t.Errorf("%s: data copied, but the final name holds %v of %d bytes (want %d)", name, dfi.Mode(), dfi.Size(), sfi.Size())
		}
		if dfi.ModTime().Equal(sfi.ModTime()) || st.Uid == newUID {
			t.Errorf("%s: looks complete before its attributes are set: mtime %v, uid %d", name, dfi.ModTime(), st.Uid)
		}
		entries, err := os.ReadDir(filepath.Dir(filepath.Join(dstDir, name)))
		must(t, err)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".studio-migrator.") {
				t.Errorf("temporary name used beside %s: %s", name, e.Name())
			}
		}
	})
	rep, err := efs.Copy(context.Background(), src, dst, copyOpts())
	must(t, err)
	if seen < 10 || int64(seen) != rep.Copied-rep.Symlinks {
		t.Errorf("hook saw %d files, report copied %d (%d symlinks)", seen, rep.Copied, rep.Symlinks)
	}
	checkTree(t, srcDir, dstDir, checkOpts{gran: time.Nanosecond, hardlinks: true, linkOwner: true, linkTimes: true})
}

// TestCopyInPlacePlantedEntry: an entry put at a file's final name after the
// listing (a symlink to an outside file, a hardlink to one, a plain file) makes the
// exclusive create fail; the name is then rewritten with temp+rename, the planted
// symlink is never followed, and the outside file is untouched.
func TestCopyInPlacePlantedEntry(t *testing.T) {
	for _, kind := range []string{"symlink", "hardlink", "file"} {
		t.Run(kind, func(t *testing.T) {
			srcDir, dstDir, _ := homes(t)
			base := filepath.Dir(filepath.Dir(dstDir))
			out, old := outsideFile(t, base, base, ".outside-link")
			src, dst := newLocalFS(t, srcDir), newLocalFS(t, dstDir)
			planted := false
			efs.SetWriteHook(t, func(point, name string) {
				if point != "create" || name != "a/one" || planted {
					return
				}
				planted = true
				p := filepath.Join(dstDir, name)
				switch kind {
				case "symlink":
					must(t, os.Symlink(out, p))
				case "hardlink":
					must(t, os.Link(out, p))
				case "file":
					must(t, os.WriteFile(p, []byte("planted"), 0o666))
				}
			})
			_, err := efs.Copy(context.Background(), src, dst, copyOpts())
			must(t, err)
			if !planted {
				t.Fatal("the hook did not run")
			}
			checkOutside(t, out, old)
			if b, err := os.ReadFile(out); err != nil || string(b) != "outside" {
				t.Errorf("outside file content %q, %v", b, err)
			}
			checkTree(t, srcDir, dstDir, checkOpts{gran: time.Nanosecond, hardlinks: true, linkOwner: true, linkTimes: true})
		})
	}
}

// TestCopySurvivesSIGKILLAtManyPoints kills a copy process 20 times in a row on the
// same destination, each time at another point of a file's write (before its
// create, after its data, after its owner and mode but before its mtime), with
// resumed runs in between. After every kill, each destination file that passes the
// resume quick check (size and mtime equal to the source's) must be complete: same
// bytes, new owner, mode. A last run then finishes, Verify (with checksums) finds
// nothing, and no temporary file is left.
func TestCopySurvivesSIGKILLAtManyPoints(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	srcDir, dstDir := filepath.Join(base, "src"), filepath.Join(base, "dst")
	buildTree(t, srcDir)
	manyFiles(t, filepath.Join(srcDir, "many"), 300, 10)
	// Files of several sizes, so a cut shows in the size or only in the mtime.
	for i := range 20 {
		p := filepath.Join(srcDir, "sizes", fmt.Sprintf("s%02d", i))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, bytes.Repeat([]byte{byte(i)}, i*3000), 0o640))
		must(t, os.Chtimes(p, mtime(i), mtime(i)))
	}
	must(t, os.Mkdir(dstDir, 0o700))
	points := []string{"create", "copied", "close-times"}
	killed := 0
	for i := range 20 {
		point, after := points[i%len(points)], 1+(i*7)%13
		cmd := exec.Command(os.Args[0], "-test.run=^TestCopyKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "EFS_KILL_CHILD=1", "EFS_KILL_SRC="+srcDir, "EFS_KILL_DST="+dstDir,
			"EFS_KILL_POINT="+point, "EFS_KILL_AFTER="+strconv.Itoa(after))
		out, err := cmd.CombinedOutput()
		ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("run %d (kill at %s #%d): not killed: %v\n%s", i, point, after, err, out)
		}
		killed++
		checkQuickCheckHonest(t, srcDir, dstDir)
	}
	src, dst := newLocalFS(t, srcDir), newLocalFS(t, dstDir)
	if _, err := efs.Copy(context.Background(), src, dst, copyOpts()); err != nil {
		t.Fatal(err)
	}
	vr, err := efs.Verify(context.Background(), src, dst, efs.VerifyOptions{UID: newUID, Checksum: true})
	if err != nil {
		t.Fatalf("verify after %d kills: %v %+v", killed, err, vr.List)
	}
	checkTree(t, srcDir, dstDir, checkOpts{gran: time.Nanosecond, hardlinks: true, linkOwner: true, linkTimes: true})
}

// checkQuickCheckHonest fails for a destination file that a rerun would keep (same
// size and mtime as its source) although its content, owner or mode is not the
// source's.
func checkQuickCheckHonest(t *testing.T, srcDir, dstDir string) {
	t.Helper()
	checked := 0
	must(t, filepath.WalkDir(dstDir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || !de.Type().IsRegular() || strings.HasPrefix(de.Name(), ".studio-migrator.") {
			return err
		}
		rel, _ := filepath.Rel(dstDir, p)
		sfi, err := os.Lstat(filepath.Join(srcDir, rel))
		if err != nil {
			return nil
		}
		dfi, st := lstatSys(t, p)
		if dfi.Size() != sfi.Size() || !dfi.ModTime().Equal(sfi.ModTime()) {
			return nil // a rerun copies it again
		}
		checked++
		sb, _ := os.ReadFile(filepath.Join(srcDir, rel))
		db, _ := os.ReadFile(p)
		if !bytes.Equal(sb, db) || st.Uid != newUID || dfi.Mode().Perm() != sfi.Mode().Perm() {
			t.Errorf("%s passes the quick check but is not complete: uid %d, mode %v (want %v), content equal %v",
				rel, st.Uid, dfi.Mode(), sfi.Mode(), bytes.Equal(sb, db))
		}
		return nil
	}))
	t.Logf("%d files in place pass the quick check, all complete", checked)
}

// TestCopyKillChild is the copy process TestCopySurvivesSIGKILLAtManyPoints kills:
// it SIGKILLs itself at the EFS_KILL_AFTER-th EFS_KILL_POINT.
func TestCopyKillChild(t *testing.T) {
	if os.Getenv("EFS_KILL_CHILD") == "" {
		t.Skip("helper process of TestCopySurvivesSIGKILLAtManyPoints")
	}
	point := os.Getenv("EFS_KILL_POINT")
	after, err := strconv.Atoi(os.Getenv("EFS_KILL_AFTER"))
	must(t, err)
	var n atomic.Int64
	hook := func(p, _ string) {
		if p == point && n.Add(1) == int64(after) {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute) // the signal is on its way
		}
	}
	efs.SetWriteHook(t, hook)
	efs.SetLocalHook(t, hook)
	src, dst := newLocalFS(t, os.Getenv("EFS_KILL_SRC")), newLocalFS(t, os.Getenv("EFS_KILL_DST"))
	_, err = efs.Copy(context.Background(), src, dst, efs.CopyOptions{UID: newUID, Workers: 4})
	t.Fatalf("copy finished (%v) before the kill at %s #%d", err, point, after)
}

// dirCountFS delays every Create and records how many files are being written
// at once (from Create to the writer's Close), per directory and in all.
type dirCountFS struct {
	efs.FS
	delay time.Duration

	mu                 sync.Mutex
	inflight           map[string]int
	maxPerDir, maxDirs int
}

func (d *dirCountFS) Create(ctx context.Context, name string, attr efs.Attr) (io.WriteCloser, error) {
	dir := path.Dir(name)
	d.mu.Lock()
	d.inflight[dir]++
	d.maxPerDir = max(d.maxPerDir, d.inflight[dir])
	d.maxDirs = max(d.maxDirs, len(d.inflight))
	d.mu.Unlock()
	time.Sleep(d.delay)
	w, err := d.FS.Create(ctx, name, attr)
	if err != nil {
		d.done(dir)
		return nil, err
	}
	return &countedWriter{WriteCloser: w, done: func() { d.done(dir) }}, nil
}

func (d *dirCountFS) done(dir string) {
	d.mu.Lock()
	if d.inflight[dir]--; d.inflight[dir] == 0 {
		delete(d.inflight, dir)
	}
	d.mu.Unlock()
}

type countedWriter struct {
	io.WriteCloser
	once sync.Once
	done func()
}

func (w *countedWriter) Close() error {
	err := w.WriteCloser.Close()
	w.once.Do(w.done)
	return err
}

// TestCopySpreadsOverDirectories: with a slow destination, files in flight are
// spread over the directories that have work, never more than PerDirectory in one.
func TestCopySpreadsOverDirectories(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	srcDir, dstDir := filepath.Join(base, "src"), filepath.Join(base, "dst")
	manyFiles(t, srcDir, 400, 8)
	must(t, os.Mkdir(dstDir, 0o700))
	src := newLocalFS(t, srcDir)
	dst := &dirCountFS{FS: newLocalFS(t, dstDir), delay: 5 * time.Millisecond, inflight: map[string]int{}}
	_, err := efs.Copy(context.Background(), src, dst, efs.CopyOptions{UID: newUID, Workers: 16, PerDirectory: 2})
	must(t, err)
	t.Logf("at most %d files in flight in one directory, %d directories at once", dst.maxPerDir, dst.maxDirs)
	if dst.maxPerDir > 2 {
		t.Errorf("%d files in flight in one directory, cap 2", dst.maxPerDir)
	}
	// 16 workers, 2 per directory, 8 directories: all should be busy at some point;
	// 4 leaves a wide margin for a loaded machine.
	if dst.maxDirs < 4 {
		t.Errorf("at most %d directories had files in flight at once, want >= 4", dst.maxDirs)
	}
	checkTree(t, srcDir, dstDir, checkOpts{gran: time.Nanosecond, hardlinks: true, linkOwner: true, linkTimes: true})
}
