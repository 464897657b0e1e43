package awsconfig

import (
	"context"
	"strings"
	"testing"
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
	if got := cfg.Retryer().MaxAttempts(); got != 12 {
		t.Errorf("MaxAttempts = %d, want 12", got)
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
