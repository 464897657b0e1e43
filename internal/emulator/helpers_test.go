package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/aws/smithy-go"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

// fakeClock lets tests step past ReadyAfter without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	em  *emulator.Emulator
	url string
	sm  *sagemaker.Client
	sso *ssoadmin.Client
	ids *identitystore.Client
}

// newEnv starts an emulator behind httptest and SDK clients pointed at it the way other
// packages will: BaseEndpoint, us-east-1, static credentials. Retries are off so that
// every error reaches the test.
func newEnv(t *testing.T, o emulator.Options) *env {
	t.Helper()
	em := emulator.New(o)
	srv := httptest.NewServer(em)
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
		BaseEndpoint: aws.String(srv.URL),
	}
	return &env{
		em:  em,
		url: srv.URL,
		sm:  sagemaker.NewFromConfig(cfg),
		sso: ssoadmin.NewFromConfig(cfg),
		ids: identitystore.NewFromConfig(cfg),
	}
}

// errCode returns the AWS error code of err ("" for nil).
func errCode(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error is not an AWS API error: %v", err)
	}
	return ae.ErrorCode()
}

const testRole = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole"

func iamDomainInput(name string) *sagemaker.CreateDomainInput {
	return &sagemaker.CreateDomainInput{
		DomainName:          aws.String(name),
		AuthMode:            smtypes.AuthModeIam,
		DefaultUserSettings: &smtypes.UserSettings{ExecutionRole: aws.String(testRole)},
		VpcId:               aws.String("vpc-0123456789abcdef0"),
		SubnetIds:           []string{"subnet-0123456789abcdef0"},
	}
}

func ssoDomainInput(name string) *sagemaker.CreateDomainInput {
	in := iamDomainInput(name)
	in.AuthMode = smtypes.AuthModeSso
	return in
}

func (e *env) createDomain(t *testing.T, in *sagemaker.CreateDomainInput) string {
	t.Helper()
	out, err := e.sm.CreateDomain(context.Background(), in)
	if err != nil {
		t.Fatalf("creating domain %s: %v", aws.ToString(in.DomainName), err)
	}
	return aws.ToString(out.DomainId)
}

func (e *env) createProfile(t *testing.T, domainID, name string) *sagemaker.DescribeUserProfileOutput {
	t.Helper()
	ctx := context.Background()
	if _, err := e.sm.CreateUserProfile(ctx, &sagemaker.CreateUserProfileInput{DomainId: &domainID, UserProfileName: &name}); err != nil {
		t.Fatalf("creating user profile %s: %v", name, err)
	}
	out, err := e.sm.DescribeUserProfile(ctx, &sagemaker.DescribeUserProfileInput{DomainId: &domainID, UserProfileName: &name})
	if err != nil {
		t.Fatalf("describing user profile %s: %v", name, err)
	}
	return out
}

// rawCall sends one JSON 1.1 request the way a hand-written client would, for requests
// the SDK refuses to send (missing required members) and for wire-level checks.
func rawCall(t *testing.T, url, target string, body any, header map[string]string) (int, http.Header, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x/20260301/us-east-1/sagemaker/aws4_request, SignedHeaders=host, Signature=00")
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("calling %s: %v", target, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s answered non-JSON %q: %v", target, raw, err)
	}
	return resp.StatusCode, resp.Header, out
}

// codeOf returns the AWS error code of an SDK error, or the code of an error made by
// the raw helper ("Code: message").
func codeOf(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	code, _, _ := strings.Cut(err.Error(), ":")
	return code
}
