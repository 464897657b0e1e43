//go:build linux

package demo

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// TestRunMigratesEveryHome runs the whole demo through the queue (in-process Redis,
// two workers) and checks its effects on disk, not its report: every old home has a
// new home with the same bytes, modes, mtimes and link targets, every new entry is
// owned by the new UID, and the old homes are untouched.
func TestRunMigratesEveryHome(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	// The lifecycle scripts run as the EBS home's user (1000): they must reach it.
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep, err := Run(context.Background(), Options{
		Dir:          dir,
		FilesPerHome: 60,
		ReadyAfter:   20 * time.Millisecond,
		ThrottleRate: 0.2,
		Seed:         7,
		Out:          &out,
		// The real scripts under the emulator are jobs' TestMigrateMovesEBSSpace;
		// here the in-process runner keeps the demo's test in seconds.
		InProcessLCC: true,
	})
	if err != nil {
		t.Fatalf("Run: %v\noutput:\n%s", err, out.String())
	}
	checkRun(t, dir, rep, out.String())
	if !strings.Contains(rep.Redis, "in-process") {
		t.Errorf("the demo did not use its in-process Redis: %q", rep.Redis)
	}
}

// TestRunOnRealRedis is the demo with --redis pointing at a redis-server and one
// worker: the job and its record live in that server.
func TestRunOnRealRedis(t *testing.T) {
	testutil.RequireRoot(t)
	r := testutil.StartRedis(t)
	dir := t.TempDir()
	var out bytes.Buffer
	rep, err := Run(context.Background(), Options{
		Dir: dir, FilesPerHome: 60, ReadyAfter: 10 * time.Millisecond, ThrottleRate: -1, Seed: 3,
		RedisURL: r.URL(), Workers: 1, Out: &out, InProcessLCC: true,
	})
	if err != nil {
		t.Fatalf("Run: %v\noutput:\n%s", err, out.String())
	}
	checkRun(t, dir, rep, out.String())
	if len(rep.Workers) != 1 || rep.Workers[0] != "demo-worker-1" {
		t.Errorf("workers %v, want [demo-worker-1]", rep.Workers)
	}
	// The job record is in the real server (see jobs/record.go for its keys).
	if n, err := r.Do("EXISTS", "migrator:job:"+rep.JobID); err != nil || fmt.Sprint(n) != "1" {
		t.Errorf("redis-server: EXISTS migrator:job:%s = %v (%v), want 1", rep.JobID, n, err)
	}
}

func checkRun(t *testing.T, dir string, rep *Report, out string) {
	t.Helper()
	if len(rep.Homes) != 5 {
		t.Fatalf("migrated %d homes, want 5 (4 profiles, 1 space)", len(rep.Homes))
	}
	if rep.JobID == "" || len(rep.Workers) == 0 || len(rep.UIDMap) != 6 {
		t.Errorf("the migration did not go through the queue: job %q, workers %v, UID map %v", rep.JobID, rep.Workers, rep.UIDMap)
	}
	if rep.NewDomain.ID == "" || rep.NewDomain.ID == rep.OldDomain.ID || rep.NewDomain.HomeEfsFileSystemID == rep.OldDomain.HomeEfsFileSystemID {
		t.Fatalf("new domain %+v is not a new domain with its own EFS (old %+v)", rep.NewDomain, rep.OldDomain)
	}
	if _, err := os.Stat(rep.SnapshotFile); err != nil {
		t.Errorf("snapshot file: %v", err)
	}
	seenUID := map[string]bool{}
	for _, h := range rep.Homes {
		if h.OldUID == h.NewUID || seenUID[h.NewUID] {
			t.Errorf("%s/%s: new UID %s is not fresh (old %s)", h.Kind, h.Name, h.NewUID, h.OldUID)
		}
		seenUID[h.NewUID] = true
		if !strings.HasPrefix(h.NewDir, filepath.Join(dir, "efs", rep.NewDomain.HomeEfsFileSystemID)) {
			t.Errorf("%s/%s: new home %s is not on the new domain's EFS", h.Kind, h.Name, h.NewDir)
		}
		if h.Rerun.Copied != 0 || h.Rerun.CopiedBytes != 0 {
			t.Errorf("%s/%s: the rerun wrote %d files, %d bytes; want nothing", h.Kind, h.Name, h.Rerun.Copied, h.Rerun.CopiedBytes)
		}
		newUID, _ := strconv.Atoi(h.NewUID)
		oldUID, _ := strconv.Atoi(h.OldUID)
		compareTrees(t, h.OldDir, h.NewDir, uint32(oldUID), uint32(newUID))
	}
	// The JupyterLab space, moved through S3 by the lifecycle configurations.
	if rep.EBS == nil || rep.EBS.Files != 5 || !strings.HasPrefix(rep.EBS.NewDir, filepath.Join(dir, "ebs", rep.NewDomain.ID)) {
		t.Fatalf("EBS space: %+v", rep.EBS)
	}
	if fi, err := os.Stat(filepath.Join(rep.EBS.NewDir, ".local/bin/train")); err != nil || fi.Mode().Perm() != 0o755 || !fi.ModTime().Equal(ebsMTime) {
		t.Errorf("the executable in the new space's EBS folder: %v, %v; want mode 0755, mtime %v", fi, err, ebsMTime)
	}
	if target, err := os.Readlink(filepath.Join(rep.EBS.NewDir, "train")); err != nil || target != ".local/bin/train" {
		t.Errorf("the symlink in the new space's EBS folder: %q, %v", target, err)
	}
	if b, err := os.ReadFile(filepath.Join(rep.EBS.NewDir, "experiment.ipynb")); err != nil || !strings.Contains(string(b), "pandas") {
		t.Errorf("the notebook in the new space's EBS folder: %q, %v", b, err)
	}
	for _, want := range []string{"== 2. migrator migrate", "research-v2", "enqueued job " + rep.JobID, "EBS-backed space lab: 5 files", "Lifecycle configurations run",
		"job " + rep.JobID + " succeeded", "migrator uid-map", "verify found 0 differences"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// compareTrees walks the old home and checks the new one entry by entry.
func compareTrees(t *testing.T, oldDir, newDir string, oldUID, newUID uint32) {
	t.Helper()
	var entries, links, hardlinked int
	err := filepath.WalkDir(oldDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(oldDir, p)
		q := filepath.Join(newDir, rel)
		a, b := lstat(t, p), lstat(t, q)
		if a == nil || b == nil {
			return nil
		}
		entries++
		if a.Uid != oldUID {
			t.Errorf("old %s: owner changed to %d (the source must be left alone)", rel, a.Uid)
		}
		if b.Uid != newUID || b.Gid != a.Gid {
			t.Errorf("%s: owner %d:%d, want %d:%d", rel, b.Uid, b.Gid, newUID, a.Gid)
		}
		if a.Mode != b.Mode {
			t.Errorf("%s: mode %o, want %o", rel, b.Mode, a.Mode)
		}
		if a.Mtim != b.Mtim {
			t.Errorf("%s: mtime %v, want %v", rel, b.Mtim, a.Mtim)
		}
		switch a.Mode & syscall.S_IFMT {
		case syscall.S_IFLNK:
			links++
			ta, _ := os.Readlink(p)
			tb, _ := os.Readlink(q)
			if ta != tb {
				t.Errorf("%s: link target %q, want %q", rel, tb, ta)
			}
		case syscall.S_IFREG:
			da, _ := os.ReadFile(p)
			db, _ := os.ReadFile(q)
			if !bytes.Equal(da, db) {
				t.Errorf("%s: content differs (%d vs %d bytes)", rel, len(db), len(da))
			}
			if a.Nlink > 1 {
				hardlinked++
				if b.Nlink != a.Nlink {
					t.Errorf("%s: %d links, want %d", rel, b.Nlink, a.Nlink)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if entries < 60 || links != 3 || hardlinked != 2 {
		t.Errorf("%s: walked %d entries, %d symlinks, %d hardlinked names; the generated home has more than 60, 3 and 2", oldDir, entries, links, hardlinked)
	}
	// The symlink that points outside the home is a link in the new home, not a copy
	// of what it points to.
	if target, err := os.Readlink(filepath.Join(newDir, "outside-link")); err != nil || target != "/etc/passwd" {
		t.Errorf("outside-link: %q, %v; want a symlink to /etc/passwd", target, err)
	}
}

func lstat(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Errorf("lstat %s: %v", p, err)
		return nil
	}
	return &st
}
