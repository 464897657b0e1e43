package awsconfig

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	smithylogging "github.com/aws/smithy-go/logging"
	"github.com/spf13/pflag"
)

// Options are the AWS settings a command takes from its flags.
type Options struct {
	Region      string
	Profile     string
	EndpointURL string
	// MaxAttempts bounds the SDK's retries of one call (throttling included).
	MaxAttempts int
	// Logger receives the SDK's own messages and every retry, at debug level
	// (default: slog.Default()).
	Logger *slog.Logger
}

// AddFlags registers --region, --profile and --endpoint-url.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.AddRegionFlag(fs)
	fs.StringVar(&o.Profile, "profile", "", "shared config profile (default: AWS_PROFILE or default)")
	fs.StringVar(&o.EndpointURL, "endpoint-url", "", "endpoint for every AWS API call, e.g. the emulator's http://127.0.0.1:PORT")
}

// AddRegionFlag registers --region alone, for commands that need a region but call
// no AWS API (a command offers only the flags it uses).
func (o *Options) AddRegionFlag(fs *pflag.FlagSet) {
	fs.StringVar(&o.Region, "region", "", "AWS region (default: AWS_REGION or the profile's region)")
}

// DefaultMaxAttempts is how many times one call is tried when it is throttled.
const DefaultMaxAttempts = 12

// Load resolves the configuration. Credentials are resolved lazily by the SDK and are
// never logged or returned in errors; when none can be found, calls fail with a
// *CredentialsError that says how to provide them. A call whose endpoint cannot be
// reached at all fails after a couple of quick attempts with an *UnreachableError.
func Load(ctx context.Context, o Options) (aws.Config, error) {
	attempts := o.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return newRetryer(attempts, log) }),
		config.WithLogger(sdkLogger(log)),
		// The SDK's default is 30 s per dial; an AWS endpoint answers in milliseconds,
		// so a long dial means a wrong or unreachable endpoint.
		config.WithHTTPClient(awshttp.NewBuildableClient().WithDialerOptions(func(d *net.Dialer) {
			d.Timeout = 10 * time.Second
		})),
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
		var nop config.SharedConfigProfileNotExistError
		if errors.As(err, &nop) {
			return aws.Config{}, fmt.Errorf("AWS profile %q not found in %s or %s: check --profile and AWS_PROFILE (aws configure list-profiles lists them)",
				nop.Profile, config.DefaultSharedConfigFilename(), config.DefaultSharedCredentialsFilename())
		}
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("no AWS region: pass --region or set AWS_REGION")
	}
	if cfg.Credentials != nil {
		profile := o.Profile
		if profile == "" {
			profile = os.Getenv("AWS_PROFILE")
		}
		cfg.Credentials = &explainCredentials{inner: cfg.Credentials, profile: profile}
	}
	return cfg, nil
}

// sdkLogger routes the SDK's own log lines (warnings such as an IMDS fallback) through
// slog, so they share the command's format and level instead of a stray
// "SDK <date> WARN" line on stderr.
func sdkLogger(log *slog.Logger) smithylogging.Logger {
	return smithylogging.LoggerFunc(func(c smithylogging.Classification, format string, v ...any) {
		msg := fmt.Sprintf(format, v...)
		level := slog.LevelDebug
		// The IMDSv1 fallback is what every machine outside EC2 hits while the SDK
		// looks for credentials; when none are found, CredentialsError says so.
		if c == smithylogging.Warn && !strings.HasPrefix(msg, "falling back to IMDSv1") {
			level = slog.LevelWarn
		}
		log.Log(context.Background(), level, "aws sdk: "+msg)
	})
}
