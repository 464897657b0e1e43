package main

import (
	"bytes"
	"context"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/identitystore/document"
	idstypes "github.com/aws/aws-sdk-go-v2/service/identitystore/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
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
