package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/emulator"
	"github.com/studio-migrator/studio-migrator/internal/studio"
)

// runMigrator runs the root command with args and returns stdout, stderr and the error.
func runMigrator(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	out, errOut, _, err := runMigratorIn(t, context.Background(), "", args...)
	return out, errOut, err
}

// runMigratorIn runs the root command with args and stdin, the way main does, and
// returns stdout, stderr, the exit code and the error.
func runMigratorIn(t *testing.T, ctx context.Context, stdin string, args ...string) (string, string, int, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCommand()
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	_, code, err := cli.Execute(ctx, cmd)
	return out.String(), errOut.String(), code, err
}

// emulatorDomain serves an emulator holding an IAM domain with two profiles and a
// shared space, and returns its URL and the domain ID.
func emulatorDomain(t *testing.T) (string, string) {
	t.Helper()
	srv := httptest.NewServer(emulator.New(emulator.Options{Seed: 5}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "y")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx, awsconfig.Options{Region: "us-east-1", EndpointURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	sm := sagemaker.NewFromConfig(cfg)
	d, err := sm.CreateDomain(ctx, &sagemaker.CreateDomainInput{
		DomainName: aws.String("research"), AuthMode: smtypes.AuthModeIam,
		VpcId: aws.String("vpc-0a1b2c3d4e5f60718"), SubnetIds: []string{"subnet-0123456789abcdef0"},
		DefaultUserSettings: &smtypes.UserSettings{
			ExecutionRole:  aws.String("arn:aws:iam::123456789012:role/Default"),
			SecurityGroups: []string{"sg-0aaaaaaaaaaaaaaa1"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(d.DomainId)
	if _, err := sm.DescribeDomain(ctx, &sagemaker.DescribeDomainInput{DomainId: &id}); err != nil { // settles it InService
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "bob"} {
		if _, err := sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{
			DomainId: &id, UserProfileName: aws.String(name),
			Tags: []smtypes.Tag{{Key: aws.String("studiouserid"), Value: aws.String(name)}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sm.DescribeUserProfile(ctx, &sagemaker.DescribeUserProfileInput{DomainId: &id, UserProfileName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateSpace(ctx, &sagemaker.CreateSpaceInput{
		DomainId: &id, SpaceName: aws.String("team"),
		OwnershipSettings:    &smtypes.OwnershipSettings{OwnerUserProfileName: aws.String("alice")},
		SpaceSharingSettings: &smtypes.SpaceSharingSettings{SharingType: smtypes.SharingTypeShared},
		SpaceSettings:        &smtypes.SpaceSettings{AppType: smtypes.AppTypeJupyterLab},
	}); err != nil {
		t.Fatal(err)
	}
	return srv.URL, id
}

func TestSnapshotAndPlanCommands(t *testing.T) {
	url, id := emulatorDomain(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "snap.json")
	aws := []string{"--endpoint-url", url, "--region", "us-east-1"}

	// To a file, atomically: nothing but the document is left in the directory.
	if _, stderr, err := runMigrator(t, append([]string{"snapshot", "--domain", id, "-f", file}, aws...)...); err != nil {
		t.Fatalf("snapshot: %v\n%s", err, stderr)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the snapshot", len(entries))
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	s, err := studio.ReadSnapshot(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if s.Domain.ID != id || len(s.UserProfiles) != 2 || len(s.Spaces) != 1 || s.UserProfiles[0].Tags[0].Value != "alice" {
		t.Errorf("snapshot: %+v", s)
	}

	// To standard output: the same document apart from takenAt.
	stdout, _, err := runMigrator(t, append([]string{"snapshot", "--domain", id}, aws...)...)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := studio.ReadSnapshot(strings.NewReader(stdout))
	if err != nil {
		t.Fatalf("stdout is not a snapshot: %v\n%s", err, stdout)
	}
	s2.TakenAt = s.TakenAt
	b1, _ := studio.MarshalSnapshot(s)
	b2, _ := studio.MarshalSnapshot(s2)
	if !bytes.Equal(b1, b2) {
		t.Errorf("two snapshots of an unchanged domain differ:\n%s\n%s", b1, b2)
	}

	// A clean plan: text, exit 0.
	stdout, _, err = runMigrator(t, "plan", "--snapshot", file, "--domain-name", "research-v2", "--security-group-ids", "sg-0bbbbbbbbbbbbbbb2")
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, stdout)
	}
	for _, want := range []string{`as "research-v2" (IAM)`, "Problems: 0 errors, 0 warnings", "create-user-profile (2)", "copy-home (3)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, stdout)
		}
	}

	// JSON, with settings rewritten.
	stdout, _, err = runMigrator(t, "plan", "--snapshot", file, "--domain-name", "research-v2", "--security-group-ids", "sg-0bbbbbbbbbbbbbbb2", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var p studio.Plan
	if err := json.Unmarshal([]byte(stdout), &p); err != nil {
		t.Fatalf("--output json: %v\n%s", err, stdout)
	}
	var dus bytes.Buffer
	if err := json.Compact(&dus, p.Domain.DefaultUserSettings); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dus.String(), `"SecurityGroups":["sg-0bbbbbbbbbbbbbbb2"]`) || len(p.UserProfiles) != 2 {
		t.Errorf("JSON plan: %+v", p)
	}

	// Switching to SSO: the unmapped profile is an error (the shared space is allowed
	// on SSO domains); the plan is printed and the command fails.
	mapping := filepath.Join(dir, "users.csv")
	if err := os.WriteFile(mapping, []byte("profile,ssoUserName\nalice,alice@example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _, err = runMigrator(t, "plan", "--snapshot", file, "--domain-name", "v2", "--auth-mode", "SSO", "--user-mapping", mapping)
	if err == nil || !strings.Contains(err.Error(), "the plan has 1 error(s)") {
		t.Errorf("err = %v, want the plan's error", err)
	}
	if !strings.Contains(stdout, "missing for 1: bob") || strings.Contains(stdout, "ERROR   space/team") || !strings.Contains(stdout, "space/team [EBS]") {
		t.Errorf("plan with errors not printed:\n%s", stdout)
	}
}

func TestSnapshotCommandUnknownDomain(t *testing.T) {
	url, _ := emulatorDomain(t)
	file := filepath.Join(t.TempDir(), "snap.json")
	_, _, err := runMigrator(t, "snapshot", "--domain", "d-nosuchdomain", "-f", file, "--endpoint-url", url, "--region", "us-east-1")
	if err == nil || !strings.Contains(err.Error(), "domain d-nosuchdomain not found in us-east-1: check --domain and --region") {
		t.Errorf("err = %v", err)
	}
	if _, serr := os.Stat(file); !os.IsNotExist(serr) {
		t.Errorf("a failed snapshot left %s behind", file)
	}
}

func TestPlanCommandBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := `{"schemaVersion":1,"takenAt":"2026-01-02T03:04:05Z","region":"us-east-1","domain":{"domainId":"d-1","domainArn":"","domainName":"x","authMode":"IAM","vpcId":"vpc-0a1b2c3d4e5f60718","subnetIds":["subnet-0123456789abcdef0"],"tags":[]},"userProfiles":[{"userProfileName":"alice","homeEfsFileSystemUid":"200001","tags":[]}],"spaces":[]}`
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"malformed", []string{"--snapshot", write("bad.json", `{"schemaVersion":`)}, "bad snapshot: not a snapshot document"},
		{"future schema", []string{"--snapshot", write("future.json", strings.Replace(good, `"schemaVersion":1`, `"schemaVersion":99`, 1))}, "schemaVersion 99 is newer than this migrator understands"},
		{"missing file", []string{"--snapshot", filepath.Join(dir, "nope.json")}, "--snapshot: open"},
		{"bad output", []string{"--snapshot", write("good.json", good), "--output", "yaml"}, `--output "yaml"`},
		{"bad mapping", []string{"--snapshot", write("good2.json", good), "--auth-mode", "SSO", "--user-mapping", write("m.csv", "alice\n")}, "line 1: want 2 columns"},
		{"no snapshot flag", nil, `"snapshot" not set`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runMigrator(t, append([]string{"plan"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
