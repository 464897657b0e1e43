//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/studio-migrator/studio-migrator/internal/backup"
	"github.com/studio-migrator/studio-migrator/internal/backup/backuptest"
	"github.com/studio-migrator/studio-migrator/internal/backup/s3test"
	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/emulator"
	"github.com/studio-migrator/studio-migrator/internal/lccinstall"
	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
	"github.com/studio-migrator/studio-migrator/jobs"
)

// rebuilt builds a second domain in the world's emulator with the old one's
// profile names (and new UIDs).
func (w *cliWorld) rebuilt(t *testing.T) *studio.Result {
	t.Helper()
	clients := studio.NewClients(aws.Config{Region: emulator.DefaultRegion, BaseEndpoint: aws.String(w.url),
		Credentials: credentials.NewStaticCredentialsProvider("TESTACCESSKEY", "test-secret", "")})
	p := &studio.Plan{Domain: studio.DomainSpec{
		Name: "research-rebuilt", AuthMode: "IAM", VpcID: "vpc-0f9e8d7c6b5a40312",
		SubnetIDs: []string{"subnet-0aaaabbbbccccdddd"}, AppNetworkAccessType: "PublicInternetOnly",
		DefaultUserSettings: json.RawMessage(`{"ExecutionRole":"arn:aws:iam::` + emulator.DefaultAccountID + `:role/Exec"}`),
	}}
	for _, m := range w.old.UIDMap {
		p.UserProfiles = append(p.UserProfiles, studio.ProfileSpec{Name: m.Name, Tags: []studio.Tag{{Key: "studiouserid", Value: m.Name}}})
	}
	a := &studio.Applier{Clients: clients, Waiter: studio.Waiter{PollInterval: 10 * time.Millisecond, Timeout: time.Minute},
		JobID: "rebuilt", CreateInterval: time.Millisecond}
	res, err := a.Apply(context.Background(), p)
	if err != nil {
		t.Fatalf("building the new domain: %v", err)
	}
	return res
}

func (w *cliWorld) backupArgs(s3url string, extra ...string) []string {
	return append([]string{"backup", "--redis", w.redis.URL(), "--endpoint-url", w.url, "--region", emulator.DefaultRegion,
		"--domain", w.old.Domain.ID, "--from", w.oldEFS(), "--bucket", "backups", "--s3-endpoint-url", s3url}, extra...)
}

func (w *cliWorld) restoreArgs(s3url string, dom *studio.Result, extra ...string) []string {
	return append([]string{"restore", "--redis", w.redis.URL(), "--endpoint-url", w.url, "--region", emulator.DefaultRegion,
		"--from", "s3://backups/" + lccinstall.DefaultPrefix, "--source-domain", w.old.Domain.ID, "--domain", dom.Domain.ID,
		"--to", filepath.Join(w.efsRoot, dom.Domain.HomeEfsFileSystemID), "--s3-endpoint-url", s3url}, extra...)
}

// checkHomesMoved compares each old home with the home of the same name in dom:
// the same tree, every entry owned by the new UID.
func checkHomesMoved(t *testing.T, w *cliWorld, want map[string]map[string]backuptest.Desc, dom *studio.Result) {
	t.Helper()
	for _, m := range dom.UIDMap {
		dir := filepath.Join(w.efsRoot, dom.Domain.HomeEfsFileSystemID, m.NewUID)
		backuptest.DiffTrees(t, want[m.Name], backuptest.Describe(t, dir, false))
		uid, _ := strconv.Atoi(m.NewUID)
		for p, d := range backuptest.Describe(t, dir, true) {
			if int(d.UID) != uid {
				t.Errorf("%s: %s owned by %d, want %d", m.Name, p, d.UID, uid)
			}
		}
	}
}

// waitJob waits for a job to end and returns what `watch` prints of it. Tests
// enqueue without --watch: the root command points slog's default logger at its
// own stderr buffer, which an in-process worker's AWS configuration would share
// with a concurrent --watch.
func waitJob(t *testing.T, w *cliWorld, id string) (*jobs.Status, string) {
	t.Helper()
	c := w.client(t)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st, err := c.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if jobs.Terminal(st.State) {
			out, errOut, code := runCLI(t, "watch", id, "--redis", w.redis.URL())
			if code != cli.ExitOK {
				t.Fatalf("job %s: watch exit %d: %s\n%s\n%s", id, code, st.Error, out, errOut)
			}
			return st, out
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after 3 minutes", id, st.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func describeOldHomes(t *testing.T, w *cliWorld) map[string]map[string]backuptest.Desc {
	t.Helper()
	want := map[string]map[string]backuptest.Desc{}
	for _, m := range w.old.UIDMap {
		want[m.Name] = backuptest.Describe(t, filepath.Join(w.oldEFS(), m.NewUID), false)
		if len(want[m.Name]) < 5 {
			t.Fatalf("old home of %s: %d entries", m.Name, len(want[m.Name]))
		}
	}
	return want
}

// TestBackupRestoreCommands: `backup --watch` puts every home of a domain in S3,
// `restore --watch` brings them into a rebuilt domain's EFS re-owned to its UIDs.
func TestBackupRestoreCommands(t *testing.T) {
	testutil.RequireRoot(t)
	w := newCLIWorld(t, 2)
	w.fillHomes(t)
	srv := s3test.Start(t, "backups")
	w.startWorker(t, "w1")
	want := describeOldHomes(t, w)

	out, errOut, code := runCLI(t, w.backupArgs(srv.URL)...)
	if code != cli.ExitOK {
		t.Fatalf("backup: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "backup   user-profile/user0 (uid ") || !strings.HasPrefix(lastLine(out), "backup-") {
		t.Errorf("backup's stdout: want the homes, then the job ID:\n%s", out)
	}
	if _, watched := waitJob(t, w, lastLine(out)); !strings.Contains(watched, "user-profile/user0 ") ||
		!strings.Contains(watched, " backed up: ") || !strings.Contains(watched, "2 of 2 homes backed up") {
		t.Errorf("watch: want a line per home backed up and the summary:\n%s", watched)
	}
	st := backup.Store{Client: srv.Client(), Bucket: "backups", Prefix: lccinstall.DefaultPrefix}
	for _, m := range w.old.UIDMap {
		if ok, _, err := backup.HasComplete(context.Background(), st, w.old.Domain.ID, backup.Profile, m.Name); !ok || err != nil {
			t.Errorf("no complete backup of %s in S3: %v", m.Name, err)
		}
	}

	dom := w.rebuilt(t)
	out, errOut, code = runCLI(t, w.restoreArgs(srv.URL, dom, "-o", "json")...)
	if code != cli.ExitOK {
		t.Fatalf("restore: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, `"action": "restore"`) || !strings.HasPrefix(lastLine(out), "restore-") {
		t.Errorf("restore's stdout: want the homes as JSON, then the job ID:\n%s", out)
	}
	if st, watched := waitJob(t, w, lastLine(out)); st.State != jobs.StateSucceeded || !strings.Contains(watched, " restored: ") {
		t.Errorf("restore job %s: want a line per home restored:\n%s", st.State, watched)
	}
	checkHomesMoved(t, w, want, dom)
}

// TestBackupRestoreCommandsBadInput: an unknown domain, a bucket that does not
// exist, an EFS root that is not a directory: a clear error, the documented exit
// code, no job enqueued and nothing written.
func TestBackupRestoreCommandsBadInput(t *testing.T) {
	w := newCLIWorld(t, 1)
	srv := s3test.Start(t, "backups")
	c := w.client(t)
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := &studio.Result{Domain: studio.DomainResult{ID: w.old.Domain.ID, HomeEfsFileSystemID: w.old.Domain.HomeEfsFileSystemID}}
	set := func(args []string, flag, value string) []string {
		out := append([]string(nil), args...)
		for i := range out {
			if out[i] == flag {
				out[i+1] = value
				return out
			}
		}
		t.Fatalf("no %s in %v", flag, args)
		return nil
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"backup unknown domain", set(w.backupArgs(srv.URL), "--domain", "d-doesnotexist0"), cli.ExitUsage, "no such domain"},
		{"backup no bucket", set(w.backupArgs(srv.URL), "--bucket", "no-such-bucket"), cli.ExitPlanErrors, "bucket does not exist"},
		{"backup from a file", set(w.backupArgs(srv.URL), "--from", file), cli.ExitUsage, "not a directory"},
		{"backup from nowhere", set(w.backupArgs(srv.URL), "--from", filepath.Join(w.efsRoot, "missing")), cli.ExitUsage, "no such file"},
		{"restore unknown domain", set(w.restoreArgs(srv.URL, dom), "--domain", "d-doesnotexist0"), cli.ExitUsage, "no such domain"},
		{"restore no bucket", set(w.restoreArgs(srv.URL, dom), "--from", "s3://no-such-bucket/x"), cli.ExitPlanErrors, "bucket does not exist"},
		{"restore to a file", set(w.restoreArgs(srv.URL, dom), "--to", file), cli.ExitUsage, "not a directory"},
		{"restore from a path", set(w.restoreArgs(srv.URL, dom), "--from", "/backups"), cli.ExitUsage, "want s3://BUCKET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.Requests()
			out, errOut, code := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.msg) {
				t.Errorf("exit %d, want %d; stderr should say %q:\n%s\nstdout:\n%s", code, tc.code, tc.msg, errOut, out)
			}
			if n := len(listJobs(t, c)); n != 0 {
				t.Errorf("%d jobs enqueued", n)
			}
			if strings.Contains(tc.name, "bucket") && srv.Requests() == before {
				t.Errorf("the bucket was not checked")
			}
		})
	}
	if b, _ := os.ReadFile(file); string(b) != "x" {
		t.Errorf("the file given as an EFS root changed: %q", b)
	}
}

// TestBackupFromLaptop: on a machine that cannot be a worker host (a macOS or
// Windows laptop), --from and --to are the workers' paths: backup and restore
// enqueue them as given, without looking for them on this machine; on a Linux
// host the same missing root is refused (TestBackupRestoreCommandsBadInput).
func TestBackupFromLaptop(t *testing.T) {
	w := newCLIWorld(t, 1)
	srv := s3test.Start(t, "backups")
	c := w.client(t)
	localEFSHost = func() error { return efs.ErrUnsupportedPlatform }
	t.Cleanup(func() { localEFSHost = efs.CheckLocal })
	missing := filepath.Join(w.efsRoot, "only-on-the-workers")
	args := w.backupArgs(srv.URL)
	for i := range args {
		if args[i] == "--from" {
			args[i+1] = missing
		}
	}
	out, errOut, code := runCLI(t, args...)
	if code != cli.ExitOK {
		t.Fatalf("backup --from %s on a laptop: exit %d, want 0\nstderr:\n%s", missing, code, errOut)
	}
	l := listJobs(t, c)
	if len(l) != 1 || l[0].ID != lastLine(out) {
		t.Fatalf("want the one job %q enqueued, have %+v", lastLine(out), l)
	}
	st, err := c.Get(context.Background(), l[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Spec.CopyFrom != missing {
		t.Errorf("job %s reads homes from %q, want the path as given, %q", st.ID, st.Spec.CopyFrom, missing)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the CLI created or touched %s: %v", missing, err)
	}
}

// TestMigrateCopyFromS3: with the old EFS gone, `migrate --copy-from s3://...`
// restores every home from its backup into the new domain, re-owned.
func TestMigrateCopyFromS3(t *testing.T) {
	testutil.RequireRoot(t)
	w := newCLIWorld(t, 2)
	w.fillHomes(t)
	srv := s3test.Start(t, "backups")
	w.startWorker(t, "w1")
	want := describeOldHomes(t, w)
	out, errOut, code := runCLI(t, w.backupArgs(srv.URL)...)
	if code != cli.ExitOK {
		t.Fatalf("backup: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if st, _ := waitJob(t, w, lastLine(out)); st.State != jobs.StateSucceeded {
		t.Fatalf("backup job %s: %s", st.State, st.Error)
	}
	if err := os.RemoveAll(w.oldEFS()); err != nil { // the old EFS is lost
		t.Fatal(err)
	}
	args := w.migrateArgs("--s3-endpoint-url", srv.URL)
	for i := range args {
		if args[i] == "--copy-from" {
			args[i+1] = "s3://backups/" + lccinstall.DefaultPrefix
		}
	}
	out, errOut, code = runCLI(t, args...)
	if code != cli.ExitOK {
		t.Fatalf("migrate: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	st, watched := waitJob(t, w, lastLine(out))
	if st.State != jobs.StateSucceeded || !strings.Contains(watched, " restored: ") {
		t.Errorf("migrate job %s (%s): want every home restored:\n%s", st.State, st.Error, watched)
	}
	if st.Spec.CopyFromBackup == nil || st.Spec.CopyFromBackup.Bucket != "backups" || st.NewDomain == nil {
		t.Fatalf("the job's spec: %+v", st.Spec)
	}
	for _, h := range st.Homes {
		if h.State != jobs.HomeSucceeded || h.Backup == nil || h.Backup.Downloaded == 0 {
			t.Errorf("home %s: %s %q %+v", h.Key, h.State, h.Reason, h.Backup)
		}
	}
	dom := &studio.Result{Domain: *st.NewDomain, UIDMap: st.UIDMap}
	checkHomesMoved(t, w, want, dom)
}
