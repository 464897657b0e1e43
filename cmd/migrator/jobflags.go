package main

// Flags and helpers shared by the commands that enqueue or read jobs (migrate,
// apply, cleanup, worker, status, watch, jobs, uid-map).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/hibiken/asynq"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/lccinstall"
	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/jobs"
)

// envRedisURL is where --redis defaults from.
const envRedisURL = "REDIS_URL"

// defaultRedisURL is used when neither --redis nor REDIS_URL is set.
const defaultRedisURL = "redis://127.0.0.1:6379/0"

// redisOptions is --redis.
type redisOptions struct{ url string }

// AddFlags registers --redis.
func (o *redisOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.url, "redis", "", "Redis holding the queue and the job records: redis://[:password@]host:port[/db], rediss://..., "+
		"redis-sentinel://host:port[,host:port]/db?master=NAME (default: $"+envRedisURL+" or "+defaultRedisURL+")")
}

// connOpt parses the Redis URL; a bad one is a usage error.
func (o *redisOptions) connOpt() (asynq.RedisConnOpt, error) {
	u := o.url
	if u == "" {
		u = os.Getenv(envRedisURL)
	}
	if u == "" {
		u = defaultRedisURL
	}
	r, err := jobs.ParseRedisURL(u)
	if err != nil {
		return nil, cli.WithExit(cli.ExitUsage, fmt.Errorf("--redis: %w", err))
	}
	return r, nil
}

// client connects a jobs.Client; the caller closes it.
func (o *redisOptions) client() (*jobs.Client, error) {
	r, err := o.connOpt()
	if err != nil {
		return nil, err
	}
	c, err := jobs.NewClient(r)
	if err != nil {
		return nil, fmt.Errorf("connecting to Redis: %w", err)
	}
	return c, nil
}

// getJob reads a job record; an unknown ID is a usage error (exit 2).
func getJob(ctx context.Context, c *jobs.Client, id string) (*jobs.Status, error) {
	st, err := c.Get(ctx, id)
	if errors.Is(err, jobs.ErrJobNotFound) {
		return nil, cli.WithExit(cli.ExitUsage, fmt.Errorf("job %s: %w (see 'migrator jobs list')", id, err))
	}
	if err != nil {
		return nil, redisHint(err)
	}
	return st, nil
}

// redisHint adds what to check to an error that comes from not reaching Redis.
func redisHint(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return fmt.Errorf("%w (is Redis running there? set it with --redis or REDIS_URL)", err)
	}
	return err
}

// targetOptions are --target-region/--target-profile/--target-endpoint-url: where
// the new domain is built when it is not the source's account or region.
type targetOptions struct{ t jobs.AWSTarget }

// AddFlags registers the target flags.
func (o *targetOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.t.Region, "target-region", "", "region of the new domain (default: the source's --region)")
	fs.StringVar(&o.t.Profile, "target-profile", "", "shared config profile for the new domain's account (default: the source's --profile)")
	fs.StringVar(&o.t.EndpointURL, "target-endpoint-url", "", "endpoint for the new domain's AWS calls (default: the source's --endpoint-url)")
}

// awsTarget is the jobs form of the source flags.
func awsTarget(o awsconfig.Options) jobs.AWSTarget {
	return jobs.AWSTarget{Region: o.Region, Profile: o.Profile, EndpointURL: o.EndpointURL}
}

// resolveTarget fills the target's empty fields from the source, as the worker does.
func resolveTarget(src awsconfig.Options, t jobs.AWSTarget) awsconfig.Options {
	o := src
	if t.Region != "" {
		o.Region = t.Region
	}
	if t.Profile != "" {
		o.Profile = t.Profile
	}
	if t.EndpointURL != "" {
		o.EndpointURL = t.EndpointURL
	}
	return o
}

// livePreflight runs the live checks of a plan (VPC, subnets, security groups, KMS
// key, roles, quotas) in the target account. `migrate` and `apply` call it before
// enqueueing (errors refuse the job, exit 3) and `worker` passes it to every job's
// preflight step. nil means plan-only checks (studio.NewPlan's). The control-plane
// work provides studio.Preflight; wiring it is this one assignment:
//
//	func init() {
//		livePreflight = func(ctx context.Context, cfg aws.Config, p *studio.Plan) ([]studio.Problem, error) {
//			return studio.Preflight(ctx, studio.NewClients(cfg), p, studio.PreflightOptions{Logger: slog.Default()})
//		}
//	}
var livePreflight func(ctx context.Context, cfg aws.Config, p *studio.Plan) ([]studio.Problem, error)

// runPreflight adds the live checks' problems to p (no-op while livePreflight is nil).
func runPreflight(ctx context.Context, cfg aws.Config, p *studio.Plan) error {
	if livePreflight == nil {
		return nil
	}
	probs, err := livePreflight(ctx, cfg, p)
	if err != nil {
		return fmt.Errorf("preflight checks: %w", err)
	}
	p.Problems = append(p.Problems, probs...)
	return nil
}

// overrideFlags are the plan overrides shared by migrate and apply (and plan can
// switch to them): the new domain's name, network, KMS key, auth mode and the
// Identity Center user mapping.
type overrideFlags struct {
	o           studio.Overrides
	userMapping string
}

// addOverrideFlags registers the overrides; nameFlag is the flag for the new
// domain's name ("new-name" for migrate, "domain-name" for plan and apply).
func addOverrideFlags(fs *pflag.FlagSet, f *overrideFlags, nameFlag string) {
	o := &f.o
	fs.StringVar(&o.DomainName, nameFlag, "", "name of the new domain (default: the old name)")
	fs.StringVar(&o.VpcID, "vpc-id", "", "VPC of the new domain (needs --subnet-ids and, if the old domain names any, --security-group-ids)")
	fs.StringSliceVar(&o.SubnetIDs, "subnet-ids", nil, "subnets of the new domain, comma-separated")
	fs.StringSliceVar(&o.SecurityGroupIDs, "security-group-ids", nil, "security groups replacing the old ones in every setting that names security groups")
	fs.StringVar(&o.KmsKeyID, "kms-key-id", "", "KMS key (ARN, key ID or alias) for the new domain's EFS")
	fs.StringVar(&o.AppNetworkAccessType, "app-network-access-type", "", "PublicInternetOnly or VpcOnly")
	fs.StringVar(&o.AuthMode, "auth-mode", "", "IAM or SSO (IAM Identity Center); switching to SSO needs --user-mapping")
	fs.StringVar(&f.userMapping, "user-mapping", "", `CSV file of "profile,ssoUserName" lines: the Identity Center user of each profile`)
}

// overrides reads the user mapping file into the overrides.
func (f *overrideFlags) overrides() (studio.Overrides, error) {
	o := f.o
	if f.userMapping != "" {
		m, err := studio.ReadUserMappingFile(f.userMapping)
		if err != nil {
			return o, err
		}
		o.UserMapping = m
	}
	return o, nil
}

// backupFlags are --bucket, --prefix, --s3-endpoint-url and --s3-region: the S3
// bucket of home backups (the layout of internal/backup) a job uses.
type backupFlags struct {
	bucket, prefix, endpoint, region string
}

// AddFlags registers the flags; use says what --bucket is for in this command.
func (o *backupFlags) AddFlags(fs *pflag.FlagSet, use string) {
	fs.StringVar(&o.bucket, "bucket", "", use)
	fs.StringVar(&o.prefix, "prefix", lccinstall.DefaultPrefix, "key prefix of the backups in --bucket")
	fs.StringVar(&o.endpoint, "s3-endpoint-url", "", "S3 endpoint for the bucket (an S3-compatible server; the lifecycle configurations use it too)")
	fs.StringVar(&o.region, "s3-region", "", "region of the bucket (default: the source's --region)")
}

// target is the jobs form of the flags, nil without --bucket.
func (o *backupFlags) target() (*jobs.BackupTarget, error) {
	if o.bucket == "" {
		if o.endpoint != "" || o.region != "" {
			return nil, cli.UsageErrorf("--s3-endpoint-url and --s3-region go with --bucket")
		}
		return nil, nil
	}
	prefix := strings.Trim(o.prefix, "/")
	if prefix == "" {
		return nil, cli.UsageErrorf("--prefix must not be empty (default %s)", lccinstall.DefaultPrefix)
	}
	return &jobs.BackupTarget{Bucket: o.bucket, Prefix: prefix, EndpointURL: o.endpoint, Region: o.region}, nil
}

// red and resetColor colour a line on a terminal, and nothing elsewhere.
func red(w io.Writer) string {
	if cli.IsTerminal(w) {
		return "\x1b[31m"
	}
	return ""
}

func resetColor(w io.Writer) string {
	if cli.IsTerminal(w) {
		return "\x1b[0m"
	}
	return ""
}
