package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/identitystore/document"
	idstypes "github.com/aws/aws-sdk-go-v2/service/identitystore/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// syncBuffer lets the test read what the command prints while it is still running.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestEmulatorCommandServesTheAPI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	cmd := newRootCommand()
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"emulator", "--listen", "127.0.0.1:0", "--efs-root", t.TempDir(), "--sso-user", "alice"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	urlRE := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := urlRE.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatalf("no URL printed; stdout %q stderr %q", out.String(), errOut.String())
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "y")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	cfg, err := awsconfig.Load(ctx, awsconfig.Options{Region: "us-east-1", EndpointURL: url})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sagemaker.NewFromConfig(cfg).ListDomains(ctx, &sagemaker.ListDomainsInput{}); err != nil {
		t.Fatalf("ListDomains against the served emulator: %v", err)
	}
	storeID := regexp.MustCompile(`identity store (\S+)`).FindStringSubmatch(out.String())
	if storeID == nil {
		t.Fatalf("identity store not printed: %q", out.String())
	}
	_, err = identitystore.NewFromConfig(cfg).GetUserId(ctx, &identitystore.GetUserIdInput{
		IdentityStoreId: aws.String(storeID[1]),
		AlternateIdentifier: &idstypes.AlternateIdentifierMemberUniqueAttribute{Value: idstypes.UniqueAttribute{
			AttributePath: aws.String("userName"), AttributeValue: document.NewLazyDocument("alice"),
		}},
	})
	if err != nil {
		t.Errorf("--sso-user alice was not created: %v", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("emulator exited with %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("emulator did not stop after its context was cancelled")
	}
}

func TestEmulatorCommandRejectsBadThrottleRate(t *testing.T) {
	cmd := newRootCommand()
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{"emulator", "--listen", "127.0.0.1:0", "--throttle-rate", "1.5"})
	if err := cmd.Execute(); err == nil || !regexp.MustCompile(`--throttle-rate`).MatchString(err.Error()) {
		t.Errorf("err = %v, want a --throttle-rate error", err)
	}
}

// startEmulatorCommand runs `migrator emulator` with args in process and returns its URL.
func startEmulatorCommand(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	cmd := newRootCommand()
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append([]string{"emulator", "--listen", "127.0.0.1:0"}, args...))
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("emulator did not stop after its context was cancelled")
		}
	})
	urlRE := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := urlRE.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no URL printed; stdout %q stderr %q", out.String(), errOut.String())
	return ""
}

// awsCLIv2 runs the Debian AWS CLI v2 against url and returns stdout as JSON (nil when
// empty), stderr and the exit code.
func awsCLIv2(t *testing.T, bin, url string, args ...string) (map[string]any, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--endpoint-url", url, "--output", "json"}, args...)...)
	cmd.Env = []string{
		"AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=",
		"AWS_EC2_METADATA_DISABLED=true", "HOME=" + t.TempDir(), "PATH=/usr/bin:/bin",
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running aws %s: %v", strings.Join(args, " "), err)
	}
	var out map[string]any
	if stdout.Len() > 0 {
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
			t.Fatalf("aws %s printed non-JSON %q: %v", strings.Join(args, " "), stdout.String(), err)
		}
	}
	return out, stderr.String(), code
}

// TestEmulatorFaultFlagsWithAWSCLI drives every failure path the flags arm with the
// real AWS CLI v2, the way a shell script would: a create that settles Failed, an
// update that settles Update_Failed, a delete that settles Delete_Failed, a profile
// that stays Pending for a set time, and throttled calls.
func TestEmulatorFaultFlagsWithAWSCLI(t *testing.T) {
	bin := testutil.RequireBinary(t, "apt-get install awscli", "/usr/bin/aws")
	// Long enough that the CLI's create and describe fit in it on a loaded machine.
	const pendingFor = 30 * time.Second
	url := startEmulatorCommand(t,
		"--fail-create", "UserProfile/broken=Insufficient capacity in us-east-1a",
		"--fail-update", "Space/team=Volume resize failed",
		"--fail-delete", "UserProfile/leaver=ENI eni-0123 is still attached",
		"--pending", "UserProfile/slow="+pendingFor.String(),
		"--throttle-rate", "1", "--throttle-ops", "ListApps")
	aws := func(t *testing.T, args ...string) map[string]any {
		t.Helper()
		out, stderr, code := awsCLIv2(t, bin, url, args...)
		if code != 0 {
			t.Fatalf("aws %s exited %d: %s", strings.Join(args, " "), code, stderr)
		}
		return out
	}
	created := aws(t, "sagemaker", "create-domain", "--domain-name", "faults", "--auth-mode", "IAM",
		"--default-user-settings", `{"ExecutionRole":"arn:aws:iam::123456789012:role/Exec"}`,
		"--vpc-id", "vpc-0123456789abcdef0", "--subnet-ids", "subnet-0123456789abcdef0")
	arn, _ := created["DomainArn"].(string)
	domainID := arn[strings.LastIndex(arn, "/")+1:]
	profile := func(t *testing.T, name string) map[string]any {
		t.Helper()
		return aws(t, "sagemaker", "describe-user-profile", "--domain-id", domainID, "--user-profile-name", name)
	}
	want := func(t *testing.T, what string, out map[string]any, status, reason string) {
		t.Helper()
		if out["Status"] != status || (reason != "" && out["FailureReason"] != reason) {
			t.Errorf("%s: Status %v, FailureReason %v; want %s %q", what, out["Status"], out["FailureReason"], status, reason)
		}
	}

	// Independent paths run side by side: each CLI start costs about a second.
	t.Run("paths", func(t *testing.T) {
		t.Run("Pending for a set time", func(t *testing.T) {
			t.Parallel()
			slowAt := time.Now()
			aws(t, "sagemaker", "create-user-profile", "--domain-id", domainID, "--user-profile-name", "slow")
			want(t, "slow right after create", profile(t, "slow"), "Pending", "")
			// The held profile settles once its time is up, not before.
			for {
				out := profile(t, "slow")
				if out["Status"] == "InService" {
					if waited := time.Since(slowAt); waited < pendingFor {
						t.Errorf("slow was InService after %v, want at least %v", waited, pendingFor)
					}
					return
				}
				if out["Status"] != "Pending" || time.Since(slowAt) > pendingFor+90*time.Second {
					t.Fatalf("slow: %v after %v", out["Status"], time.Since(slowAt))
				}
				time.Sleep(time.Second)
			}
		})
		t.Run("Failed", func(t *testing.T) {
			t.Parallel()
			aws(t, "sagemaker", "create-user-profile", "--domain-id", domainID, "--user-profile-name", "broken")
			want(t, "broken", profile(t, "broken"), "Failed", "Insufficient capacity in us-east-1a")
		})
		t.Run("Update_Failed", func(t *testing.T) {
			t.Parallel()
			aws(t, "sagemaker", "create-space", "--domain-id", domainID, "--space-name", "team",
				"--space-settings", `{"JupyterServerAppSettings":{"DefaultResourceSpec":{"InstanceType":"system"}}}`)
			aws(t, "sagemaker", "update-space", "--domain-id", domainID, "--space-name", "team",
				"--space-settings", `{"KernelGatewayAppSettings":{"DefaultResourceSpec":{"InstanceType":"ml.t3.medium"}}}`)
			want(t, "team after update", aws(t, "sagemaker", "describe-space", "--domain-id", domainID, "--space-name", "team"), "Update_Failed", "Volume resize failed")
		})
		t.Run("Delete_Failed", func(t *testing.T) {
			t.Parallel()
			aws(t, "sagemaker", "create-user-profile", "--domain-id", domainID, "--user-profile-name", "leaver")
			aws(t, "sagemaker", "delete-user-profile", "--domain-id", domainID, "--user-profile-name", "leaver")
			want(t, "leaver after delete", profile(t, "leaver"), "Delete_Failed", "ENI eni-0123 is still attached")
			// Armed faults are used up: a second delete goes through.
			aws(t, "sagemaker", "delete-user-profile", "--domain-id", domainID, "--user-profile-name", "leaver")
			if _, stderr, code := awsCLIv2(t, bin, url, "sagemaker", "describe-user-profile", "--domain-id", domainID, "--user-profile-name", "leaver"); code == 0 || !strings.Contains(stderr, "ResourceNotFound") {
				t.Errorf("leaver after the second delete: exit %d, %s", code, stderr)
			}
		})
		t.Run("throttled", func(t *testing.T) {
			t.Parallel()
			// The CLI retries, then gives up with ThrottlingException; operations
			// outside --throttle-ops are not throttled (every other call here).
			if _, stderr, code := awsCLIv2(t, bin, url, "sagemaker", "list-apps", "--domain-id-equals", domainID); code != 254 || !strings.Contains(stderr, "ThrottlingException") || !strings.Contains(stderr, "Rate exceeded") {
				t.Errorf("list-apps under --throttle-rate 1: exit %d, stderr %q", code, stderr)
			}
		})
	})
}

func TestEmulatorCommandRejectsBadFaults(t *testing.T) {
	for _, args := range [][]string{
		{"--fail-create", "UserProfile/alice"},
		{"--fail-create", "Bucket/alice=x"},
		{"--fail-update", "App/x=y"},
		{"--pending", "Space/s=soon"},
		{"--lcc-env", "A=b"},                                         // without --run-lcc
		{"--lcc-env", "NOT SET", "--run-lcc"},                        // not a name
		{"--lcc-env", "MIGRATOR_SURELY_UNSET_VARIABLE", "--run-lcc"}, // nothing to pass on
		{"--lcc-timeout", "0s", "--run-lcc"},
	} {
		cmd := newRootCommand()
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		cmd.SetArgs(append([]string{"emulator", "--listen", "127.0.0.1:0"}, args...))
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), args[0]) || cli.ExitCode(context.Background(), err) != cli.ExitUsage {
			t.Errorf("%v: err %v (exit %d), want a usage error naming %s", args, err, cli.ExitCode(context.Background(), err), args[0])
		}
	}
}

// TestEmulatorRunsLCCWithAWSCLI: with --run-lcc, an app started with the AWS CLI runs
// its lifecycle configuration in the profile's home with the --lcc-env environment
// (KEY alone passes the emulator's own value), and a script that fails makes the app
// Failed with the reason describe-app shows.
func TestEmulatorRunsLCCWithAWSCLI(t *testing.T) {
	bin := testutil.RequireBinary(t, "apt-get install awscli", "/usr/bin/aws")
	efsRoot := t.TempDir()
	// The script runs as the home's owner: the folders above it must let it through.
	for _, d := range []string{efsRoot, filepath.Dir(efsRoot)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("MIGRATOR_TEST_LCC_TOKEN", "passed-through")
	url := startEmulatorCommand(t, "--efs-root", efsRoot, "--run-lcc",
		"--lcc-env", "GREETING=hello from --lcc-env", "--lcc-env", "MIGRATOR_TEST_LCC_TOKEN")
	cli := func(args ...string) map[string]any {
		t.Helper()
		out, stderr, code := awsCLIv2(t, bin, url, args...)
		if code != 0 {
			t.Fatalf("aws %s exited %d: %s", strings.Join(args, " "), code, stderr)
		}
		return out
	}
	// Set-up through the SDK (the CLI's start-up is slow on a loaded machine); the
	// LCC and app calls through the CLI.
	ctx := context.Background()
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "y")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	cfg, err := awsconfig.Load(ctx, awsconfig.Options{Region: "us-east-1", EndpointURL: url})
	if err != nil {
		t.Fatal(err)
	}
	sm := sagemaker.NewFromConfig(cfg)
	d, err := sm.CreateDomain(ctx, &sagemaker.CreateDomainInput{DomainName: aws.String("lcc"), AuthMode: smtypes.AuthModeIam,
		DefaultUserSettings: &smtypes.UserSettings{ExecutionRole: aws.String("arn:aws:iam::123456789012:role/Exec")},
		VpcId:               aws.String("vpc-0123456789abcdef0"), SubnetIds: []string{"subnet-0123456789abcdef0"}})
	if err != nil {
		t.Fatal(err)
	}
	domainID := aws.ToString(d.DomainId)
	if _, err := sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: &domainID, UserProfileName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	lcc := func(name, script string) string {
		out := cli("sagemaker", "create-studio-lifecycle-config", "--studio-lifecycle-config-name", name,
			"--studio-lifecycle-config-app-type", "JupyterServer",
			"--studio-lifecycle-config-content", base64.StdEncoding.EncodeToString([]byte(script)))
		return out["StudioLifecycleConfigArn"].(string)
	}
	good := lcc("greet", "#!/bin/bash\necho \"$GREETING $MIGRATOR_TEST_LCC_TOKEN\" >\"$HOME_DIR/greeting\"\n")
	bad := lcc("broken", "#!/bin/bash\necho 'pip install failed' >&2\nexit 3\n")
	for name, arn := range map[string]string{"default": good, "second": bad} {
		cli("sagemaker", "create-app", "--domain-id", domainID, "--user-profile-name", "alice", "--app-type", "JupyterServer",
			"--app-name", name, "--resource-spec", `{"LifecycleConfigArn":"`+arn+`"}`)
	}
	describe := func(name string) map[string]any {
		for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			out := cli("sagemaker", "describe-app", "--domain-id", domainID, "--user-profile-name", "alice", "--app-type", "JupyterServer", "--app-name", name)
			if out["Status"] != "Pending" || time.Now().After(deadline) {
				return out
			}
		}
	}
	if out := describe("default"); out["Status"] != "InService" {
		t.Fatalf("app with a good LCC: %v %v", out["Status"], out["FailureReason"])
	}
	greetings, _ := filepath.Glob(filepath.Join(efsRoot, "fs-*", "*", "greeting"))
	if len(greetings) != 1 {
		t.Fatalf("greeting files in the EFS homes: %v, want one", greetings)
	}
	if b, err := os.ReadFile(greetings[0]); err != nil || string(b) != "hello from --lcc-env passed-through\n" {
		t.Errorf("greeting in the home: %q, %v", b, err)
	}
	out := describe("second")
	if reason, _ := out["FailureReason"].(string); out["Status"] != "Failed" || !strings.Contains(reason, "broken") ||
		!strings.Contains(reason, "exit code 3") || !strings.Contains(reason, "pip install failed") {
		t.Errorf("app with a failing LCC: %v %q", out["Status"], reason)
	}
}
