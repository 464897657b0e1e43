//go:build linux

package backup_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/studio-migrator/studio-migrator/internal/backup"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// TestRoundTripReowns backs a home up and restores it into an empty one owned by
// another UID: every entry comes back with its content, mode, mtime, link target and
// hardlink, owned by the new UID; the rerun uploads nothing.
func TestRoundTripReowns(t *testing.T) {
	testutil.RequireRoot(t)
	_, st := newStore(t)
	src := t.TempDir()
	makeHome(t, src)
	m, err := backup.Backup(ctxBG, local(t, src), st, "d-old", backup.Profile, "alice", backup.Options{Workers: 8})
	if err != nil {
		t.Fatal(err)
	}
	if m.Encoded != 2 || m.Errors != 0 || m.Files != 10 {
		t.Errorf("marker: encoded %d (want 2), errors %d (want 0), files %d (want 10)", m.Encoded, m.Errors, m.Files)
	}
	dst := t.TempDir()
	const newUID, newGID = 200042, 1001
	rm, err := backup.Restore(ctxBG, st, "d-old", backup.Profile, "alice", local(t, dst), newUID, newGID, backup.Options{Workers: 8})
	if err != nil {
		t.Fatal(err)
	}
	if rm.Downloaded != 9 { // 10 files, one of them a second hardlink
		t.Errorf("downloaded %d files, want 9", rm.Downloaded)
	}
	diffTrees(t, snapshot(t, src, false), snapshot(t, dst, false))
	filepath.Walk(dst, func(p string, fi os.FileInfo, err error) error {
		var st syscall.Stat_t
		syscall.Lstat(p, &st)
		if st.Uid != newUID || st.Gid != newGID {
			t.Errorf("%s owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, newUID, newGID)
		}
		return nil
	})
	// Symlink mtimes too.
	a, _ := os.Lstat(filepath.Join(src, "dangling"))
	b, _ := os.Lstat(filepath.Join(dst, "dangling"))
	if !a.ModTime().Equal(b.ModTime()) {
		t.Errorf("symlink mtime %v, want %v", b.ModTime(), a.ModTime())
	}

	// A rerun with nothing changed uploads nothing; one changed file is all it sends.
	m2, err := backup.Backup(ctxBG, local(t, src), st, "d-old", backup.Profile, "alice", backup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m2.Uploaded != 0 || m2.Files != m.Files {
		t.Errorf("rerun uploaded %d files (want 0), lists %d (want %d)", m2.Uploaded, m2.Files, m.Files)
	}
	os.WriteFile(filepath.Join(src, "notebook.ipynb"), []byte(`{"cells": [1]}`), 0o644)
	m3, err := backup.Backup(ctxBG, local(t, src), st, "d-old", backup.Profile, "alice", backup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m3.Uploaded != 2 { // the file and its hardlink
		t.Errorf("after one change uploaded %d files, want 2", m3.Uploaded)
	}
	// A resumed restore downloads only what changed.
	rm, err = backup.Restore(ctxBG, st, "d-old", backup.Profile, "alice", local(t, dst), newUID, newGID, backup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rm.Downloaded != 1 {
		t.Errorf("second restore downloaded %d files, want 1", rm.Downloaded)
	}
	diffTrees(t, snapshot(t, src, false), snapshot(t, dst, false))
	ok, when, err := backup.HasComplete(ctxBG, st, "d-old", backup.Profile, "alice")
	if err != nil || !ok || when.IsZero() {
		t.Errorf("HasComplete = %v, %v, %v; want true, a time, nil", ok, when, err)
	}
	if ok, _, err := backup.HasComplete(ctxBG, st, "d-old", backup.Space, "alice"); ok || err != nil {
		t.Errorf("HasComplete of a space never backed up = %v, %v", ok, err)
	}
}

// TestKilledBackupKeepsPrevious cancels a backup half-way: no marker, the previous
// backup restores exactly, and the next run completes.
func TestKilledBackupKeepsPrevious(t *testing.T) {
	srv, st := newStore(t)
	src := t.TempDir()
	makeHome(t, src)
	if _, err := backup.Backup(ctxBG, local(t, src), st, "d-1", backup.Space, "team", backup.Options{}); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, src, false)
	hourAgo := time.Now().Add(-time.Hour)
	for i := range 50 {
		p := filepath.Join(src, "envs", fmt.Sprintf("new-%02d", i))
		os.WriteFile(p, []byte("new"), 0o644)
		os.Chtimes(p, hourAgo, hourAgo)
	}
	os.WriteFile(filepath.Join(src, "notebook.ipynb"), []byte("changed after the backup"), 0o644)
	os.Chtimes(filepath.Join(src, "notebook.ipynb"), hourAgo, hourAgo)
	ctx, cancel := context.WithCancel(ctxBG)
	var puts atomic.Int32
	srv.SetHook(func(r *http.Request) {
		if r.Method == http.MethodPut && puts.Add(1) == 5 {
			cancel()
		}
	})
	if _, err := backup.Backup(ctx, local(t, src), st, "d-1", backup.Space, "team", backup.Options{Workers: 2}); err == nil {
		t.Fatal("a cancelled backup reported success")
	}
	srv.SetHook(nil)
	runs, err := backup.CompleteRuns(ctxBG, st, "d-1", backup.Space, "team")
	if err != nil || len(runs) != 1 {
		t.Fatalf("complete runs after a killed one: %v, %v; want exactly the first", runs, err)
	}
	dst := t.TempDir()
	if _, err := backup.Restore(ctxBG, st, "d-1", backup.Space, "team", local(t, dst), uint32(os.Getuid()), uint32(os.Getgid()), backup.Options{}); err != nil {
		t.Fatal(err)
	}
	diffTrees(t, want, snapshot(t, dst, false))
	// The next run completes, and resumes: what the killed run uploaded (after the
	// files' last change) is not sent again, and the result restores exactly.
	m, err := backup.Backup(ctxBG, local(t, src), st, "d-1", backup.Space, "team", backup.Options{})
	if err != nil {
		t.Fatalf("the run after a killed one: %v", err)
	}
	if m.Uploaded >= 52 {
		t.Errorf("the run after the killed one uploaded %d of the 52 changed files; want the killed run's uploads reused", m.Uploaded)
	}
	dst2 := t.TempDir()
	if _, err := backup.Restore(ctxBG, st, "d-1", backup.Space, "team", local(t, dst2), uint32(os.Getuid()), uint32(os.Getgid()), backup.Options{}); err != nil {
		t.Fatal(err)
	}
	diffTrees(t, snapshot(t, src, false), snapshot(t, dst2, false))
	if runs, _ := backup.CompleteRuns(ctxBG, st, "d-1", backup.Space, "team"); len(runs) != 2 {
		t.Errorf("complete runs = %v, want 2", runs)
	}
}

// TestRestoreRefusesUnsafeManifest plants manifests with "..", an absolute path and a
// file below a symlink: each restore fails with a clear error and writes nothing.
func TestRestoreRefusesUnsafeManifest(t *testing.T) {
	_, st := newStore(t)
	base := backup.Base(st.Prefix, "d-x", backup.Profile, "mallory")
	run := backup.NewRunID(time.Now())
	for _, tc := range []struct{ name, line, want string }{
		{"dotdot", "f\t644\t1.000000000\t3\t-\t" + run + "\tp\t../../etc/cron.d/x\t", `".." component`},
		{"absolute", "f\t644\t1.000000000\t3\t-\t" + run + "\tp\t/etc/passwd\t", "absolute path"},
		{"below-symlink", "l\t777\t1.000000000\t4\t-\t-\tp\tetc\t/etc\nf\t644\t1.000000000\t3\t-\t" + run + "\tp\tetc/passwd\t", "not a directory"},
		{"hex-dotdot", "f\t644\t1.000000000\t3\t-\t" + run + "\tx\t2e2e2f78\t", `".." component`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			manifest := backup.ManifestHeader + "\nd\t755\t1.000000000\t0\t-\t-\tp\tok\t\n" + tc.line + "\n"
			put(t, st, base+"manifests/"+run+".tsv", manifest)
			put(t, st, base+"data/"+run+"/ok/x", "bad")
			put(t, st, base+"complete/"+run+".json", `{"run":"`+run+`","status":"complete"}`)
			dst := t.TempDir()
			_, err := backup.Restore(ctxBG, st, "d-x", backup.Profile, "mallory", local(t, dst), 0, 0, backup.Options{})
			if !errors.Is(err, backup.ErrBadManifest) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want ErrBadManifest saying %q", err, tc.want)
			}
			if ents, _ := os.ReadDir(dst); len(ents) != 0 {
				t.Errorf("the refused restore wrote %v", ents)
			}
		})
	}
}

// TestRestoreKeepsNewerLocal: a local file newer than the backup's copy is kept.
func TestRestoreKeepsNewerLocal(t *testing.T) {
	_, st := newStore(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("old"), 0o644)
	os.WriteFile(filepath.Join(src, "b.txt"), []byte("from backup"), 0o644)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(src, "a.txt"), old, old)
	os.Chtimes(filepath.Join(src, "b.txt"), old, old)
	if _, err := backup.Backup(ctxBG, local(t, src), st, "d-1", backup.Profile, "bob", backup.Options{}); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	os.WriteFile(filepath.Join(dst, "a.txt"), []byte("newer local work"), 0o644)
	os.WriteFile(filepath.Join(dst, "b.txt"), []byte("stale"), 0o644)
	os.Chtimes(filepath.Join(dst, "b.txt"), old.Add(-time.Hour), old.Add(-time.Hour))
	m, err := backup.Restore(ctxBG, st, "d-1", backup.Profile, "bob", local(t, dst), uint32(os.Getuid()), uint32(os.Getgid()), backup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(dst, "a.txt"))
	b, _ := os.ReadFile(filepath.Join(dst, "b.txt"))
	if string(a) != "newer local work" || string(b) != "from backup" || m.Kept != 1 {
		t.Errorf("a.txt %q (want the newer local), b.txt %q (want the backup's), kept %d (want 1)", a, b, m.Kept)
	}
}

func put(t *testing.T, st backup.Store, key, body string) {
	t.Helper()
	_, err := st.Client.PutObject(ctxBG, &s3.PutObjectInput{Bucket: aws.String(st.Bucket), Key: aws.String(key), Body: bytes.NewReader([]byte(body))})
	if err != nil {
		t.Fatal(err)
	}
}

func listInput(bucket, prefix string) *s3.ListObjectsV2Input {
	return &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)}
}
