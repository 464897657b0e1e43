//go:build linux

package emulator_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/google/go-cmp/cmp"

	"github.com/studio-migrator/studio-migrator/internal/backup"
	"github.com/studio-migrator/studio-migrator/internal/backup/s3test"
	"github.com/studio-migrator/studio-migrator/internal/emulator"
	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
	"github.com/studio-migrator/studio-migrator/scripts/lcc"
)

// newLCCEnv is an emulator that runs lifecycle configurations, with EFS and EBS
// folders the scripts' user (uid 1000 when the tests run as root) can reach.
func newLCCEnv(t *testing.T, r *emulator.LCCRunner) (*env, string, string) {
	t.Helper()
	efsRoot, ebsRoot := reachableDir(t), reachableDir(t)
	e := newEnv(t, emulator.Options{EFSRoot: efsRoot, EBSRoot: ebsRoot, LCC: r})
	t.Cleanup(func() {
		if err := e.em.Close(); err != nil {
			t.Error(err)
		}
	})
	return e, efsRoot, ebsRoot
}

// reachableDir is a t.TempDir that other users may traverse (t.TempDir is 0700).
func reachableDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// createSpace makes a private space of alice (created first if need be).
func (e *env) createSpace(t *testing.T, domainID, name, appType string) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.sm.DescribeUserProfile(ctx, &sagemaker.DescribeUserProfileInput{DomainId: &domainID, UserProfileName: aws.String("alice")}); err != nil {
		e.createProfile(t, domainID, "alice")
	}
	_, err := e.sm.CreateSpace(ctx, &sagemaker.CreateSpaceInput{
		DomainId: &domainID, SpaceName: &name,
		SpaceSettings:        &smtypes.SpaceSettings{AppType: smtypes.AppType(appType)},
		OwnershipSettings:    &smtypes.OwnershipSettings{OwnerUserProfileName: aws.String("alice")},
		SpaceSharingSettings: &smtypes.SpaceSharingSettings{SharingType: smtypes.SharingTypePrivate},
	})
	if err != nil {
		t.Fatalf("creating space %s: %v", name, err)
	}
}

// startApp creates an app and waits until it has left Pending; it returns the app.
func (e *env) startApp(t *testing.T, in *sagemaker.CreateAppInput) *sagemaker.DescribeAppOutput {
	t.Helper()
	ctx := context.Background()
	if in.AppName == nil {
		in.AppName = aws.String("default")
	}
	if _, err := e.sm.CreateApp(ctx, in); err != nil {
		t.Fatalf("creating app %s: %v", aws.ToString(in.AppName), err)
	}
	var out *sagemaker.DescribeAppOutput
	waitFor(t, 3*time.Minute, "the app to leave Pending", e.em, func() bool {
		var err error
		out, err = e.sm.DescribeApp(ctx, &sagemaker.DescribeAppInput{DomainId: in.DomainId, SpaceName: in.SpaceName,
			UserProfileName: in.UserProfileName, AppType: in.AppType, AppName: in.AppName})
		if err != nil {
			t.Fatalf("describing app: %v", err)
		}
		return out.Status != smtypes.AppStatusPending
	})
	return out
}

// waitFor polls ok until it holds; after limit it fails the test with what and
// the output of the emulator's LCC runs, if em is given.
func waitFor(t *testing.T, limit time.Duration, what string, em *emulator.Emulator, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			if em != nil {
				what += "\n" + lccLogs(em)
			}
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func createLCC(t *testing.T, e *env, name, appType, script string) string {
	t.Helper()
	out, err := e.sm.CreateStudioLifecycleConfig(context.Background(), &sagemaker.CreateStudioLifecycleConfigInput{
		StudioLifecycleConfigName:    &name,
		StudioLifecycleConfigAppType: smtypes.StudioLifecycleConfigAppType(appType),
		StudioLifecycleConfigContent: aws.String(base64.StdEncoding.EncodeToString([]byte(script))),
	})
	if err != nil {
		t.Fatalf("creating lifecycle configuration %s: %v", name, err)
	}
	return aws.ToString(out.StudioLifecycleConfigArn)
}

type entry struct {
	Mode       fs.FileMode
	UID, GID   uint32
	MTime      int64
	Sum        string
	LinkTarget string
}

// tree describes every entry under root (the root itself excluded).
func tree(t *testing.T, root string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		en := entry{Mode: fi.Mode(), UID: st.Uid, GID: st.Gid, MTime: fi.ModTime().Unix()}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			en.LinkTarget, _ = os.Readlink(p)
			en.MTime = 0 // not compared: restore-home.sh sets it, but that is its own test
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			en.Sum = fmt.Sprintf("%x", sha256.Sum256(b))
		case fi.IsDir():
			en.MTime = 0 // a directory's mtime moves as the restore fills it
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = en
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fillHome writes a small home as its user (1000:100 in the JupyterLab image) would
// have it: a notebook, an executable, an empty directory, a symlink, fixed mtimes.
func fillHome(t *testing.T, home string) {
	t.Helper()
	mtime := time.Date(2025, 6, 1, 10, 30, 0, 0, time.UTC)
	files := map[string]struct {
		mode fs.FileMode
		data string
	}{
		"notebook.ipynb":      {0o644, `{"cells": []}`},
		"bin/train.sh":        {0o755, "#!/bin/sh\necho training\n"},
		"data/with space.csv": {0o600, "a,b\n1,2\n"},
	}
	for name, f := range files {
		p := filepath.Join(home, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(home, "empty"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("bin/train.sh", filepath.Join(home, "train")); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		err := filepath.WalkDir(home, func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, emulator.EBSHomeUID, emulator.EBSHomeGID)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestLCCBackupRestoreThroughApps rehearses the whole LCC path offline: the real
// backup-home.sh, installed with studio.InstallLCC on a domain, runs when a
// JupyterLab space's app starts and backs the space's EBS folder up to S3 (the real
// AWS CLI v2 against s3test); restore-home.sh, installed on a second domain, runs
// when the same space's app starts there and restores it: bytes, modes, mtimes, and
// owners as the script's user made them.
func TestLCCBackupRestoreThroughApps(t *testing.T) {
	t.Parallel() // most of its time goes to starting the AWS CLI
	testutil.RequireBinary(t, "apt-get install awscli", "/usr/bin/aws")
	srv := s3test.Start(t, "backups")
	e, _, ebsRoot := newLCCEnv(t, &emulator.LCCRunner{
		// The Debian AWS CLI v2 first: an `aws` earlier in PATH may be v1.
		Env: append(srv.Env(), "PATH=/usr/bin:/bin"),
	})
	ctx := context.Background()
	a := &studio.Applier{Clients: studio.NewClients(aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""), BaseEndpoint: aws.String(e.url),
	}), Waiter: studio.Waiter{PollInterval: 10 * time.Millisecond, Timeout: time.Minute}}
	store := backup.Store{Client: srv.Client(), Bucket: "backups", Prefix: "studio"}
	settings := lcc.Settings{Bucket: "backups", Prefix: "studio", EndpointURL: srv.URL}

	oldID := e.createDomain(t, iamDomainInput("old"))
	e.createSpace(t, oldID, "lab", "JupyterLab")
	src := filepath.Join(ebsRoot, oldID, "lab")
	fillHome(t, src)
	script, err := lcc.BackupScript(settings)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.InstallLCC(ctx, oldID, "backup-home", "JupyterLab", []byte(script)); err != nil {
		t.Fatal(err)
	}
	app := e.startApp(t, &sagemaker.CreateAppInput{DomainId: &oldID, SpaceName: aws.String("lab"), AppType: smtypes.AppTypeJupyterLab})
	if app.Status != smtypes.AppStatusInService {
		t.Fatalf("app %s: %s", app.Status, aws.ToString(app.FailureReason))
	}
	// backup-home.sh returns at once and works in the background: wait for its marker.
	var m *backup.Marker
	waitFor(t, 5*time.Minute, "the backup's completion marker", e.em, func() bool {
		m, err = backup.Latest(ctx, store, oldID, backup.Space, "lab")
		return err == nil
	})
	if m.Files != 3 || m.Dirs != 3 || m.Symlinks != 1 || m.Errors != 0 {
		t.Errorf("marker %+v: want 3 files, 3 directories, 1 symlink, no errors", m)
	}
	runs := e.em.LCCRuns()
	if len(runs) != 1 {
		t.Fatalf("LCC runs: %+v, want one", runs)
	}
	r := runs[0]
	if r.ExitCode != 0 || r.Err != "" || r.LCCName != "backup-home" || r.SpaceName != "lab" || r.UserProfileName != "alice" ||
		r.AppType != "JupyterLab" || r.Home != src || !strings.Contains(r.Output, "in the background") {
		t.Errorf("backup run %+v", r)
	}
	if os.Geteuid() == 0 && (r.UID != emulator.EBSHomeUID || r.GID != emulator.EBSHomeGID) {
		t.Errorf("the script ran as %d:%d, want the EBS home's owner %d:%d", r.UID, r.GID, emulator.EBSHomeUID, emulator.EBSHomeGID)
	}

	newID := e.createDomain(t, iamDomainInput("new"))
	e.createSpace(t, newID, "lab", "JupyterLab")
	settings.SourceDomain = oldID
	script, err = lcc.RestoreScript(settings)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.InstallLCC(ctx, newID, "restore-home", "JupyterLab", []byte(script)); err != nil {
		t.Fatal(err)
	}
	app = e.startApp(t, &sagemaker.CreateAppInput{DomainId: &newID, SpaceName: aws.String("lab"), AppType: smtypes.AppTypeJupyterLab})
	if app.Status != smtypes.AppStatusInService {
		t.Fatalf("app %s: %s", app.Status, aws.ToString(app.FailureReason))
	}
	var marker string
	waitFor(t, 5*time.Minute, "the restore's marker", e.em, func() bool {
		out, err := srv.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("backups"), Prefix: aws.String("studio/" + newID + "/space/lab/restored/")})
		if err != nil || len(out.Contents) == 0 {
			return false
		}
		obj, err := srv.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("backups"), Key: out.Contents[0].Key})
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Body.Close()
		b, err := io.ReadAll(obj.Body)
		if err != nil {
			t.Fatal(err)
		}
		marker = string(b)
		return true
	})
	dst := filepath.Join(ebsRoot, newID, "lab")
	if d := cmp.Diff(tree(t, src), tree(t, dst)); d != "" {
		t.Errorf("restored home differs (-backed up +restored):\n%s\nrestore marker: %s", d, marker)
	}
}

// lccLogs is what the runs so far and their scripts' background work (which
// logs into the run's TMPDIR) printed, for a failure message.
func lccLogs(em *emulator.Emulator) string {
	var b strings.Builder
	for _, r := range em.LCCRuns() {
		fmt.Fprintf(&b, "run of %s in %s: exit %d %s\n%s\n", r.LCCName, r.Home, r.ExitCode, r.Err, r.Output)
		logs, _ := filepath.Glob(filepath.Join(filepath.Dir(r.LogFile), "tmp", "*.log"))
		for _, l := range logs {
			data, _ := os.ReadFile(l)
			fmt.Fprintf(&b, "%s:\n%s\n", l, data)
		}
	}
	return b.String()
}

// TestLCCWhichRuns: the configuration an app runs is the one its CreateApp names,
// else the first DefaultResourceSpec of its type found in the space's settings, its
// owner's, the domain's DefaultSpaceSettings and DefaultUserSettings ("None" stops
// the search); a configuration of another app type is not run, a missing one fails
// the app, and an error from the runner fails it with its exit code.
func TestLCCWhichRuns(t *testing.T) {
	ran := make(chan emulator.LCCRun, 10)
	e, _, ebsRoot := newLCCEnv(t, &emulator.LCCRunner{Run: func(_ context.Context, r emulator.LCCRun) error {
		ran <- r
		if strings.Contains(string(r.Script), "exit 3") {
			// What exec returns for a script that exited 3.
			return fmt.Errorf("running it: %w", exec.Command("/bin/sh", "-c", "exit 3").Run())
		}
		return nil
	}})
	ctx := context.Background()
	id := e.createDomain(t, iamDomainInput("which"))
	arn := map[string]string{}
	for _, n := range []string{"domain", "space-default", "owner", "space", "explicit", "fails"} {
		script := "#!/bin/bash\necho " + n + "\n"
		if n == "fails" {
			script += "exit 3\n"
		}
		arn[n] = createLCC(t, e, n, "JupyterLab", script)
	}
	arn["code-editor"] = createLCC(t, e, "code-editor", "CodeEditor", "#!/bin/bash\necho ce\n")
	jl := func(lcc string) *smtypes.JupyterLabAppSettings {
		return &smtypes.JupyterLabAppSettings{DefaultResourceSpec: &smtypes.ResourceSpec{LifecycleConfigArn: aws.String(lcc)}}
	}
	if _, err := e.sm.UpdateDomain(ctx, &sagemaker.UpdateDomainInput{DomainId: &id,
		DefaultUserSettings:  &smtypes.UserSettings{JupyterLabAppSettings: jl(arn["domain"])},
		DefaultSpaceSettings: &smtypes.DefaultSpaceSettings{ExecutionRole: aws.String(testRole), JupyterLabAppSettings: jl(arn["space-default"])},
	}); err != nil {
		t.Fatal(err)
	}
	e.createSpace(t, id, "s1", "JupyterLab") // owner alice has no settings of her own
	e.createProfile(t, id, "bob")
	if _, err := e.sm.UpdateUserProfile(ctx, &sagemaker.UpdateUserProfileInput{DomainId: &id, UserProfileName: aws.String("bob"),
		UserSettings: &smtypes.UserSettings{JupyterLabAppSettings: jl(arn["owner"])}}); err != nil {
		t.Fatal(err)
	}
	mkSpace := func(name, owner string, settings *smtypes.SpaceSettings) {
		settings.AppType = smtypes.AppTypeJupyterLab
		sharing := smtypes.SharingTypePrivate
		if name == "shared" {
			sharing = smtypes.SharingTypeShared
		}
		if _, err := e.sm.CreateSpace(ctx, &sagemaker.CreateSpaceInput{DomainId: &id, SpaceName: &name, SpaceSettings: settings,
			OwnershipSettings:    &smtypes.OwnershipSettings{OwnerUserProfileName: &owner},
			SpaceSharingSettings: &smtypes.SpaceSharingSettings{SharingType: sharing}}); err != nil {
			t.Fatal(err)
		}
	}
	spaceJL := func(lcc string) *smtypes.SpaceJupyterLabAppSettings {
		return &smtypes.SpaceJupyterLabAppSettings{DefaultResourceSpec: &smtypes.ResourceSpec{LifecycleConfigArn: aws.String(lcc)}}
	}
	mkSpace("s2", "bob", &smtypes.SpaceSettings{})
	mkSpace("shared", "bob", &smtypes.SpaceSettings{}) // not bob's alone: his defaults do not apply
	mkSpace("s3", "bob", &smtypes.SpaceSettings{JupyterLabAppSettings: spaceJL(arn["space"])})
	mkSpace("s4", "bob", &smtypes.SpaceSettings{JupyterLabAppSettings: spaceJL("None")})
	mkSpace("s5", "alice", &smtypes.SpaceSettings{JupyterLabAppSettings: spaceJL(arn["code-editor"])})
	mkSpace("s6", "alice", &smtypes.SpaceSettings{JupyterLabAppSettings: spaceJL(arn["fails"])})
	mkSpace("s7", "alice", &smtypes.SpaceSettings{JupyterLabAppSettings: spaceJL(strings.Replace(arn["fails"], "fails", "gone", 1))})

	for _, tc := range []struct {
		space, explicit string
		want            string // the LCC that ran, "" for none
		failure         string // in FailureReason, "" for InService
	}{
		{space: "s1", want: "space-default"},
		{space: "s2", want: "owner"},
		{space: "shared", want: "space-default"},
		{space: "s3", want: "space"},
		{space: "s3", explicit: arn["explicit"], want: "explicit"},
		{space: "s4", want: ""},
		{space: "s5", want: ""},
		{space: "s6", want: "fails", failure: "fails (" + arn["fails"] + ") exited with a non-zero exit code 3"},
		{space: "s7", failure: "studio-lifecycle-config/gone does not exist"},
	} {
		in := &sagemaker.CreateAppInput{DomainId: &id, SpaceName: aws.String(tc.space), AppType: smtypes.AppTypeJupyterLab}
		if tc.explicit != "" {
			in.AppName = aws.String("explicit") // s3 runs two apps
		}
		if tc.explicit != "" {
			in.ResourceSpec = &smtypes.ResourceSpec{LifecycleConfigArn: aws.String(tc.explicit)}
		}
		app := e.startApp(t, in)
		got := ""
		select {
		case r := <-ran:
			got = r.LCCName
			if r.Home != filepath.Join(ebsRoot, id, tc.space) || r.SpaceName != tc.space || r.AppType != "JupyterLab" || r.DomainID != id {
				t.Errorf("%s: run %+v", tc.space, r)
			}
			if !strings.Contains(string(r.Script), "echo "+r.LCCName) {
				t.Errorf("%s: script %q is not the decoded content of %s", tc.space, r.Script, r.LCCName)
			}
		default:
		}
		if got != tc.want {
			t.Errorf("space %s (explicit %q): ran %q, want %q", tc.space, tc.explicit, got, tc.want)
		}
		reason := aws.ToString(app.FailureReason)
		if tc.failure == "" && app.Status != smtypes.AppStatusInService || tc.failure != "" && (app.Status != smtypes.AppStatusFailed || !strings.Contains(reason, tc.failure)) {
			t.Errorf("space %s: app %s %q, want failure %q", tc.space, app.Status, reason, tc.failure)
		}
	}
}

// TestLCCBash: a Studio Classic app runs its profile's configuration with bash in the
// profile's EFS home, as the home's owner, with the resource metadata Studio writes;
// a script that exits 3 fails its app with a reason naming it, its exit and its last
// words.
func TestLCCBash(t *testing.T) {
	e, efsRoot, _ := newLCCEnv(t, &emulator.LCCRunner{Env: []string{"EXTRA=from-the-runner"}})
	ctx := context.Background()
	id := e.createDomain(t, iamDomainInput("bash"))
	p := e.createProfile(t, id, "carol")
	d, err := e.sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: &id})
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(efsRoot, aws.ToString(d.HomeEfsFileSystemId), aws.ToString(p.HomeEfsFileSystemUid))
	ok := createLCC(t, e, "whoami", "JupyterServer", `#!/bin/bash
set -eu
cd "$HOME_DIR"
{ id -u; id -g; pwd; echo "$HOME $EXTRA"; cat "$RESOURCE_METADATA"; } >lcc-ran
echo done
`)
	bad := createLCC(t, e, "breaks", "JupyterServer", "#!/bin/bash\necho 'cannot reach the bucket' >&2\nexit 3\n")

	app := e.startApp(t, &sagemaker.CreateAppInput{DomainId: &id, UserProfileName: aws.String("carol"), AppType: smtypes.AppTypeJupyterServer,
		ResourceSpec: &smtypes.ResourceSpec{LifecycleConfigArn: &ok}})
	if app.Status != smtypes.AppStatusInService {
		t.Fatalf("app %s: %s\n%s", app.Status, aws.ToString(app.FailureReason), lccLogs(e.em))
	}
	b, err := os.ReadFile(filepath.Join(home, "lcc-ran"))
	if err != nil {
		t.Fatalf("the script left no trace in the home: %v\n%s", err, lccLogs(e.em))
	}
	lines := strings.SplitN(string(b), "\n", 5)
	uid, gid := strconv.Itoa(os.Geteuid()), strconv.Itoa(os.Getegid())
	if os.Geteuid() == 0 {
		uid, gid = aws.ToString(p.HomeEfsFileSystemUid), strconv.Itoa(emulator.HomeGID)
	}
	if lines[0] != uid || lines[1] != gid || lines[2] != home || lines[3] != home+" from-the-runner" {
		t.Errorf("the script ran as %s:%s in %s with HOME and EXTRA %q; want %s:%s in %s", lines[0], lines[1], lines[2], lines[3], uid, gid, home)
	}
	var md map[string]string
	if err := json.Unmarshal([]byte(lines[4]), &md); err != nil {
		t.Fatalf("resource metadata %q: %v", lines[4], err)
	}
	want := map[string]string{"AppType": "JupyterServer", "DomainId": id, "UserProfileName": "carol", "ResourceName": "default",
		"ResourceArn": aws.ToString(app.AppArn), "ExecutionRoleArn": testRole, "AppImageVersion": ""}
	if d := cmp.Diff(want, md); d != "" {
		t.Errorf("resource metadata (-want +got):\n%s", d)
	}
	if fi, err := os.Stat(filepath.Join(home, "lcc-ran")); err == nil && os.Geteuid() == 0 {
		if st := fi.Sys().(*syscall.Stat_t); strconv.Itoa(int(st.Uid)) != uid {
			t.Errorf("the script's file is owned by %d, want %s", st.Uid, uid)
		}
	}
	if r := e.em.LCCRuns(); len(r) != 1 || r[0].ExitCode != 0 || r[0].Output != "done\n" {
		t.Errorf("runs %+v", r)
	}

	app = e.startApp(t, &sagemaker.CreateAppInput{DomainId: &id, UserProfileName: aws.String("carol"), AppType: smtypes.AppTypeJupyterServer,
		AppName: aws.String("second"), ResourceSpec: &smtypes.ResourceSpec{LifecycleConfigArn: &bad}})
	reason := aws.ToString(app.FailureReason)
	if app.Status != smtypes.AppStatusFailed || !strings.Contains(reason, "breaks") || !strings.Contains(reason, "exit code 3") ||
		!strings.Contains(reason, "cannot reach the bucket") {
		t.Errorf("app %s, reason %q: want Failed naming the LCC, its exit code and its last output", app.Status, reason)
	}
	if r := e.em.LCCRuns(); len(r) != 2 || r[1].ExitCode != 3 || r[1].Err != reason {
		t.Errorf("runs %+v", r)
	}
}

// TestLCCStops: a script over the time limit fails its app; DeleteApp kills the
// script of an app still starting (with what it started); Close kills what still runs
// and fails the app.
func TestLCCStops(t *testing.T) {
	t.Parallel() // it waits out a 10 s time limit
	// Two emulators: one with a short time limit, one with Studio's.
	short, _, shortEBS := newLCCEnv(t, &emulator.LCCRunner{Timeout: 10 * time.Second})
	long, _, longEBS := newLCCEnv(t, &emulator.LCCRunner{})
	ctx := context.Background()
	var e *env
	var id, ebsRoot, sleeper string
	use := func(em *env, root string) {
		e, ebsRoot = em, root
		id = e.createDomain(t, iamDomainInput("stops"))
		for _, s := range []string{"slow", "deleted", "closed"} {
			e.createSpace(t, id, s, "CodeEditor")
		}
		// The script and a child it starts write their pids into the home, then sleep.
		sleeper = createLCC(t, e, "sleeper", "CodeEditor", `#!/bin/bash
sleep 600 & echo $! >"$HOME_DIR/child.pid"
echo $$ >"$HOME_DIR/script.pid"
wait
`)
	}
	start := func(space string) *sagemaker.CreateAppInput {
		in := &sagemaker.CreateAppInput{DomainId: &id, SpaceName: aws.String(space), AppType: smtypes.AppTypeCodeEditor,
			AppName: aws.String("default"), ResourceSpec: &smtypes.ResourceSpec{LifecycleConfigArn: &sleeper}}
		if _, err := e.sm.CreateApp(ctx, in); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 2*time.Minute, "the script of "+space+" to start", e.em, func() bool {
			_, err := os.Stat(filepath.Join(ebsRoot, id, space, "script.pid"))
			return err == nil
		})
		return in
	}
	// gone waits until the script and its child have exited.
	gone := func(space string) {
		t.Helper()
		for _, f := range []string{"script.pid", "child.pid"} {
			b, err := os.ReadFile(filepath.Join(ebsRoot, id, space, f))
			if err != nil {
				t.Fatal(err)
			}
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			waitFor(t, time.Minute, fmt.Sprintf("%s (pid %d) of %s to be killed", f, pid, space), nil, func() bool {
				// Signal 0 finds zombies too; a zombie's /proc stat says Z.
				st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
				return err != nil || strings.Contains(string(st), ") Z ")
			})
		}
	}
	describe := func(in *sagemaker.CreateAppInput) *sagemaker.DescribeAppOutput {
		out, err := e.sm.DescribeApp(ctx, &sagemaker.DescribeAppInput{DomainId: in.DomainId, SpaceName: in.SpaceName, AppType: in.AppType, AppName: in.AppName})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	use(short, shortEBS)
	slow := start("slow")
	if app := describe(slow); app.Status != smtypes.AppStatusPending {
		t.Errorf("app with its script running: %s, want Pending", app.Status)
	}
	var app *sagemaker.DescribeAppOutput
	waitFor(t, 2*time.Minute, "the slow app to fail", e.em, func() bool {
		app = describe(slow)
		return app.Status != smtypes.AppStatusPending
	})
	if app.Status != smtypes.AppStatusFailed || !strings.Contains(aws.ToString(app.FailureReason), "did not finish within the lifecycle configuration time limit of 10s") {
		t.Errorf("slow app: %s %q", app.Status, aws.ToString(app.FailureReason))
	}
	gone("slow")

	use(long, longEBS)
	del := start("deleted")
	if _, err := e.sm.DeleteApp(ctx, &sagemaker.DeleteAppInput{DomainId: &id, SpaceName: del.SpaceName, AppType: del.AppType, AppName: del.AppName}); err != nil {
		t.Fatalf("deleting an app whose script runs: %v", err)
	}
	gone("deleted")
	waitFor(t, time.Minute, "the deleted app's run to be recorded", e.em, func() bool {
		for _, r := range e.em.LCCRuns() {
			if r.SpaceName == "deleted" && !r.Finished.IsZero() {
				return strings.Contains(r.Err, "killed: the app was deleted")
			}
		}
		return false
	})
	if app := describe(del); app.Status != smtypes.AppStatusDeleted {
		t.Errorf("deleted app: %s", app.Status)
	}

	closed := start("closed")
	if err := e.em.Close(); err != nil {
		t.Fatal(err)
	}
	gone("closed")
	if app := describe(closed); app.Status != smtypes.AppStatusFailed || !strings.Contains(aws.ToString(app.FailureReason), "the emulator closed") {
		t.Errorf("app whose script Close killed: %s %q", app.Status, aws.ToString(app.FailureReason))
	}
}
