package awsconfig

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smithylogging "github.com/aws/smithy-go/logging"
)

// syncBuffer is a log sink safe for the SDK's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func debugLogger() (*slog.Logger, *syncBuffer) {
	var buf syncBuffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

func isolate(t *testing.T) {
	t.Helper()
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_SAGEMAKER", "")
	t.Setenv("AWS_NEW_RETRIES_2026", "")
}

// closedPort returns the URL of a local port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// A wrong --endpoint-url used to be retried 12 times with backoff up to 20 s (about
// 2.5 minutes of silence); now it fails within seconds, naming the endpoint.
func TestUnreachableEndpointFailsFast(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "y")
	endpoint := closedPort(t)
	log, logs := debugLogger()
	cfg, err := Load(context.Background(), Options{Region: "us-east-1", EndpointURL: endpoint, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err = sagemaker.NewFromConfig(cfg).ListDomains(ctx, &sagemaker.ListDomainsInput{})
	took := time.Since(start)
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("after %v: err = %v, want an UnreachableError", took, err)
	}
	if took > 5*time.Second {
		t.Errorf("took %v to give up on a closed port", took)
	}
	if ue.Endpoint != endpoint || !strings.Contains(err.Error(), "cannot reach the AWS endpoint "+endpoint) ||
		!strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "--endpoint-url") {
		t.Errorf("message: %v", err)
	}
	if !strings.Contains(logs.String(), "level=DEBUG msg=\"aws call: endpoint unreachable, trying once more\"") {
		t.Errorf("retry not logged at debug:\n%s", logs)
	}
}

// A name that does not resolve is reported the same way (the standard retryer gives
// up on NXDOMAIN at once, with a raw error).
func TestUnresolvableEndpoint(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "y")
	cfg, err := Load(context.Background(), Options{Region: "us-east-1", EndpointURL: "http://no-such-host.invalid:4566", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a resolver with no DNS server answers after its own timeouts
	defer cancel()
	_, err = sagemaker.NewFromConfig(cfg).ListDomains(ctx, &sagemaker.ListDomainsInput{})
	var ue *UnreachableError
	if !errors.As(err, &ue) || ue.Endpoint != "http://no-such-host.invalid:4566" {
		t.Fatalf("err = %v, want an UnreachableError naming the endpoint", err)
	}
}

// Throttling is still retried, each retry said at debug level.
func TestThrottlingIsRetried(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "y")
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"ThrottlingException","message":"Rate exceeded"}`))
			return
		}
		_, _ = w.Write([]byte(`{"Domains":[]}`))
	}))
	defer srv.Close()
	log, logs := debugLogger()
	cfg, err := Load(context.Background(), Options{Region: "us-east-1", EndpointURL: srv.URL, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sagemaker.NewFromConfig(cfg).ListDomains(context.Background(), &sagemaker.ListDomainsInput{}); err != nil {
		t.Fatalf("throttled twice, then: %v", err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d calls, want 3", n)
	}
	if got := strings.Count(logs.String(), `msg="aws call: retrying"`); got != 2 {
		t.Errorf("%d retries logged, want 2:\n%s", got, logs)
	}
}

// No credentials anywhere: the error says what is missing and how to provide it,
// and the SDK's own warnings (here the IMDSv1 fallback) go through slog.
func TestNoCredentials(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "")
	// An instance metadata service that refuses tokens and knows no role, as on a
	// machine outside EC2 behind a proxy.
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	defer imds.Close()
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a call was sent without credentials")
	}))
	defer api.Close()
	log, logs := debugLogger()
	cfg, err := Load(context.Background(), Options{Region: "us-east-1", EndpointURL: api.URL, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sagemaker.NewFromConfig(cfg).ListDomains(context.Background(), &sagemaker.ListDomainsInput{})
	var ce *CredentialsError
	if !errors.As(err, &ce) || !ce.NoneFound {
		t.Fatalf("err = %v, want a CredentialsError with nothing found", err)
	}
	for _, want := range []string{"no AWS credentials found", "--profile", "AWS_PROFILE", "aws sso login", "AWS_ACCESS_KEY_ID"} {
		if !strings.Contains(ce.Error(), want) {
			t.Errorf("message lacks %q: %s", want, ce.Error())
		}
	}
	if !strings.Contains(logs.String(), `level=DEBUG msg="aws sdk: falling back to IMDSv1`) || strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("the SDK's IMDS fallback is not a debug line of our log:\n%s", logs)
	}
	// Other SDK warnings stay warnings, in our format.
	cfg.Logger.Logf(smithylogging.Warn, "checksum %s", "mismatch")
	if !strings.Contains(logs.String(), `level=WARN msg="aws sdk: checksum mismatch"`) {
		t.Errorf("SDK warning not routed through slog:\n%s", logs)
	}
}

func TestUnknownProfile(t *testing.T) {
	isolate(t)
	_, err := Load(context.Background(), Options{Region: "us-east-1", Profile: "nosuch"})
	if err == nil || !strings.Contains(err.Error(), `AWS profile "nosuch" not found`) || !strings.Contains(err.Error(), "--profile") {
		t.Errorf("err = %v", err)
	}
}
