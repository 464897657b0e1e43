package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// awsCLI runs the Debian AWS CLI v2 against url. The CLI validates every request
// against the real service model before sending it and parses answers with botocore,
// so this proves the wire format is the real one. It returns stdout parsed as JSON (nil
// when empty), stderr and the exit code.
func awsCLI(t *testing.T, bin, url string, args ...string) (map[string]any, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
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

func mustCLI(t *testing.T, bin, url string, args ...string) map[string]any {
	t.Helper()
	out, stderr, code := awsCLI(t, bin, url, args...)
	if code != 0 {
		t.Fatalf("aws %s exited %d: %s", strings.Join(args, " "), code, stderr)
	}
	return out
}

func TestAWSCLI(t *testing.T) {
	t.Parallel()
	bin := testutil.RequireBinary(t, "apt-get install awscli", "/usr/bin/aws")
	e := newEnv(t, emulator.Options{})
	aliceID := e.em.AddIdentityCenterUser("alice")
	store := e.em.IdentityStoreID()
	ctx := context.Background()

	created := mustCLI(t, bin, e.url, "sagemaker", "create-domain", "--domain-name", "cli-domain", "--auth-mode", "IAM",
		"--default-user-settings", `{"ExecutionRole":"`+testRole+`","SecurityGroups":["sg-0123456789abcdef0"]}`,
		"--vpc-id", "vpc-0123456789abcdef0", "--subnet-ids", "subnet-0123456789abcdef0", "subnet-0fedcba9876543210",
		"--app-network-access-type", "VpcOnly", "--tags", "Key=team,Value=ml")
	arn, _ := created["DomainArn"].(string)
	domainID := arn[strings.LastIndex(arn, "/")+1:]
	if !strings.HasPrefix(arn, "arn:aws:sagemaker:us-east-1:123456789012:domain/d-") {
		t.Fatalf("create-domain printed %v", created)
	}
	// More profiles than one page, made through the SDK to keep CLI calls few.
	for i := range 4 {
		e.createProfile(t, domainID, fmt.Sprint("sdk-", i))
	}

	// Independent calls run side by side: each CLI start costs about a second.
	t.Run("calls", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			args  []string
			check func(t *testing.T, out map[string]any)
		}{
			{"describe-domain", []string{"sagemaker", "describe-domain", "--domain-id", domainID}, func(t *testing.T, out map[string]any) {
				if out["Status"] != "InService" || out["DomainName"] != "cli-domain" || out["AppNetworkAccessType"] != "VpcOnly" {
					t.Errorf("describe-domain = %v", out)
				}
				// The CLI prints timestamps it parsed as dates, not numbers.
				for _, k := range []string{"CreationTime", "LastModifiedTime"} {
					s, _ := out[k].(string)
					if _, err := time.Parse("2006-01-02T15:04:05.999999-07:00", s); err != nil {
						t.Errorf("%s = %v, not a date: %v", k, out[k], err)
					}
				}
				if subnets, _ := out["SubnetIds"].([]any); len(subnets) != 2 {
					t.Errorf("SubnetIds = %v", out["SubnetIds"])
				}
			}},
			{"create-user-profile", []string{"sagemaker", "create-user-profile", "--domain-id", domainID, "--user-profile-name", "cli-user",
				"--tags", "Key=studiouserid,Value=cli-user", "--user-settings", `{"ExecutionRole":"arn:aws:iam::123456789012:role/cli"}`}, func(t *testing.T, out map[string]any) {
				if out["UserProfileArn"] != "arn:aws:sagemaker:us-east-1:123456789012:user-profile/"+domainID+"/cli-user" {
					t.Errorf("create-user-profile = %v", out)
				}
			}},
			{"create-space", []string{"sagemaker", "create-space", "--domain-id", domainID, "--space-name", "team",
				"--space-settings", `{"JupyterServerAppSettings":{"DefaultResourceSpec":{"InstanceType":"system"}}}`}, func(t *testing.T, out map[string]any) {
				if !strings.HasSuffix(fmt.Sprint(out["SpaceArn"]), ":space/"+domainID+"/team") {
					t.Errorf("create-space = %v", out)
				}
			}},
			{"list-tags", []string{"sagemaker", "list-tags", "--resource-arn", arn}, func(t *testing.T, out map[string]any) {
				if fmt.Sprint(out["Tags"]) != "[map[Key:team Value:ml]]" {
					t.Errorf("list-tags = %v", out)
				}
			}},
			{"sso-admin list-instances", []string{"sso-admin", "list-instances"}, func(t *testing.T, out map[string]any) {
				inst, _ := out["Instances"].([]any)
				if len(inst) != 1 || inst[0].(map[string]any)["IdentityStoreId"] != store {
					t.Errorf("list-instances = %v", out)
				}
			}},
			{"identitystore get-user-id", []string{"identitystore", "get-user-id", "--identity-store-id", store,
				"--alternate-identifier", `{"UniqueAttribute":{"AttributePath":"userName","AttributeValue":"alice"}}`}, func(t *testing.T, out map[string]any) {
				if out["UserId"] != aliceID {
					t.Errorf("get-user-id = %v, want UserId %s", out, aliceID)
				}
			}},
			{"identitystore list-users", []string{"identitystore", "list-users", "--identity-store-id", store}, func(t *testing.T, out map[string]any) {
				users, _ := out["Users"].([]any)
				if len(users) != 1 || users[0].(map[string]any)["UserName"] != "alice" {
					t.Errorf("list-users = %v", out)
				}
			}},
			{"create-domain SSO", []string{"sagemaker", "create-domain", "--domain-name", "cli-sso", "--auth-mode", "SSO",
				"--default-user-settings", `{"ExecutionRole":"` + testRole + `"}`, "--vpc-id", "vpc-1", "--subnet-ids", "subnet-1"}, func(t *testing.T, out map[string]any) {
				if out["DomainArn"] == nil {
					t.Errorf("create-domain = %v", out)
				}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.check(t, mustCLI(t, bin, e.url, tc.args...))
			})
		}
		for _, tc := range []struct {
			name     string
			args     []string
			wantCode string
		}{
			{"describe unknown domain", []string{"sagemaker", "describe-domain", "--domain-id", "d-000000000000"}, "(ResourceNotFound)"},
			{"bad profile name", []string{"sagemaker", "create-user-profile", "--domain-id", domainID, "--user-profile-name", "bad_name"}, "(ValidationException)"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				out, stderr, code := awsCLI(t, bin, e.url, tc.args...)
				if code != 254 || !strings.Contains(stderr, tc.wantCode) {
					t.Errorf("exit %d, stderr %q, stdout %v; want exit 254 and %s", code, stderr, out, tc.wantCode)
				}
			})
		}
	})

	// The CLI follows NextToken itself: five profiles at two a page is three calls.
	before := e.em.Calls("ListUserProfiles")
	out := mustCLI(t, bin, e.url, "sagemaker", "list-user-profiles", "--domain-id-equals", domainID, "--page-size", "2")
	profiles, _ := out["UserProfiles"].([]any)
	var names []string
	for _, p := range profiles {
		names = append(names, p.(map[string]any)["UserProfileName"].(string))
	}
	if len(names) != 5 || !strings.Contains(strings.Join(names, ","), "cli-user") {
		t.Errorf("list-user-profiles = %v, want the 4 SDK profiles and cli-user", names)
	}
	if got := e.em.Calls("ListUserProfiles") - before; got != 3 {
		t.Errorf("list-user-profiles --page-size 2 made %d calls, want 3", got)
	}

	// What the CLI created reads back through the SDK too.
	p, err := e.sm.DescribeUserProfile(ctx, &sagemaker.DescribeUserProfileInput{DomainId: &domainID, UserProfileName: aws.String("cli-user")})
	if err != nil || aws.ToString(p.UserSettings.ExecutionRole) != "arn:aws:iam::123456789012:role/cli" {
		t.Errorf("profile made by the CLI: %+v, %v", p, err)
	}
	sso, err := e.sm.ListDomains(ctx, &sagemaker.ListDomainsInput{})
	if err != nil || len(sso.Domains) != 2 {
		t.Fatalf("ListDomains = %v, %v", sso, err)
	}
	for _, d := range sso.Domains {
		if aws.ToString(d.DomainName) != "cli-sso" {
			continue
		}
		out := mustCLI(t, bin, e.url, "sagemaker", "describe-domain", "--domain-id", aws.ToString(d.DomainId))
		if out["AuthMode"] != "SSO" || out["SingleSignOnManagedApplicationInstanceId"] == nil {
			t.Errorf("SSO domain through the CLI = %v", out)
		}
	}
}
