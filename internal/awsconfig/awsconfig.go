package awsconfig

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/pflag"
)

// Options are the AWS settings a command takes from its flags.
type Options struct {
	Region      string
	Profile     string
	EndpointURL string
	// MaxAttempts bounds the SDK's retries of one call (throttling included).
	MaxAttempts int
}

// AddFlags registers --region, --profile and --endpoint-url.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Region, "region", "", "AWS region (default: AWS_REGION or the profile's region)")
	fs.StringVar(&o.Profile, "profile", "", "shared config profile (default: AWS_PROFILE or default)")
	fs.StringVar(&o.EndpointURL, "endpoint-url", "", "endpoint for every AWS API call, e.g. the emulator's http://127.0.0.1:PORT")
}

// Load resolves the configuration. Credentials are resolved lazily by the SDK and are
// never logged or returned in errors.
func Load(ctx context.Context, o Options) (aws.Config, error) {
	attempts := o.MaxAttempts
	if attempts <= 0 {
		attempts = 12
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = attempts
				so.MaxBackoff = 20 * time.Second
				so.RateLimiter = ratelimit.None
			})
		}),
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	if o.EndpointURL != "" {
		u, err := url.Parse(o.EndpointURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return aws.Config{}, fmt.Errorf("--endpoint-url %q: want a URL such as http://127.0.0.1:4566", o.EndpointURL)
		}
		opts = append(opts, config.WithBaseEndpoint(o.EndpointURL))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("no AWS region: pass --region or set AWS_REGION")
	}
	return cfg, nil
}
