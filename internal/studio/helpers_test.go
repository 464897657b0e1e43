package studio

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

// newTestEnv starts an emulator behind httptest and returns it with Clients pointed at
// it the way the CLI builds them: BaseEndpoint, static credentials, and the standard
// retryer with many attempts and short backoff (so throttling tests finish quickly).
func newTestEnv(t testing.TB, o emulator.Options) (*emulator.Emulator, Clients) {
	t.Helper()
	em := emulator.New(o)
	srv := httptest.NewServer(em)
	t.Cleanup(srv.Close)
	return em, testClients(srv.URL)
}

// testClients are Clients for the AWS-like endpoint at url, configured as newTestEnv's.
func testClients(url string) Clients {
	cfg := aws.Config{
		Region:      emulator.DefaultRegion,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = 20
				so.MaxBackoff = 5 * time.Millisecond // the emulator throttles by coin toss, not by rate
				so.RateLimiter = ratelimit.None
			})
		},
		BaseEndpoint: aws.String(url),
	}
	return NewClients(cfg)
}
