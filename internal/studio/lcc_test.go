package studio

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/google/go-cmp/cmp"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

const existingLCC = "arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/existing"

func TestInstallLCCKeepsSettingsAndIsIdempotent(t *testing.T) {
	ctx := context.Background()
	em, c := newTestEnv(t, emulator.Options{ReadyAfter: 5 * time.Millisecond})
	p := testPlan("lcc", "IAM", 1, 0)
	p.Domain.DefaultUserSettings = json.RawMessage(`{"ExecutionRole":"` + testRolePrefix + `DomainDefault","SecurityGroups":["sg-0123456789abcdef0"],` +
		`"JupyterLabAppSettings":{"LifecycleConfigArns":["` + existingLCC + `"],"DefaultResourceSpec":{"InstanceType":"ml.t3.medium"},"CustomImages":[{"AppImageConfigName":"cfg","ImageName":"img"}]},` +
		`"KernelGatewayAppSettings":{"DefaultResourceSpec":{"LifecycleConfigArn":"` + existingLCC + `"}},` +
		`"StudioWebPortal":"ENABLED","FutureMember":{"x":1}}`)
	a := testApplier(c)
	d, err := a.CreateDomain(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	script := []byte("#!/bin/bash\nnohup backup.sh &\n")
	arn, err := a.InstallLCC(ctx, d.ID, "migrator-backup", "JupyterLab", script)
	if err != nil {
		t.Fatal(err)
	}
	// A KernelGateway default already exists: attached, the default kept.
	kgArn, err := a.InstallLCC(ctx, d.ID, "migrator-kg", "KernelGateway", script)
	if err != nil {
		t.Fatal(err)
	}
	// No CodeEditor settings at all: the member is created.
	ceArn, err := a.InstallLCC(ctx, d.ID, "migrator-ce", "CodeEditor", script)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"ExecutionRole":"` + testRolePrefix + `DomainDefault","SecurityGroups":["sg-0123456789abcdef0"],` +
		`"JupyterLabAppSettings":{"LifecycleConfigArns":["` + existingLCC + `","` + arn + `"],"DefaultResourceSpec":{"InstanceType":"ml.t3.medium","LifecycleConfigArn":"` + arn + `"},"CustomImages":[{"AppImageConfigName":"cfg","ImageName":"img"}]},` +
		`"KernelGatewayAppSettings":{"LifecycleConfigArns":["` + kgArn + `"],"DefaultResourceSpec":{"LifecycleConfigArn":"` + existingLCC + `"}},` +
		`"CodeEditorAppSettings":{"LifecycleConfigArns":["` + ceArn + `"],"DefaultResourceSpec":{"LifecycleConfigArn":"` + ceArn + `"}},` +
		`"StudioWebPortal":"ENABLED","FutureMember":{"x":1}}`
	var body []byte
	out, err := findDomainByID(ctx, c.SageMaker, d.ID, &body)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != smtypes.DomainStatusInService {
		t.Errorf("domain is %s after InstallLCC, want InService", out.Status)
	}
	if got := member(t, body, "DefaultUserSettings"); got != canon(t, json.RawMessage(want)) {
		t.Errorf("DefaultUserSettings:\n got %s\nwant %s", got, canon(t, json.RawMessage(want)))
	}
	lcc, err := c.SageMaker.DescribeStudioLifecycleConfig(ctx, &sagemaker.DescribeStudioLifecycleConfigInput{StudioLifecycleConfigName: aws.String("migrator-backup")})
	if err != nil {
		t.Fatal(err)
	}
	if lcc.StudioLifecycleConfigAppType != "JupyterLab" || aws.ToString(lcc.StudioLifecycleConfigArn) != arn {
		t.Errorf("lifecycle configuration %+v", lcc)
	}

	before := createCalls(em)
	again, err := a.InstallLCC(ctx, d.ID, "migrator-backup", "JupyterLab", script)
	if err != nil || again != arn {
		t.Fatalf("re-install: %q, %v; want %q", again, err, arn)
	}
	if diff := cmp.Diff(before, createCalls(em)); diff != "" {
		t.Errorf("re-install made calls (-before +after):\n%s", diff)
	}
	if _, err := a.InstallLCC(ctx, d.ID, "migrator-backup", "JupyterLab", []byte("#!/bin/bash\necho v2\n")); !errors.Is(err, ErrLCCContentDiffers) {
		t.Errorf("install of other content under the same name: %v, want ErrLCCContentDiffers", err)
	}
	if _, err := a.InstallLCC(ctx, d.ID, "x", "TensorBoard", script); err == nil {
		t.Error("an app type without lifecycle configurations was accepted")
	}
}

func createTestApp(t *testing.T, c Clients, domainID string, owner AppOwner, appType, name string, spec string) {
	t.Helper()
	in := &sagemaker.CreateAppInput{
		DomainId: aws.String(domainID), AppType: smtypes.AppType(appType), AppName: aws.String(name),
		Tags: []smtypes.Tag{{Key: aws.String("owner"), Value: aws.String("test")}},
	}
	if owner.UserProfileName != "" {
		in.UserProfileName = aws.String(owner.UserProfileName)
	} else {
		in.SpaceName = aws.String(owner.SpaceName)
	}
	var opts []func(*sagemaker.Options)
	if spec != "" {
		opts = append(opts, withMembers(map[string]json.RawMessage{"ResourceSpec": json.RawMessage(spec)}))
	}
	if _, err := c.SageMaker.CreateApp(context.Background(), in, opts...); err != nil {
		t.Fatal(err)
	}
}

func TestRestartApp(t *testing.T) {
	ctx := context.Background()
	em, c := newTestEnv(t, emulator.Options{ReadyAfter: 5 * time.Millisecond})
	a := testApplier(c)
	res, err := a.Apply(ctx, testPlan("restart", "IAM", 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	spec := `{"InstanceType":"ml.t3.medium","LifecycleConfigArn":"` + existingLCC + `","SageMakerImageArn":"arn:aws:sagemaker:us-east-1:081325390199:image/jupyter-server-3"}`
	owner := AppOwner{UserProfileName: "user-000"}
	createTestApp(t, c, res.Domain.ID, owner, "JupyterServer", "default", spec)
	if err := a.RestartApp(ctx, res.Domain.ID, owner, "JupyterServer", "default"); err != nil {
		t.Fatal(err)
	}
	var body []byte
	out, err := findAppByName(ctx, c.SageMaker, res.Domain.ID, owner, "JupyterServer", "default", &body)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != smtypes.AppStatusInService {
		t.Errorf("app is %s after restart", out.Status)
	}
	if got := member(t, body, "ResourceSpec"); got != canon(t, json.RawMessage(spec)) {
		t.Errorf("ResourceSpec after restart:\n got %s\nwant %s", got, canon(t, json.RawMessage(spec)))
	}
	if em.Calls("DeleteApp") != 1 || em.Calls("CreateApp") != 2 {
		t.Errorf("DeleteApp %d, CreateApp %d calls; want 1 and 2", em.Calls("DeleteApp"), em.Calls("CreateApp"))
	}
	if got := tagMap(t, c, aws.ToString(out.AppArn)); got["owner"] != "test" || got[JobTagKey] != "job-1" {
		t.Errorf("tags after restart %v", got)
	}

	// A crash between delete and create: the app is Deleted; a rerun creates it.
	spaceOwner := AppOwner{SpaceName: "space-000"}
	createTestApp(t, c, res.Domain.ID, spaceOwner, "JupyterLab", "default", `{"InstanceType":"ml.t3.large"}`)
	if err := a.waitAppInService(ctx, c.SageMaker, res.Domain.ID, spaceOwner, "JupyterLab", "default"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SageMaker.DeleteApp(ctx, &sagemaker.DeleteAppInput{DomainId: aws.String(res.Domain.ID), SpaceName: aws.String("space-000"), AppType: "JupyterLab", AppName: aws.String("default")}); err != nil {
		t.Fatal(err)
	}
	if err := a.RestartApp(ctx, res.Domain.ID, spaceOwner, "JupyterLab", "default"); err != nil {
		t.Fatal(err)
	}
	if err := a.RestartApp(ctx, res.Domain.ID, owner, "JupyterServer", "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("restarting an app that never existed: %v, want ErrNotFound", err)
	}
}

func TestCleanup(t *testing.T) {
	ctx := context.Background()
	root, ebsRoot := t.TempDir(), t.TempDir()
	em, c := newTestEnv(t, emulator.Options{ReadyAfter: 5 * time.Millisecond, EFSRoot: root, EBSRoot: ebsRoot})
	a := testApplier(c)
	build := func(name, job string) *Result {
		a := testApplier(c)
		a.JobID = job
		res, err := a.Apply(ctx, testPlan(name, "IAM", 3, 2))
		if err != nil {
			t.Fatal(err)
		}
		createTestApp(t, c, res.Domain.ID, AppOwner{UserProfileName: "user-000"}, "JupyterServer", "default", "")
		createTestApp(t, c, res.Domain.ID, AppOwner{SpaceName: "space-001"}, "JupyterLab", "default", `{"InstanceType":"ml.t3.medium"}`)
		em.FailNext("App", "broken", "The instance type is not available.")
		createTestApp(t, c, res.Domain.ID, AppOwner{UserProfileName: "user-002"}, "KernelGateway", "broken", "")
		return res
	}
	kept := build("keep-efs", "job-a")
	// Apps still Pending, a space already deleted by hand: Cleanup copes with both.
	if _, err := c.SageMaker.DeleteSpace(ctx, &sagemaker.DeleteSpaceInput{DomainId: aws.String(kept.Domain.ID), SpaceName: aws.String("space-000")}); err != nil {
		t.Fatal(err)
	}
	// The JupyterLab spaces keep their homes on EBS volumes, which go with the
	// spaces: without a completed backup of each, Cleanup refuses and deletes nothing.
	vol := filepath.Join(ebsRoot, kept.Domain.ID, "space-001")
	if _, err := os.Stat(vol); err != nil {
		t.Fatalf("the EBS volume of space-001: %v", err)
	}
	for _, o := range []CleanupOptions{{}, {Backups: backedUp{"space-000": true}}} {
		if err := a.Cleanup(ctx, kept.Domain.ID, o); !errors.Is(err, ErrEBSHomeNotBackedUp) || !strings.Contains(err.Error(), "space-001") {
			t.Fatalf("Cleanup without a backup of space-001: %v, want ErrEBSHomeNotBackedUp naming it", err)
		}
	}
	if n := em.Calls("DeleteApp") + em.Calls("DeleteUserProfile") + em.Calls("DeleteDomain"); n != 0 {
		t.Fatalf("a refused Cleanup made %d delete calls", n)
	}
	if err := a.Cleanup(ctx, kept.Domain.ID, CleanupOptions{Backups: backedUp{"space-000": true, "space-001": true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(vol); !os.IsNotExist(err) {
		t.Errorf("the EBS volume of a deleted space is still there: %v", err)
	}
	if _, err := findDomainByID(ctx, c.SageMaker, kept.Domain.ID, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("domain after Cleanup: %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(root, kept.Domain.HomeEfsFileSystemID)); err != nil {
		t.Errorf("the home EFS was not retained: %v", err)
	}
	// Done is done.
	if err := a.Cleanup(ctx, kept.Domain.ID, CleanupOptions{}); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}

	gone := build("drop-efs", "job-b")
	// Force deletes EBS homes that have no backup.
	if err := a.Cleanup(ctx, gone.Domain.ID, CleanupOptions{DeleteHomeEFS: true, Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, gone.Domain.HomeEfsFileSystemID)); !os.IsNotExist(err) {
		t.Errorf("the home EFS was kept with DeleteHomeEFS: %v", err)
	}
	if n := em.Calls("DeleteDomain"); n != 2 {
		t.Errorf("%d DeleteDomain calls, want 2", n)
	}
}

// backedUp is a BackupChecker that knows which spaces have a completed backup.
type backedUp map[string]bool

func (b backedUp) HasCompletedBackup(_ context.Context, _, space string) (bool, error) {
	return b[space], nil
}
