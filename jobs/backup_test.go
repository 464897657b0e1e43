//go:build linux

package jobs

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/studio-migrator/studio-migrator/internal/backup"
	"github.com/studio-migrator/studio-migrator/internal/backup/backuptest"
	"github.com/studio-migrator/studio-migrator/internal/backup/s3test"
	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/emulator"
	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

const testBucket = "backups"

// backupSpec backs the world's old domain up to the S3 server.
func (w *world) backupSpec(s3url string) Spec {
	return Spec{
		Kind:           KindBackup,
		Source:         AWSTarget{Region: emulator.DefaultRegion, EndpointURL: w.url},
		SourceDomainID: w.old.Domain.ID,
		CopyFrom:       filepath.Join(w.efsRoot, w.old.Domain.HomeEfsFileSystemID),
		Backup:         &BackupTarget{Bucket: testBucket, Prefix: "studio", EndpointURL: s3url},
	}
}

// newDomain builds a second domain in the world's emulator with profiles and
// spaces named like the old one's (and new UIDs), as a recreated domain has.
func (w *world) newDomain(t *testing.T, profiles, spaces int) *studio.Result {
	t.Helper()
	p := oldPlan(profiles, spaces)
	p.Domain.Name = "research-rebuilt"
	a := &studio.Applier{Clients: w.clients, Waiter: studio.Waiter{PollInterval: 20 * time.Millisecond, Timeout: time.Minute},
		JobID: "rebuilt", Concurrency: 8, CreateInterval: time.Millisecond}
	res, err := a.Apply(context.Background(), p)
	if err != nil {
		t.Fatalf("building the new domain: %v", err)
	}
	return res
}

// restoreSpec restores the old domain's backups into dom's EFS.
func (w *world) restoreSpec(s3url string, dom *studio.Result) Spec {
	return Spec{
		Kind:           KindRestore,
		Source:         AWSTarget{Region: emulator.DefaultRegion, EndpointURL: w.url},
		SourceDomainID: w.old.Domain.ID,
		TargetDomainID: dom.Domain.ID,
		CopyTo:         filepath.Join(w.efsRoot, dom.Domain.HomeEfsFileSystemID),
		Backup:         &BackupTarget{Bucket: testBucket, Prefix: "studio", EndpointURL: s3url},
	}
}

func uidOf(t *testing.T, res *studio.Result, key string) string {
	t.Helper()
	for _, m := range res.UIDMap {
		if m.Kind+"/"+m.Name == key {
			return m.NewUID
		}
	}
	t.Fatalf("no UID for %s", key)
	return ""
}

// checkRestored compares each restored home with the old one it was backed up
// from: every entry's type, mode, mtime, content, link target and hardlink, and
// every entry owned by the new UID with the Studio group.
func checkRestored(t *testing.T, oldRoot, newRoot string, old, dom *studio.Result, keys []string) {
	t.Helper()
	for _, key := range keys {
		oldDir := filepath.Join(oldRoot, uidOf(t, old, key))
		newUID := uidOf(t, dom, key)
		newDir := filepath.Join(newRoot, newUID)
		want := backuptest.Describe(t, oldDir, false)
		if len(want) < 5 {
			t.Fatalf("%s: the old home has %d entries: the test set nothing up", key, len(want))
		}
		backuptest.DiffTrees(t, want, backuptest.Describe(t, newDir, false))
		uid, _ := strconv.Atoi(newUID)
		for p, d := range backuptest.Describe(t, newDir, true) {
			if int(d.UID) != uid {
				t.Errorf("%s: %s owned by %d, want the new UID %d", key, p, d.UID, uid)
			}
		}
		if fi, err := os.Lstat(newDir); err != nil || statUID(fi) != newUID {
			t.Errorf("%s: the new home %s: %v, want owned by %s", key, newDir, err, newUID)
		}
	}
}

// TestBackupRestoreJobs: a backup job of a domain's EFS homes (one of them with
// every kind of entry) to S3 in the layout, then a restore job into a rebuilt
// domain's EFS: the same trees, re-owned to the new UIDs; the JupyterLab space is
// the LCC's, the profile without a backup is listed as not restored; a second
// backup uploads nothing.
func TestBackupRestoreJobs(t *testing.T) {
	w := newWorld(t, 2, 5, 10)
	oldRoot := filepath.Join(w.efsRoot, w.old.Domain.HomeEfsFileSystemID)
	rich := filepath.Join(oldRoot, uidOf(t, w.old, "user-profile/user00"), "rich")
	backuptest.MakeHome(t, rich)
	uid0, _ := strconv.Atoi(uidOf(t, w.old, "user-profile/user00"))
	chownTree(t, rich, uid0)
	srv := s3test.Start(t, testBucket)
	st := backup.Store{Client: srv.Client(), Bucket: testBucket, Prefix: "studio"}
	c := w.client(t)
	w.startWorker(t, "wk-a")
	ctx := context.Background()

	id, err := c.Submit(ctx, w.backupSpec(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	bst := waitDone(t, c, id, 2*time.Minute)
	if bst.State != StateSucceeded {
		t.Fatalf("backup job %s: %s", bst.State, bst.Error)
	}
	var steps []string
	for _, s := range bst.Steps {
		steps = append(steps, s.Name+":"+s.State)
	}
	if got := strings.Join(steps, ","); got != "snapshot:succeeded,backup-homes:succeeded,verify:succeeded" {
		t.Errorf("backup job steps %s", got)
	}
	efsHomes := []string{"user-profile/user00", "user-profile/user01", "space/space0", "space/space1", "space/space2", "space/space3"}
	for _, key := range efsHomes {
		h := homeOf(bst, key)
		if h.State != HomeSucceeded || h.Backup == nil || h.Backup.Files == 0 || h.Backup.Uploaded != h.Backup.Files || h.Files != h.Backup.Files {
			t.Errorf("backup of %s: %s %q, marker %+v, progress files %d", key, h.State, h.Reason, h.Backup, h.Files)
		}
	}
	if h := homeOf(bst, "space/space4"); h.State != HomeNotMoved || h.Storage != "ebs" || !strings.Contains(h.Reason, "LCC") {
		t.Errorf("the JupyterLab space in the backup job: %+v", h)
	}
	// The layout: a complete marker, and the files under their real path.
	m, err := backup.Latest(ctx, st, w.old.Domain.ID, backup.Profile, "user00")
	if err != nil || m.Writer != "migrator" {
		t.Fatalf("newest backup of user00: %+v, %v", m, err)
	}
	key := backup.Base(st.Prefix, w.old.Domain.ID, backup.Profile, "user00") + backup.DataKey(m.Run, "rich/notebook.ipynb")
	if _, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)}); err != nil {
		t.Errorf("s3://%s/%s: %v", testBucket, key, err)
	}

	// A second backup of unchanged homes sends no file again.
	id2, err := c.Submit(ctx, w.backupSpec(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if st2 := waitDone(t, c, id2, 2*time.Minute); st2.State != StateSucceeded {
		t.Fatalf("second backup job %s: %s", st2.State, st2.Error)
	} else {
		for _, key := range efsHomes {
			if h := homeOf(st2, key); h.Backup == nil || h.Backup.Uploaded != 0 || h.Backup.Files == 0 {
				t.Errorf("second backup of %s re-sent files: %+v", key, h.Backup)
			}
		}
	}

	// Restore into a rebuilt domain with one more profile (never backed up).
	dom := w.newDomain(t, 3, 5)
	rid, err := c.Submit(ctx, w.restoreSpec(srv.URL, dom))
	if err != nil {
		t.Fatal(err)
	}
	rst := waitDone(t, c, rid, 2*time.Minute)
	if rst.State != StateSucceeded {
		t.Fatalf("restore job %s: %s", rst.State, rst.Error)
	}
	for _, key := range efsHomes {
		h := homeOf(rst, key)
		if h.State != HomeSucceeded || h.Backup == nil || h.Backup.Errors != 0 || h.NewUID != uidOf(t, dom, key) {
			t.Errorf("restore of %s: %s %q %+v", key, h.State, h.Reason, h.Backup)
		}
	}
	if h := homeOf(rst, "user-profile/user02"); h.State != HomeNotMoved || !strings.Contains(h.Reason, "no complete backup") {
		t.Errorf("the profile without a backup: %+v", h)
	}
	if h := homeOf(rst, "space/space4"); h.State != HomeNotMoved || !strings.Contains(h.Reason, "restored by the LCC") {
		t.Errorf("the JupyterLab space in the restore job: %+v", h)
	}
	checkRestored(t, oldRoot, filepath.Join(w.efsRoot, dom.Domain.HomeEfsFileSystemID), w.old, dom, efsHomes)
}

// TestBackupJobCrashTakeover: the worker process backing up a big home is
// SIGKILLed in the middle; another takes the home over within 30 s, the backup
// completes without sending again what the killed run had sent, and a restore of
// it gives back the exact tree.
func TestBackupJobCrashTakeover(t *testing.T) {
	w := newWorld(t, 2, 0, 10)
	oldRoot := filepath.Join(w.efsRoot, w.old.Domain.HomeEfsFileSystemID)
	bigKey := "user-profile/user00"
	bigUID, _ := strconv.Atoi(uidOf(t, w.old, bigKey))
	bigDir := filepath.Join(oldRoot, uidOf(t, w.old, bigKey))
	addFiles(t, bigDir, bigUID, 2500)
	// 2,500 opens at 2 ms with one object in flight keep the backup running >= 5 s.
	w.slowOpen = 2 * time.Millisecond
	srv := s3test.Start(t, testBucket)
	st := backup.Store{Client: srv.Client(), Bucket: testBucket, Prefix: "studio"}
	c := w.client(t)
	const ttl = 5 * time.Second
	procs := map[string]*proc{}
	for _, n := range []string{"proc-a", "proc-b"} {
		procs[n] = w.startProc(t, n, ttl)
	}
	sp := w.backupSpec(srv.URL)
	sp.Workers = 1
	id, err := c.Submit(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	st0 := waitFor(t, c, id, 60*time.Second, "the big home's backup to be under way", func(s *Status) bool {
		h := homeOf(s, bigKey)
		return h.State == HomeRunning && h.Files > 100 && h.Files < h.TotalFiles-500 && procs[h.Worker] != nil
	})
	h := homeOf(st0, bigKey)
	victim := h.Worker
	killed := procs[victim].kill(t)
	t.Logf("killed %s backing up %s at %d of %d files", victim, bigKey, h.Files, h.TotalFiles)
	procs["proc-c"] = w.startProc(t, "proc-c", ttl)
	waitFor(t, c, id, 45*time.Second, "another worker to take the home over", func(s *Status) bool {
		h := homeOf(s, bigKey)
		return h.Worker != victim && h.Worker != ""
	})
	if d := time.Since(killed); d > 30*time.Second {
		t.Errorf("takeover took %v, want within 30s", d)
	}
	fin := waitDone(t, c, id, 2*time.Minute)
	if fin.State != StateSucceeded {
		t.Fatalf("backup job %s: %s", fin.State, fin.Error)
	}
	h = homeOf(fin, bigKey)
	if h.Attempts < 2 || h.Backup == nil || h.Backup.Uploaded >= h.Backup.Files || h.Backup.Files < 2500 {
		t.Errorf("%s after the takeover: attempts %d, marker %+v: want a resumed backup (fewer files sent than the home holds)", bigKey, h.Attempts, h.Backup)
	} else {
		t.Logf("resumed: %d of %d files sent after the takeover", h.Backup.Uploaded, h.Backup.Files)
	}
	runs, err := backup.CompleteRuns(context.Background(), st, w.old.Domain.ID, backup.Profile, "user00")
	if err != nil || len(runs) != 1 {
		t.Errorf("complete runs of user00: %v, %v; want exactly one", runs, err)
	}

	dst := t.TempDir()
	l, err := efs.NewLocal(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := backup.Restore(context.Background(), st, w.old.Domain.ID, backup.Profile, "user00", l, 200999, 1001, backup.Options{}); err != nil {
		t.Fatal(err)
	}
	backuptest.DiffTrees(t, backuptest.Describe(t, bigDir, false), backuptest.Describe(t, dst, false))
}

// TestBackupAndLCCReadEachOther: a home backed up by the lifecycle script
// (backup-home.sh with the AWS CLI) is restored by a worker's restore job, and a
// worker's backup job is restored by restore-home.sh; both re-owned to the new UID.
func TestBackupAndLCCReadEachOther(t *testing.T) {
	testutil.RequireBinary(t, "apt-get install awscli", "/usr/bin/aws")
	w := newWorld(t, 2, 0, 10)
	oldRoot := filepath.Join(w.efsRoot, w.old.Domain.HomeEfsFileSystemID)
	srv := s3test.Start(t, testBucket)
	lcc := &backuptest.LCC{T: t, Server: srv, Scripts: filepath.Join("..", "scripts", "lcc"), Bucket: testBucket, Prefix: "studio", Tmp: t.TempDir()}
	c := w.client(t)
	w.startWorker(t, "wk-a")
	ctx := context.Background()
	for _, key := range []string{"user-profile/user00", "user-profile/user01"} {
		dir := filepath.Join(oldRoot, uidOf(t, w.old, key), "rich")
		backuptest.MakeHome(t, dir)
		uid, _ := strconv.Atoi(uidOf(t, w.old, key))
		chownTree(t, dir, uid)
	}

	// The LCC script backs every home up under the prefix "lcc", the worker's job
	// under "studio": each restore reads only what the other side wrote.
	// (user01 has no LCC backup: the restore job lists it as not restored.)
	lcc.Prefix = "lcc"
	lcc.Run("backup-home.sh", filepath.Join(oldRoot, uidOf(t, w.old, "user-profile/user00")), lcc.Metadata(w.old.Domain.ID, "", "user00"))
	bid, err := c.Submit(ctx, w.backupSpec(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if bst := waitDone(t, c, bid, 2*time.Minute); bst.State != StateSucceeded {
		t.Fatalf("backup job %s: %s", bst.State, bst.Error)
	}

	// LCC backup -> worker restore job.
	dom := w.newDomain(t, 2, 0)
	rsp := w.restoreSpec(srv.URL, dom)
	rsp.Backup.Prefix = "lcc"
	rid, err := c.Submit(ctx, rsp)
	if err != nil {
		t.Fatal(err)
	}
	rst := waitDone(t, c, rid, 2*time.Minute)
	if rst.State != StateSucceeded {
		t.Fatalf("restore job %s: %s", rst.State, rst.Error)
	}
	newRoot := filepath.Join(w.efsRoot, dom.Domain.HomeEfsFileSystemID)
	checkRestored(t, oldRoot, newRoot, w.old, dom, []string{"user-profile/user00"})
	if h := homeOf(rst, "user-profile/user01"); h.State != HomeNotMoved || !strings.Contains(h.Reason, "no complete backup") {
		t.Errorf("user01, never backed up by the LCC: %+v", h)
	}
	if m := homeOf(rst, "user-profile/user00").Backup; m == nil || m.Files == 0 || m.Downloaded == 0 || m.Errors != 0 {
		t.Errorf("restore of the LCC's backup of user00: %+v", m)
	}

	// Worker backup -> restore-home.sh into an empty home owned by the new UID.
	home := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, 200888, emulator.HomeGID); err != nil {
		t.Fatal(err)
	}
	lcc.Prefix = "studio"
	lcc.Run("restore-home.sh", home, lcc.Metadata(dom.Domain.ID, "", "user01"), "BACKUP_SOURCE_DOMAIN="+w.old.Domain.ID)
	user01Old := filepath.Join(oldRoot, uidOf(t, w.old, "user-profile/user01"))
	backuptest.DiffTrees(t, backuptest.Describe(t, user01Old, false), backuptest.Describe(t, home, false))
	for p, d := range backuptest.Describe(t, home, true) {
		if d.UID != 200888 {
			t.Errorf("%s owned by %d after restore-home.sh, want the home's owner 200888", p, d.UID)
		}
	}
}

// TestBackupJobBadInput: a spec without a bucket or a domain is refused before
// anything is stored; a bucket that does not exist fails the home at once (no
// retries) with an error that says so; an unknown domain fails the snapshot step.
func TestBackupJobBadInput(t *testing.T) {
	w := newWorld(t, 1, 0, 3)
	srv := s3test.Start(t, testBucket)
	c := w.client(t)
	ctx := context.Background()
	noBucket := w.backupSpec(srv.URL)
	noBucket.Backup = nil
	noTarget := w.restoreSpec(srv.URL, w.old)
	noTarget.TargetDomainID = ""
	for _, sp := range []Spec{noBucket, noTarget} {
		if id, err := c.Submit(ctx, sp); err == nil {
			t.Errorf("%s spec %+v: enqueued %s", sp.Kind, sp, id)
		}
	}
	if l, err := c.List(ctx); err != nil || len(l) != 0 {
		t.Fatalf("jobs after refused specs: %v, %v", l, err)
	}

	w.startWorker(t, "wk-a")
	missing := w.backupSpec(srv.URL)
	missing.Backup.Bucket = "no-such-bucket"
	id, err := c.Submit(ctx, missing)
	if err != nil {
		t.Fatal(err)
	}
	st := waitDone(t, c, id, time.Minute)
	h := homeOf(st, "user-profile/user00")
	if st.State != StateFailed || h.State != HomeFailed || !strings.Contains(h.Reason, "bucket does not exist") || h.Attempts != 1 {
		t.Errorf("backup to a missing bucket: job %s (%s), home %s after %d runs: %q", st.State, st.Error, h.State, h.Attempts, h.Reason)
	}

	unknown := w.restoreSpec(srv.URL, w.old)
	unknown.TargetDomainID = "d-doesnotexist0"
	id, err = c.Submit(ctx, unknown)
	if err != nil {
		t.Fatal(err)
	}
	st = waitDone(t, c, id, time.Minute)
	if st.State != StateFailed || !strings.Contains(st.Error, "d-doesnotexist0 does not exist") || len(st.Homes) != 0 {
		t.Errorf("restore into an unknown domain: %s: %s (%d homes)", st.State, st.Error, len(st.Homes))
	}
}
