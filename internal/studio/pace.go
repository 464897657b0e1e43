package studio

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/smithy-go/middleware"
)

// pacer spaces out create calls so a migration of hundreds of profiles does not spend
// the account's SageMaker request budget in a burst (which throttles the console and
// every other tool in the account too). The SDK already retries ThrottlingException;
// on top of that every throttled attempt the pacer hears about doubles the spacing,
// and every success halves it back toward the base interval (AIMD-like, no token
// bucket: x/time/rate is not a dependency of this module).
type pacer struct {
	mu        sync.Mutex
	base, max time.Duration
	cur       time.Duration
	next      time.Time
}

func newPacer(base time.Duration) *pacer {
	maxInterval := 50 * base
	if maxInterval < time.Second {
		maxInterval = time.Second
	}
	return &pacer{base: base, max: maxInterval, cur: base}
}

// wait blocks until the caller's slot, then reserves the next one.
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.cur)
	p.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (p *pacer) throttled() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur = min(max(2*p.cur, time.Millisecond), p.max)
	if n := time.Now().Add(p.cur); n.After(p.next) {
		p.next = n
	}
}

func (p *pacer) succeeded() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur = max(p.cur/2, p.base)
}

// interval is the current spacing (for logs and tests).
func (p *pacer) interval() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

var throttleCheck = retry.IsErrorThrottles(retry.DefaultThrottles)

// observe returns a per-call option that reports each attempt's outcome to the
// pacer: it sits inside the SDK's retry loop, so it sees the throttled attempts the
// retryer hides from the caller.
func (p *pacer) observe() func(*sagemaker.Options) {
	return func(o *sagemaker.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Finalize.Insert(middleware.FinalizeMiddlewareFunc("studioPacer",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleFinalize(ctx, in)
					switch {
					case err == nil:
						p.succeeded()
					case throttleCheck.IsErrorThrottle(err).Bool():
						p.throttled()
					}
					return out, md, err
				}), "Retry", middleware.After)
		})
	}
}

// throttleOnlyRetryer retries a call only when it was throttled. A throttled request
// was not executed, so repeating it is safe; after any other failure (a 5xx, a lost
// connection) the request may have been executed, and for CreateDomain, whose names
// are not unique, a blind retry could make a second domain. Such a failure ends the
// step instead; its rerun finds what was created by the job tag.
type throttleOnlyRetryer struct{ aws.Retryer }

func (r throttleOnlyRetryer) IsErrorRetryable(err error) bool {
	return throttleCheck.IsErrorThrottle(err).Bool() && r.Retryer.IsErrorRetryable(err)
}

func (r throttleOnlyRetryer) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	if v2, ok := r.Retryer.(aws.RetryerV2); ok {
		return v2.GetAttemptToken(ctx)
	}
	return r.GetInitialToken(), nil
}

// retryOnlyThrottles is the per-call option for non-idempotent creates.
func retryOnlyThrottles(o *sagemaker.Options) {
	if o.Retryer != nil {
		o.Retryer = throttleOnlyRetryer{o.Retryer}
	}
}
