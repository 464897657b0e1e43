package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/spf13/cobra"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
	"github.com/studio-migrator/studio-migrator/internal/backup"
	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/lccinstall"
	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/scripts/lcc"
)

type lccInstallOptions struct {
	aws          awsconfig.Options
	domainID     string
	bucket       string
	prefix       string
	restore      bool
	sourceDomain string
	force        bool
	interval     int
	excludes     string
	appTypes     []string
	s3Endpoint   string
	output       string
}

type lccPolicyOptions struct {
	bucket string
	prefix string
	roles  []string
}

func newLCCCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lcc",
		Short: "Install the S3 backup and restore lifecycle configurations; print their bucket policy",
		Example: `  migrator lcc install --domain d-xxxxxxxxxxxx --bucket my-studio-backups
  migrator lcc install --domain d-newnewnewnew --bucket my-studio-backups --restore --source-domain d-xxxxxxxxxxxx
  migrator lcc policy --bucket my-studio-backups --role arn:aws:iam::123456789012:role/StudioExec`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newLCCInstallCommand(g), newLCCPolicyCommand(g))
	return cmd
}

func newLCCInstallCommand(g *cli.Globals) *cobra.Command {
	o := &lccInstallOptions{}
	cmd := &cobra.Command{
		Use:   "install --domain ID --bucket B [--prefix P] [--restore --source-domain OLD]",
		Short: "Install backup-home.sh (or restore-home.sh) as the domain's default lifecycle configuration",
		Long: `Fill the bucket and prefix into scripts/lcc/backup-home.sh (or, with --restore,
restore-home.sh), create it as a Studio lifecycle configuration for each app type the
domain uses (JupyterLab and CodeEditor spaces, Studio Classic JupyterServer; see
--app-type), and attach it to the domain's default user settings, keeping every
lifecycle configuration already attached. It becomes the default of an app type only
when that app type has no default yet. Apps run it when they next start.

Configurations are named studio-migrator-<backup|restore>-<app type>-<hash of the
script>, so running the command again changes nothing, and other settings give
another configuration rather than replacing one another domain may run.`,
		Example: `  migrator lcc install --domain d-xxxxxxxxxxxx --bucket my-studio-backups
  migrator lcc install --domain d-newnewnewnew --bucket my-studio-backups --restore --source-domain d-xxxxxxxxxxxx -o json
  migrator lcc install --domain d-xxxxxxxxxxxx --bucket my-studio-backups --app-type JupyterLab --interval 3600`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLCCInstall(cmd.Context(), g, o) },
	}
	fs := cmd.Flags()
	o.aws.AddFlags(fs)
	fs.StringVar(&o.domainID, "domain", "", "ID of the domain to install into (d-...; required)")
	fs.StringVar(&o.bucket, "bucket", "", "S3 bucket of the backups (required)")
	fs.StringVar(&o.prefix, "prefix", lccinstall.DefaultPrefix, "key prefix of the backups in --bucket")
	fs.BoolVar(&o.restore, "restore", false, "install restore-home.sh instead of backup-home.sh")
	fs.StringVar(&o.sourceDomain, "source-domain", "", "with --restore: the domain whose backups to restore (default: the domain itself)")
	fs.BoolVar(&o.force, "force", false, "with --restore: restore into homes that are not empty (newer local files are kept)")
	fs.IntVar(&o.interval, "interval", 0, "backup: seconds between backups while an app runs (0: once per app start)")
	fs.StringVar(&o.excludes, "excludes", "", "backup: space-separated find -path patterns relative to the home to leave out (default: the script's, caches)")
	fs.StringSliceVar(&o.appTypes, "app-type", nil, "app types to install for: JupyterLab, CodeEditor, JupyterServer (repeatable; default: those the domain uses)")
	fs.StringVar(&o.s3Endpoint, "s3-endpoint-url", "", "S3 endpoint the scripts use (S3_ENDPOINT_URL; for an S3-compatible server, tests and the demo)")
	cli.AddOutputFlag(fs, &o.output, cli.FormatText, cli.FormatJSON)
	_ = cmd.MarkFlagRequired("domain")
	_ = cmd.MarkFlagRequired("bucket")
	return cmd
}

func newLCCPolicyCommand(g *cli.Globals) *cobra.Command {
	o := &lccPolicyOptions{}
	cmd := &cobra.Command{
		Use:   "policy --bucket B --role ARN [--role ARN ...] [--prefix P]",
		Short: "Print the bucket policy under which each Studio user writes only its own backups",
		Long: `Print, as JSON, a bucket policy for --bucket under which Studio sessions of the
given execution roles read and write only <prefix>/*/profile/<their own profile name>/*
(and the shared space prefixes), even when every profile uses one role. It relies on
the domain setting ExecutionRoleIdentityConfig=USER_PROFILE_NAME (the profile name
becomes the session's aws:SourceIdentity); sessions of those roles without a source
identity are denied the whole bucket. Other principals (the worker, administrators)
are not affected. See README "Backups to S3".`,
		Example: `  migrator lcc policy --bucket my-studio-backups --role arn:aws:iam::123456789012:role/StudioExec > bucket-policy.json
  aws s3api put-bucket-policy --bucket my-studio-backups --policy file://bucket-policy.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLCCPolicy(g, o) },
	}
	fs := cmd.Flags()
	fs.StringVar(&o.bucket, "bucket", "", "S3 bucket of the backups (required)")
	fs.StringVar(&o.prefix, "prefix", lccinstall.DefaultPrefix, "key prefix of the backups in --bucket (as given to lcc install)")
	fs.StringSliceVar(&o.roles, "role", nil, "ARN of an execution role Studio apps run as (repeatable; required)")
	_ = cmd.MarkFlagRequired("bucket")
	return cmd
}

func runLCCPolicy(g *cli.Globals, o *lccPolicyOptions) error {
	if o.bucket == "" {
		return cli.UsageErrorf("--bucket is required")
	}
	if len(o.roles) == 0 {
		return cli.UsageErrorf("--role is required: the execution role ARN(s) Studio apps run as (the domain's and profiles' ExecutionRole)")
	}
	p, err := backup.BucketPolicy(o.bucket, o.prefix, o.roles)
	if err != nil {
		return cli.WithExit(cli.ExitUsage, err)
	}
	return cli.WriteJSON(g.Stdout, p)
}

// lccInstallResult is what lcc install prints with -o json.
type lccInstallResult = lccinstall.Result

func runLCCInstall(ctx context.Context, g *cli.Globals, o *lccInstallOptions) error {
	if o.domainID == "" || o.bucket == "" {
		return cli.UsageErrorf("--domain and --bucket are required")
	}
	if err := cli.CheckFormat(o.output, cli.FormatText, cli.FormatJSON); err != nil {
		return err
	}
	if o.prefix == "" {
		// The scripts read an unset prefix as their default: refuse rather than write
		// keys other than those the user asked for.
		return cli.UsageErrorf("--prefix must not be empty (default %s)", lccinstall.DefaultPrefix)
	}
	if !o.restore && (o.sourceDomain != "" || o.force) {
		return cli.UsageErrorf("--source-domain and --force go with --restore")
	}
	if o.restore && (o.interval != 0 || o.excludes != "") {
		return cli.UsageErrorf("--interval and --excludes are for the backup script, not --restore")
	}
	if err := lccinstall.CheckAppTypes(o.appTypes); err != nil {
		return cli.UsageErrorf("--app-type: %v", err)
	}
	settings := lcc.Settings{Bucket: o.bucket, Prefix: o.prefix, EndpointURL: o.s3Endpoint,
		Excludes: o.excludes, Interval: o.interval, SourceDomain: o.sourceDomain, Force: o.force}
	if _, _, err := lccinstall.Script(o.restore, settings); err != nil {
		return cli.WithExit(cli.ExitUsage, err)
	}
	aopts := o.aws
	aopts.Logger = g.Log
	cfg, err := awsconfig.Load(ctx, aopts)
	if err != nil {
		return err
	}
	a := &studio.Applier{Clients: studio.NewClients(cfg), Log: g.Log}
	res, err := lccinstall.Install(ctx, a, lccinstall.Options{DomainID: o.domainID, Restore: o.restore, Settings: settings, AppTypes: o.appTypes})
	if err != nil {
		return err
	}
	if o.output == cli.FormatJSON {
		return cli.WriteJSON(g.Stdout, res)
	}
	_, err = io.WriteString(g.Stdout, lccInstallText(res))
	return err
}

// lccInstallText is lcc install's text report.
func lccInstallText(res *lccinstall.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (s3://%s/%s/) in domain %s:\n", res.Script, res.Bucket, strings.Trim(res.Prefix, "/"), res.DomainID)
	for _, in := range res.Installed {
		state := "attached"
		if in.AlreadyAttached {
			state = "already attached"
		}
		if in.Default {
			state += ", default"
		} else {
			state += ", NOT the default (the domain has another one; users must choose it)"
		}
		fmt.Fprintf(&b, "  %-13s %s  %s\n", in.AppType, in.ARN, state)
	}
	b.WriteString("Apps run it when they next start.\n")
	return b.String()
}

// domainAppTypes is lccinstall.DomainAppTypes (kept for the tests of this package).
func domainAppTypes(ctx context.Context, sm *sagemaker.Client, domainID string) ([]string, error) {
	return lccinstall.DomainAppTypes(ctx, sm, domainID)
}
