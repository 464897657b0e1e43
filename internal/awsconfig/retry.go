package awsconfig

import (
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// unreachableAttempts is how many times a call is tried when its endpoint cannot be
// reached at all, and unreachableDelay the pause between those attempts: one quick
// second try covers a blip, more only delay the message about a wrong endpoint.
const (
	unreachableAttempts = 2
	unreachableDelay    = 300 * time.Millisecond
)

// retryer is the SDK's standard retryer tuned for SageMaker's throttling (many
// attempts, a long backoff cap, no client-side retry quota, because a migration that
// makes thousands of calls must outlast a throttling burst), except that an endpoint
// that cannot be reached is given up on quickly. Every retry is logged at debug.
type retryer struct {
	aws.RetryerV2
	log *slog.Logger
}

func newRetryer(attempts int, log *slog.Logger) aws.RetryerV2 {
	return &retryer{
		RetryerV2: retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = attempts
			so.MaxBackoff = 20 * time.Second
			so.RateLimiter = ratelimit.None
		}),
		log: log,
	}
}

// IsErrorRetryable also takes an unresolvable name (which the standard retryer gives
// up on at once), so RetryDelay can turn it into an UnreachableError.
func (r *retryer) IsErrorRetryable(err error) bool {
	return isUnreachable(err) || r.RetryerV2.IsErrorRetryable(err)
}

// RetryDelay is called once per failed attempt that may be retried; attempt counts
// from 1 (from 0 with AWS_NEW_RETRIES_2026=true, which allows one more attempt).
func (r *retryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	if isUnreachable(err) {
		if attempt >= unreachableAttempts {
			return 0, unreachable(err)
		}
		r.log.Debug("aws call: endpoint unreachable, trying once more", "attempt", attempt, "delay", unreachableDelay, "error", err)
		return unreachableDelay, nil
	}
	d, derr := r.RetryerV2.RetryDelay(attempt, err)
	if derr == nil {
		r.log.Debug("aws call: retrying", "attempt", attempt, "delay", d, "error", err)
	}
	return d, derr
}
