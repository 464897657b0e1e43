//go:build linux

package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/studio-migrator/studio-migrator/internal/backup"
	"github.com/studio-migrator/studio-migrator/internal/backup/s3test"
	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/demo/lccsim"
	"github.com/studio-migrator/studio-migrator/internal/emulator"
	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/jobs"
)

// ebsCLIWorld adds to a cliWorld's old domain two JupyterLab spaces, "idle" (no
// app) and "busy" (an app running since before any install), with files in their
// EBS folders; the emulator runs lifecycle configurations in process against an
// S3 server.
type ebsCLIWorld struct {
	*cliWorld
	s3      *s3test.Server
	ebsRoot string
	a       *studio.Applier
	em      *emulator.Emulator
}

func newEBSCLIWorld(t *testing.T) *ebsCLIWorld {
	t.Helper()
	w := &ebsCLIWorld{cliWorld: newCLIWorld(t, 1), s3: s3test.Start(t, "backups"), ebsRoot: t.TempDir()}
	sim := &lccsim.Runner{Client: w.s3.Client()}
	em := emulator.New(emulator.Options{ReadyAfter: 5 * time.Millisecond, EFSRoot: w.efsRoot, EBSRoot: w.ebsRoot,
		LCC: &emulator.LCCRunner{Run: sim.Run}})
	em.AddWorld(emulator.World{
		VPCs:  map[string][]string{"vpc-0f9e8d7c6b5a40312": {"subnet-0aaaabbbbccccdddd"}},
		Roles: []string{"arn:aws:iam::" + emulator.DefaultAccountID + ":role/Exec"},
	})
	w.em = em
	srv := httptest.NewServer(em)
	t.Cleanup(srv.Close)
	w.url = srv.URL
	w.a = &studio.Applier{Clients: studio.NewClients(aws.Config{Region: emulator.DefaultRegion, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("TESTACCESSKEY", "test-secret", "")}),
		Waiter: studio.Waiter{PollInterval: 10 * time.Millisecond, Timeout: time.Minute}, JobID: "seed", CreateInterval: time.Millisecond}
	js := func(s string) json.RawMessage { return json.RawMessage(s) }
	p := &studio.Plan{Domain: studio.DomainSpec{
		Name: "research", AuthMode: "IAM", VpcID: "vpc-0a1b2c3d4e5f60718",
		SubnetIDs:            []string{"subnet-0123456789abcdef0"},
		AppNetworkAccessType: "PublicInternetOnly",
		DefaultUserSettings:  js(`{"ExecutionRole":"arn:aws:iam::` + emulator.DefaultAccountID + `:role/Exec"}`),
	}, UserProfiles: []studio.ProfileSpec{{Name: "alice", Tags: []studio.Tag{{Key: "studiouserid", Value: "alice"}}}}}
	for _, name := range []string{"idle", "busy"} {
		p.Spaces = append(p.Spaces, studio.SpaceSpec{Name: name, OwnerUserProfileName: "alice",
			OwnershipSettings:    js(`{"OwnerUserProfileName":"alice"}`),
			SpaceSharingSettings: js(`{"SharingType":"Private"}`),
			SpaceSettings:        js(`{"AppType":"JupyterLab"}`)})
	}
	res, err := w.a.Apply(context.Background(), p)
	if err != nil {
		t.Fatalf("building the old domain: %v", err)
	}
	w.old = res
	for _, name := range []string{"idle", "busy"} {
		if err := os.WriteFile(filepath.Join(w.ebsRoot, res.Domain.ID, name, "notebook.ipynb"), []byte("{} "+name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.a.StartApp(context.Background(), res.Domain.ID, studio.AppOwner{SpaceName: "busy"}, "JupyterLab", "default", "ml.t3.medium", ""); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestBackupViaLCCReportsSpaceWithoutApp: backup --via lcc installs the script;
// without --restart-apps the running app that predates it and the space with no
// app are both reported (exit 5); with --restart-apps the running app is restarted,
// runs the script and its space backs up, and the space with no app is still
// reported by name.
func TestBackupViaLCCReportsSpaceWithoutApp(t *testing.T) {
	w := newEBSCLIWorld(t)
	args := []string{"backup", "--via", "lcc", "--endpoint-url", w.url, "--region", emulator.DefaultRegion,
		"--domain", w.old.Domain.ID, "--bucket", "backups", "--s3-endpoint-url", w.s3.URL, "--poll", "50ms", "--timeout", "30s"}
	out, errOut, code := runCLI(t, args...)
	if code != cli.ExitPartial || !strings.Contains(out, "needs-restart") || !regexpLine(out, "idle", "no-app") {
		t.Fatalf("backup --via lcc: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	st := backup.Store{Client: w.s3.Client(), Bucket: "backups", Prefix: "studio-backups"}
	if ok, _, err := backup.HasComplete(context.Background(), st, w.old.Domain.ID, backup.Space, "busy"); ok || err != nil {
		t.Fatalf("busy backed up without a restart: %v, %v", ok, err)
	}

	out, errOut, code = runCLI(t, append(args, "--restart-apps", "-o", "json")...)
	if code != cli.ExitPartial {
		t.Fatalf("backup --via lcc --restart-apps: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, cli.ExitPartial, out, errOut)
	}
	if !strings.Contains(errOut, "Restarting 1 app(s)") || !strings.Contains(errOut, "space busy") {
		t.Errorf("--restart-apps did not list what it restarts:\n%s", errOut)
	}
	var res backupLCCResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string]string{}
	for _, h := range res.Homes {
		got[h.Kind+"/"+h.Name] = h.State
	}
	if got["space/busy"] != "backed-up" || got["space/idle"] != "no-app" {
		for _, r := range w.em.LCCRuns() {
			t.Logf("LCC run %s %s: exit %d %s", r.SpaceName, r.LCCName, r.ExitCode, r.Err)
		}
		t.Fatalf("homes: %v; want busy backed-up, idle no-app\n%s", got, errOut)
	}
	m, err := backup.Latest(context.Background(), st, w.old.Domain.ID, backup.Space, "busy")
	if err != nil || m.Files != 1 || m.Bytes != int64(len("{} busy")) {
		t.Fatalf("the backup of busy: %+v, %v; want its one notebook", m, err)
	}
}

// TestMigrateRefusesEBSSpacesWithoutBucket: migrate without --bucket exits 3 naming
// the spaces and both ways out, and enqueues nothing; with --leave-ebs-spaces it
// enqueues.
func TestMigrateRefusesEBSSpacesWithoutBucket(t *testing.T) {
	w := newEBSCLIWorld(t)
	out, errOut, code := runCLI(t, w.migrateArgs()...)
	if code != cli.ExitPlanErrors {
		t.Fatalf("migrate: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, cli.ExitPlanErrors, out, errOut)
	}
	for _, want := range []string{"busy, idle", "--bucket", "--leave-ebs-spaces", "nothing was enqueued"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, "ERROR   space/idle") {
		t.Errorf("the plan does not list space/idle as an error:\n%s", out)
	}
	if l := listJobs(t, w.client(t)); len(l) != 0 {
		t.Fatalf("a refused migrate enqueued %v", l)
	}
	out, errOut, code = runCLI(t, w.migrateArgs("--leave-ebs-spaces")...)
	if code != cli.ExitOK || !strings.Contains(errOut, "LEFT BEHIND") {
		t.Fatalf("migrate --leave-ebs-spaces: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	c := w.client(t)
	st, err := c.Get(context.Background(), lastLine(out))
	if err != nil || !st.Spec.LeaveEBSSpaces || st.Spec.Backup != nil {
		t.Fatalf("the enqueued job: %+v, %v", st, err)
	}
	out, errOut, code = runCLI(t, w.migrateArgs("--bucket", "backups", "--s3-endpoint-url", w.s3.URL)...)
	if code != cli.ExitOK {
		t.Fatalf("migrate --bucket: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	st, err = c.Get(context.Background(), lastLine(out))
	if err != nil || st.Spec.Backup == nil || *st.Spec.Backup != (jobs.BackupTarget{Bucket: "backups", Prefix: "studio-backups", EndpointURL: w.s3.URL}) {
		t.Fatalf("the enqueued job's bucket: %+v, %v", st.Spec.Backup, err)
	}
}

// regexpLine reports whether a line of s holds every one of words, in order.
func regexpLine(s string, words ...string) bool {
	for _, line := range strings.Split(s, "\n") {
		rest, ok := line, true
		for _, w := range words {
			i := strings.Index(rest, w)
			if i < 0 {
				ok = false
				break
			}
			rest = rest[i+len(w):]
		}
		if ok {
			return true
		}
	}
	return false
}
