package awsconfig

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
)

func TestLoadFlagsWin(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	cfg, err := Load(context.Background(), Options{Region: "us-east-2", EndpointURL: "http://127.0.0.1:1234"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "us-east-2" {
		t.Errorf("region = %q, want the flag's us-east-2", cfg.Region)
	}
	if cfg.BaseEndpoint == nil || *cfg.BaseEndpoint != "http://127.0.0.1:1234" {
		t.Errorf("BaseEndpoint = %v", cfg.BaseEndpoint)
	}
	if got := cfg.Retryer().MaxAttempts(); got != DefaultMaxAttempts {
		t.Errorf("MaxAttempts = %d, want %d", got, DefaultMaxAttempts)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	_, err := Load(context.Background(), Options{})
	if err == nil || !strings.Contains(err.Error(), "--region") {
		t.Errorf("no region: err = %v", err)
	}
	_, err = Load(context.Background(), Options{Region: "us-east-1", EndpointURL: "localhost"})
	if err == nil || !strings.Contains(err.Error(), "--endpoint-url") {
		t.Errorf("bad endpoint: err = %v", err)
	}
}

// The service-specific variable and the flag must both reach a SageMaker client built
// from the loaded config: that is how every command finds the emulator.
func TestEndpointRouting(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  bool
		flag bool
	}{
		{name: "AWS_ENDPOINT_URL_SAGEMAKER", env: true},
		{name: "--endpoint-url", flag: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var target string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				target = r.Header.Get("X-Amz-Target")
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
				_, _ = w.Write([]byte(`{"Domains":[]}`))
			}))
			defer srv.Close()
			t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
			t.Setenv("AWS_ENDPOINT_URL_SAGEMAKER", "")
			o := Options{Region: "us-east-1"}
			if tc.env {
				t.Setenv("AWS_ENDPOINT_URL_SAGEMAKER", srv.URL)
			}
			if tc.flag {
				o.EndpointURL = srv.URL
			}
			cfg, err := Load(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sagemaker.NewFromConfig(cfg).ListDomains(context.Background(), &sagemaker.ListDomainsInput{}); err != nil {
				t.Fatalf("ListDomains through %s: %v", tc.name, err)
			}
			if target != "SageMaker.ListDomains" {
				t.Errorf("server saw X-Amz-Target %q, want SageMaker.ListDomains", target)
			}
		})
	}
}
