package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/emulator"
	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// cliJSON runs the Debian AWS CLI v2 against url and returns its JSON output.
func cliJSON(t *testing.T, url string, args ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/aws", append([]string{"--endpoint-url", url, "--output", "json"}, args...)...)
	cmd.Env = []string{
		"AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=",
		"AWS_EC2_METADATA_DISABLED=true", "HOME=" + t.TempDir(), "PATH=/usr/bin:/bin",
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Errorf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		return nil
	}
	var out map[string]any
	if stdout.Len() > 0 {
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
			t.Errorf("aws %s printed %q: %v", strings.Join(args, " "), stdout.String(), err)
		}
	}
	return out
}

// parallel runs fns at once (each CLI call starts a Python interpreter: seconds).
func parallel(fns ...func()) {
	var wg sync.WaitGroup
	for _, f := range fns {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	wg.Wait()
}

// startEmulatorCommand runs `migrator emulator args...` and returns its URL.
func startStrictEmulator(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	cmd := newRootCommand()
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append([]string{"emulator", "--listen", "127.0.0.1:0"}, args...))
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	urlRE := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := urlRE.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no URL printed; stdout %q stderr %q", out.String(), errOut.String())
	return ""
}

// sourceSnapshot builds the old SSO domain (trusted identity propagation on, a
// JupyterLab lifecycle configuration, three profiles with their own roles) in an
// in-process emulator and snapshots it to a file.
func sourceSnapshot(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	em := emulator.New(emulator.Options{Seed: 3})
	for _, u := range []string{"alice", "bob", "carol"} {
		em.AddIdentityCenterUser(u)
	}
	srv := httptest.NewServer(em)
	t.Cleanup(srv.Close)
	cfg, err := awsconfig.Load(ctx, awsconfig.Options{Region: "us-east-1", EndpointURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	sm := sagemaker.NewFromConfig(cfg)
	lcc, err := sm.CreateStudioLifecycleConfig(ctx, &sagemaker.CreateStudioLifecycleConfigInput{
		StudioLifecycleConfigName: aws.String("setup"), StudioLifecycleConfigAppType: smtypes.StudioLifecycleConfigAppTypeJupyterLab,
		StudioLifecycleConfigContent: aws.String("IyEvYmluL2Jhc2gKZWNobyBoaQo="),
	})
	if err != nil {
		t.Fatal(err)
	}
	role := "arn:aws:iam::123456789012:role/"
	d, err := sm.CreateDomain(ctx, &sagemaker.CreateDomainInput{
		DomainName: aws.String("research"), AuthMode: smtypes.AuthModeSso,
		VpcId: aws.String("vpc-0a1b2c3d4e5f60718"), SubnetIds: []string{"subnet-0123456789abcdef0"},
		DefaultUserSettings: &smtypes.UserSettings{
			ExecutionRole: aws.String(role + "Default"), SecurityGroups: []string{"sg-0aaaaaaaaaaaaaaa1"},
			JupyterLabAppSettings: &smtypes.JupyterLabAppSettings{LifecycleConfigArns: []string{aws.ToString(lcc.StudioLifecycleConfigArn)}},
		},
		DomainSettings: &smtypes.DomainSettings{TrustedIdentityPropagationSettings: &smtypes.TrustedIdentityPropagationSettings{Status: smtypes.FeatureStatusEnabled}},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(d.DomainId)
	if _, err := sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: &id}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "bob", "carol"} {
		if _, err := sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{
			DomainId: &id, UserProfileName: aws.String(name),
			SingleSignOnUserIdentifier: aws.String("UserName"), SingleSignOnUserValue: aws.String(name),
			UserSettings: &smtypes.UserSettings{ExecutionRole: aws.String(role + strings.ToUpper(name[:1]) + name[1:])},
		}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := studio.TakeSnapshot(ctx, studio.NewClients(cfg), id, studio.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.LifecycleConfigs) != 1 || s.LifecycleConfigs[0].Content != "IyEvYmluL2Jhc2gKZWNobyBoaQo=" {
		t.Fatalf("the snapshot did not keep the lifecycle configuration: %+v", s.LifecycleConfigs)
	}
	b, err := studio.MarshalSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "snap.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestPlanLive is the rehearsal of a rebuild in another account: the target world is
// built with the real AWS CLI v2 against `migrator emulator --strict-network`, and
// `plan --live` reports every problem of it in one run, each with its fix, exits 3,
// and creates nothing.
func TestPlanLive(t *testing.T) {
	testutil.RequireBinary(t, "apt-get install awscli", "/usr/bin/aws")
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "y")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	snap := sourceSnapshot(t)
	url := startStrictEmulator(t, "--strict-network", "--max-user-profiles-per-domain", "2",
		"--sso-user", "alice", "--sso-user", "bob", "--sso-user", "carol")

	trust := func(actions ...string) string {
		b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
			"Effect": "Allow", "Principal": map[string]any{"Service": "sagemaker.amazonaws.com"}, "Action": actions}}})
		return string(b)
	}
	ec2Trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	var vpc, key map[string]any
	parallel(
		func() { vpc = cliJSON(t, url, "ec2", "create-vpc", "--cidr-block", "10.2.0.0/16") },
		func() { key = cliJSON(t, url, "kms", "create-key", "--description", "studio home EFS") },
		func() {
			cliJSON(t, url, "iam", "create-role", "--role-name", "Default", "--assume-role-policy-document", trust("sts:AssumeRole"))
		},
		func() {
			cliJSON(t, url, "iam", "create-role", "--role-name", "Alice", "--assume-role-policy-document", ec2Trust)
		},
		func() {
			cliJSON(t, url, "iam", "create-role", "--role-name", "Bob", "--assume-role-policy-document", trust("sts:AssumeRole", "sts:SetContext"))
		},
		func() {
			cliJSON(t, url, "iam", "create-role", "--role-name", "Carol", "--assume-role-policy-document", trust("sts:AssumeRole", "sts:SetContext"))
		},
	)
	if t.Failed() {
		t.FailNow()
	}
	vpcID := vpc["Vpc"].(map[string]any)["VpcId"].(string)
	keyID := key["KeyMetadata"].(map[string]any)["KeyId"].(string)
	var subnet, sg map[string]any
	parallel(
		func() {
			subnet = cliJSON(t, url, "ec2", "create-subnet", "--vpc-id", vpcID, "--cidr-block", "10.2.1.0/24")
		},
		func() {
			sg = cliJSON(t, url, "ec2", "create-security-group", "--group-name", "studio", "--description", "Studio apps", "--vpc-id", vpcID)
		},
		func() { cliJSON(t, url, "kms", "disable-key", "--key-id", keyID) },
	)
	if t.Failed() {
		t.FailNow()
	}
	subnetID := subnet["Subnet"].(map[string]any)["SubnetId"].(string)
	sgID := sg["GroupId"].(string)

	// The new VPC is a typo: the subnet and the group are of the VPC that exists.
	stdout, stderr, err := runMigrator(t, "plan", "--snapshot", snap, "--live", "--endpoint-url", url, "--region", "us-east-1",
		"--domain-name", "research-v2", "--vpc-id", "vpc-0deadbeefdeadbeef", "--subnet-ids", subnetID,
		"--security-group-ids", sgID, "--kms-key-id", keyID)
	if code := cli.ExitCode(context.Background(), err); code != cli.ExitPlanErrors {
		t.Fatalf("plan --live exited %d (%v), want %d\nstdout:\n%s\nstderr:\n%s", code, err, cli.ExitPlanErrors, stdout, stderr)
	}
	for _, want := range []string{
		"VPC vpc-0deadbeefdeadbeef does not exist in us-east-1: create it",
		"subnet " + subnetID + " belongs to VPC " + vpcID + ", not to the new domain's VPC vpc-0deadbeefdeadbeef: pass --subnet-ids",
		"security group " + sgID + " (used in domain DefaultUserSettings.SecurityGroups) belongs to VPC " + vpcID + ", not to the new domain's VPC vpc-0deadbeefdeadbeef: create one",
		"KMS key " + keyID + " is Disabled: enable it (aws kms enable-key",
		"execution role arn:aws:iam::123456789012:role/Alice (used in user-profile/alice UserSettings.ExecutionRole) does not trust sagemaker.amazonaws.com",
		"execution role arn:aws:iam::123456789012:role/Default (used in domain DefaultUserSettings.ExecutionRole) does not allow sts:SetContext",
		"lifecycle configuration arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/setup (used in domain DefaultUserSettings.JupyterLabAppSettings.LifecycleConfigArns) does not exist in the target: recreate it from the snapshot's content",
		"3 user profiles to create, but the account's quota \"Maximum number of user profiles per domain\" (L-E0000002) is 2: request an increase",
		"Problems: 8 errors, 0 warnings",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan --live output lacks %q:\n%s", want, stdout)
		}
	}

	// Nothing was created in the target.
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx, awsconfig.Options{Region: "us-east-1", EndpointURL: url})
	if err != nil {
		t.Fatal(err)
	}
	sm := sagemaker.NewFromConfig(cfg)
	doms, err := sm.ListDomains(ctx, &sagemaker.ListDomainsInput{})
	if err != nil || len(doms.Domains) != 0 {
		t.Errorf("after plan --live: ListDomains = %+v, %v; want none", doms, err)
	}
	lccs, err := sm.ListStudioLifecycleConfigs(ctx, &sagemaker.ListStudioLifecycleConfigsInput{})
	if err != nil || len(lccs.StudioLifecycleConfigs) != 0 {
		t.Errorf("after plan --live: ListStudioLifecycleConfigs = %+v, %v; want none", lccs, err)
	}
	_ = errors.New
}
