//go:build linux

package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/studio-migrator/studio-migrator/internal/backup"
	"github.com/studio-migrator/studio-migrator/internal/backup/s3test"
	"github.com/studio-migrator/studio-migrator/internal/demo/lccsim"
	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/emulator"
	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// ebsWorld is a world whose old domain has, beside a profile and a Studio Classic
// space on the EFS, a JupyterLab space "lab" whose home is an EBS folder, and whose
// emulator runs lifecycle configurations against an in-process S3 server.
type ebsWorld struct {
	*world
	ebsRoot string
	s3      *s3test.Server
}

const ebsBucket = "studio-backups-test"

// newEBSWorld starts the world; lcc is the emulator's runner (nil: the real scripts
// with the AWS CLI v2).
func newEBSWorld(t *testing.T, lcc *emulator.LCCRunner) *ebsWorld {
	t.Helper()
	testutil.RequireRoot(t)
	root := t.TempDir()
	w := &ebsWorld{world: &world{efsRoot: filepath.Join(root, "efs")}, ebsRoot: filepath.Join(root, "ebs")}
	for _, d := range []string{w.efsRoot, w.ebsRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The scripts run as the home's owner (1000): they must reach the folders.
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	w.s3 = s3test.Start(t, ebsBucket)
	if lcc == nil {
		testutil.RequireBinary(t, "apt-get install awscli", "/usr/bin/aws")
		cliHome := filepath.Join(root, "cli-home")
		if err := os.Mkdir(cliHome, 0o777); err != nil {
			t.Fatal(err)
		}
		_ = os.Chmod(cliHome, 0o777)
		lcc = &emulator.LCCRunner{Timeout: time.Minute, Env: append(w.s3.Env(),
			// The AWS CLI v2 from Debian first (the one first on root's PATH is v1),
			// and a HOME of its own, not the home being backed up.
			"PATH=/usr/bin:/bin", "HOME="+cliHome)}
	}
	w.redisURL = testutil.StartRedis(t).URL()
	w.em, w.url = startEmulator(t, emulator.Options{ReadyAfter: 30 * time.Millisecond, EFSRoot: w.efsRoot, EBSRoot: w.ebsRoot, LCC: lcc})
	w.clients = studio.NewClients(aws.Config{
		Region:       emulator.DefaultRegion,
		Credentials:  credentials.NewStaticCredentialsProvider("TESTACCESSKEY", "test-secret", ""),
		BaseEndpoint: aws.String(w.url),
	})
	plan := oldPlan(1, 1)
	plan.Spaces = append(plan.Spaces, studio.SpaceSpec{
		Name: "lab", OwnerUserProfileName: "user00",
		OwnershipSettings:    json.RawMessage(`{"OwnerUserProfileName":"user00"}`),
		SpaceSharingSettings: json.RawMessage(`{"SharingType":"Private"}`),
		SpaceSettings:        json.RawMessage(`{"AppType":"JupyterLab","SpaceStorageSettings":{"EbsStorageSettings":{"EbsVolumeSizeInGb":5}}}`),
	})
	seed := &studio.Applier{Clients: w.clients, Waiter: studio.Waiter{PollInterval: 20 * time.Millisecond, Timeout: time.Minute},
		JobID: "seed", Concurrency: 8, CreateInterval: time.Millisecond}
	res, err := seed.Apply(context.Background(), plan)
	if err != nil {
		t.Fatalf("building the old domain: %v", err)
	}
	w.old = res
	for _, m := range res.UIDMap {
		if m.Name == "lab" {
			continue
		}
		var uid int
		fmt.Sscan(m.NewUID, &uid)
		fillHome(t, filepath.Join(w.efsRoot, res.Domain.HomeEfsFileSystemID, m.NewUID), uid, 4, m.Name)
	}
	fillEBSHome(t, w.ebsHome(res.Domain.ID))
	return w
}

func (w *ebsWorld) ebsHome(domainID string) string { return filepath.Join(w.ebsRoot, domainID, "lab") }

// spec is the world's migration with the bucket.
func (w *ebsWorld) spec() Spec {
	sp := w.world.spec()
	sp.Backup = &BackupTarget{Bucket: ebsBucket, Prefix: "backups", EndpointURL: w.s3.URL}
	return sp
}

var ebsMTime = time.Date(2024, 3, 1, 12, 30, 45, 0, time.UTC)

// fillEBSHome writes a notebook, an executable, an empty directory and a symlink,
// owned by the EBS home's user, with a fixed mtime.
func fillEBSHome(t *testing.T, dir string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "env", "bin"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "empty"), 0o700))
	must(os.WriteFile(filepath.Join(dir, "analysis.ipynb"), []byte(`{"cells":[{"source":"print(42)"}]}`), 0o644))
	must(os.WriteFile(filepath.Join(dir, "env", "bin", "python-tool"), []byte("#!/bin/sh\necho tool\n"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "my notes.txt"), []byte(strings.Repeat("note ", 3000)), 0o600))
	must(os.Symlink("env/bin/python-tool", filepath.Join(dir, "tool")))
	for _, p := range []string{"analysis.ipynb", "env/bin/python-tool", "my notes.txt", "empty"} {
		must(os.Chtimes(filepath.Join(dir, p), ebsMTime, ebsMTime))
	}
	chownTree(t, dir, emulator.EBSHomeUID)
	must(filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, emulator.EBSHomeUID, emulator.EBSHomeGID)
	}))
}

// checkEBSHome checks that dir holds what fillEBSHome wrote: bytes, modes, mtimes
// (to the second), the link, the empty directory.
func checkEBSHome(t *testing.T, dir string) {
	t.Helper()
	files := map[string]struct {
		mode os.FileMode
		body string
	}{
		"analysis.ipynb":      {0o644, `{"cells":[{"source":"print(42)"}]}`},
		"env/bin/python-tool": {0o755, "#!/bin/sh\necho tool\n"},
		"my notes.txt":        {0o600, strings.Repeat("note ", 3000)},
	}
	for p, want := range files {
		fi, err := os.Lstat(filepath.Join(dir, p))
		if err != nil {
			t.Errorf("%s in the new space's EBS folder: %v", p, err)
			continue
		}
		b, _ := os.ReadFile(filepath.Join(dir, p))
		if string(b) != want.body || fi.Mode().Perm() != want.mode || !fi.ModTime().Truncate(time.Second).Equal(ebsMTime) {
			t.Errorf("%s: %d bytes, mode %v, mtime %v; want %d bytes, mode %v, mtime %v", p, len(b), fi.Mode().Perm(), fi.ModTime().UTC(), len(want.body), want.mode, ebsMTime)
		}
	}
	if target, err := os.Readlink(filepath.Join(dir, "tool")); err != nil || target != "env/bin/python-tool" {
		t.Errorf("symlink tool: %q, %v", target, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "empty")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("empty directory: %v, %v", fi, err)
	}
}

// TestMigrateMovesEBSSpace: a migrate job with a bucket backs the JupyterLab space
// up with the real backup-home.sh (AWS CLI v2) run by the emulator at app start,
// restores it with restore-home.sh into the new space's EBS folder, stops the apps
// it started, and reports the space as moved beside the EFS homes.
func TestMigrateMovesEBSSpace(t *testing.T) {
	w := newEBSWorld(t, nil)
	w.startWorker(t, "w1")
	c := w.client(t)
	id, err := c.Submit(context.Background(), w.spec())
	if err != nil {
		t.Fatal(err)
	}
	st := waitDone(t, c, id, 2*time.Minute)
	if st.State != StateSucceeded {
		b, _ := json.MarshalIndent(st, "", "  ")
		for _, r := range w.em.LCCRuns() {
			t.Logf("LCC run %s %s: exit %d %s\n%s", r.SpaceName, r.LCCName, r.ExitCode, r.Err, r.Output)
		}
		t.Fatalf("job %s: %s\n%s", st.State, st.Error, tail(string(b), 80))
	}
	for _, s := range st.Steps {
		t.Logf("step %s: %s", s.Name, s.Finished.Sub(s.Started).Round(time.Millisecond))
	}
	for _, r := range w.em.LCCRuns() {
		t.Logf("LCC run %s %s: %s exit %d", r.SpaceName, r.LCCName, r.Finished.Sub(r.Started), r.ExitCode)
	}
	h := homeOf(st, "space/lab")
	if h.State != HomeSucceeded || h.Storage != "ebs" || h.Phase != phaseRestored {
		t.Fatalf("home space/lab: %+v", h)
	}
	checkEBSHome(t, w.ebsHome(st.NewDomain.ID))
	for _, hs := range st.Homes {
		if hs.State != HomeSucceeded {
			t.Errorf("home %s: %s %s", hs.Key, hs.State, hs.Reason)
		}
	}
	// One app started on each side, and both stopped again.
	if n := w.em.Calls("CreateApp"); n != 2 {
		t.Errorf("CreateApp called %d times, want 2 (one backup, one restore)", n)
	}
	a := &studio.Applier{Clients: w.clients}
	for _, d := range []string{w.old.Domain.ID, st.NewDomain.ID} {
		app, err := a.FindApp(context.Background(), d, studio.AppOwner{SpaceName: "lab"}, "JupyterLab", "default")
		if err != nil || app.Live() {
			t.Errorf("the app the job started in %s: %+v, %v; want it stopped", d, app, err)
		}
	}
	// Cleanup's checker over the bucket now finds the old space's backup.
	chk := BackupChecker{Store: w.store()}
	if ok, err := chk.HasCompletedBackup(context.Background(), w.old.Domain.ID, "lab"); !ok || err != nil {
		t.Errorf("HasCompletedBackup(lab) = %v, %v", ok, err)
	}
}

// TestMigrateLCCFails: the space's app fails to start (its lifecycle configuration
// exits 3); the job records that space failed with the reason, moves the EFS homes,
// and fails at verify naming the space.
func TestMigrateLCCFails(t *testing.T) {
	run := &emulator.LCCRunner{Run: func(ctx context.Context, r emulator.LCCRun) error {
		return exec.CommandContext(ctx, "/bin/sh", "-c", "echo 'cannot reach S3' >&2; exit 3").Run()
	}}
	w := newEBSWorld(t, run)
	w.startWorker(t, "w1")
	c := w.client(t)
	id, err := c.Submit(context.Background(), w.spec())
	if err != nil {
		t.Fatal(err)
	}
	st := waitDone(t, c, id, 2*time.Minute)
	if st.State != StateFailed || !strings.Contains(st.Error, "space/lab") {
		t.Fatalf("job %s: %q; want failed naming space/lab", st.State, st.Error)
	}
	h := homeOf(st, "space/lab")
	if h.State != HomeFailed || !strings.Contains(h.Reason, "exit code 3") {
		t.Fatalf("home space/lab: %+v; want failed with the script's exit code in the reason", h)
	}
	for _, hs := range st.Homes {
		if hs.Key != "space/lab" && hs.State != HomeSucceeded {
			t.Errorf("home %s: %s %s, want succeeded", hs.Key, hs.State, hs.Reason)
		}
	}
	for _, s := range st.Steps {
		if s.Name == StepRestoreEBS && s.State != unitSucceeded {
			t.Errorf("step restore-ebs %s: a failed space must not fail the step", s.State)
		}
	}
}

// TestMigrateEBSKilledWorker: the worker running backup-ebs is killed while the
// space's app runs its (held) backup; another worker takes the step over, waits for
// the same app instead of starting another, and the job moves the space.
func TestMigrateEBSKilledWorker(t *testing.T) {
	var hold atomic.Bool
	hold.Store(true)
	var w *ebsWorld
	sim := &lccsim.Runner{Before: func(ctx context.Context, r emulator.LCCRun) error {
		for hold.Load() {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
		return nil
	}}
	w = newEBSWorld(t, &emulator.LCCRunner{Run: sim.Run})
	sim.Client = w.s3.Client()
	c := w.client(t)
	p1 := w.startProc(t, "p1", 2*time.Second)
	id, err := c.Submit(context.Background(), w.spec())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, id, time.Minute, "backup-ebs to start the space's app", func(*Status) bool { return w.em.Calls("CreateApp") == 1 })
	p1.kill(t)
	w.startProc(t, "p2", 2*time.Second)
	time.Sleep(500 * time.Millisecond)
	hold.Store(false)
	st := waitDone(t, c, id, 2*time.Minute)
	if st.State != StateSucceeded {
		t.Fatalf("job %s: %s", st.State, st.Error)
	}
	checkEBSHome(t, w.ebsHome(st.NewDomain.ID))
	if n := w.em.Calls("CreateApp"); n != 2 {
		t.Errorf("CreateApp called %d times, want 2: the worker that took over must not start the backup app again", n)
	}
	var ran []string
	for _, s := range st.Steps {
		if s.Name == StepBackupEBS {
			ran = append(ran, s.Worker)
		}
	}
	if len(ran) != 1 || ran[0] != "p2" {
		t.Errorf("backup-ebs ended by %v, want p2", ran)
	}
}

func (w *ebsWorld) store() backup.Store {
	return backup.Store{Client: w.s3.Client(), Bucket: ebsBucket, Prefix: "backups"}
}

// TestMigrateWithoutBucket: without a bucket the preflight refuses the job, naming
// the EBS-backed space and both ways out; with LeaveEBSSpaces it runs and lists the
// space as not moved.
func TestMigrateWithoutBucket(t *testing.T) {
	w := newEBSWorld(t, &emulator.LCCRunner{Run: func(context.Context, emulator.LCCRun) error {
		return errors.New("no lifecycle configuration should run without a bucket")
	}})
	w.startWorker(t, "w1")
	c := w.client(t)
	sp := w.world.spec()
	sp.LeaveEBSSpaces = false
	id, err := c.Submit(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	st := waitDone(t, c, id, time.Minute)
	if st.State != StateFailed || !strings.Contains(st.Error, "space/lab") || !strings.Contains(st.Error, "--bucket") || !strings.Contains(st.Error, "--leave-ebs-spaces") {
		t.Fatalf("job without a bucket: %s %q; want failed naming space/lab, --bucket and --leave-ebs-spaces", st.State, st.Error)
	}
	if st.NewDomain != nil || w.em.Calls("CreateDomain") != 1 {
		t.Fatalf("a refused job created something: new domain %+v, CreateDomain calls %d (1 is the old one)", st.NewDomain, w.em.Calls("CreateDomain"))
	}

	sp.LeaveEBSSpaces = true
	id, err = c.Submit(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	st = waitDone(t, c, id, 2*time.Minute)
	if st.State != StateSucceeded {
		t.Fatalf("job with LeaveEBSSpaces: %s %q", st.State, st.Error)
	}
	h := homeOf(st, "space/lab")
	if h.State != HomeNotMoved || !strings.Contains(h.Reason, "EBS") {
		t.Fatalf("home space/lab: %+v; want not-moved with the reason", h)
	}
	warned := false
	for _, p := range st.Plan.Problems {
		warned = warned || (p.Resource == "space/lab" && p.Severity == studio.SeverityWarning)
	}
	if !warned {
		t.Errorf("the plan has no warning about space/lab: %+v", st.Plan.Problems)
	}
	if n := w.em.Calls("CreateApp"); n != 0 {
		t.Errorf("CreateApp called %d times without a bucket", n)
	}
}

// TestCleanupNeedsEBSBackup: a cleanup job with a bucket refuses to delete the old
// domain while its JupyterLab space has no complete backup there (nothing deleted,
// not retried), and deletes it once one exists.
func TestCleanupNeedsEBSBackup(t *testing.T) {
	w := newEBSWorld(t, &emulator.LCCRunner{Run: func(context.Context, emulator.LCCRun) error { return nil }})
	w.startWorker(t, "w1")
	c := w.client(t)
	sp := Spec{Kind: KindCleanup, Source: AWSTarget{Region: emulator.DefaultRegion, EndpointURL: w.url}, SourceDomainID: w.old.Domain.ID,
		Cleanup: true, Backup: &BackupTarget{Bucket: ebsBucket, Prefix: "backups", EndpointURL: w.s3.URL}}
	id, err := c.Submit(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	st := waitDone(t, c, id, time.Minute)
	if st.State != StateFailed || !strings.Contains(st.Error, "lab") || !strings.Contains(st.Error, "backup") {
		t.Fatalf("cleanup without a backup of lab: %s %q; want failed naming it", st.State, st.Error)
	}
	if n := w.em.Calls("DeleteSpace") + w.em.Calls("DeleteDomain") + w.em.Calls("DeleteUserProfile"); n != 0 {
		t.Fatalf("a refused cleanup deleted %d resources", n)
	}
	home, err := efs.NewLocal(w.ebsHome(w.old.Domain.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer home.Close()
	if _, err := backup.Backup(context.Background(), home, w.store(), w.old.Domain.ID, backup.Space, "lab", backup.Options{}); err != nil {
		t.Fatal(err)
	}
	id, err = c.Submit(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	if st := waitDone(t, c, id, 2*time.Minute); st.State != StateSucceeded {
		t.Fatalf("cleanup with a backup of lab: %s %q", st.State, st.Error)
	}
	if n := w.em.Calls("DeleteDomain"); n != 1 {
		t.Errorf("DeleteDomain called %d times, want 1", n)
	}
}
