package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
	"github.com/studio-migrator/studio-migrator/internal/studio"
)

// planOptions are the flags of `migrator plan`.
type planOptions struct {
	aws          awsconfig.Options // planning calls no AWS API; --live reads the account
	snapshotFile string
	userMapping  string
	output       string
	overrides    studio.Overrides
	live         bool // --live: also run studio.Preflight against the account (read-only)
	recreateLCCs bool
}

// AddFlags registers the plan flags, the overrides and the AWS ones.
func (o *planOptions) AddFlags(fs *pflag.FlagSet) {
	o.aws.AddFlags(fs)
	fs.StringVar(&o.snapshotFile, "snapshot", "", `snapshot file written by 'migrator snapshot' ("-": standard input)`)
	fs.StringVar(&o.output, "output", "text", "text or json")
	fs.StringVar(&o.overrides.DomainName, "domain-name", "", "name of the new domain (default: the old name)")
	fs.StringVar(&o.overrides.VpcID, "vpc-id", "", "VPC of the new domain (needs --subnet-ids and, if the old domain names any, --security-group-ids)")
	fs.StringSliceVar(&o.overrides.SubnetIDs, "subnet-ids", nil, "subnets of the new domain, comma-separated")
	fs.StringSliceVar(&o.overrides.SecurityGroupIDs, "security-group-ids", nil, "security groups replacing the old ones in every setting that names security groups")
	fs.StringVar(&o.overrides.KmsKeyID, "kms-key-id", "", "KMS key (ARN, key ID or alias) for the new domain's EFS")
	fs.StringVar(&o.overrides.AppNetworkAccessType, "app-network-access-type", "", "PublicInternetOnly or VpcOnly")
	fs.StringVar(&o.overrides.AuthMode, "auth-mode", "", "IAM or SSO (IAM Identity Center); switching to SSO needs --user-mapping")
	fs.StringVar(&o.userMapping, "user-mapping", "", `CSV file of "profile,ssoUserName" lines: the Identity Center user of each profile`)
	fs.BoolVar(&o.live, "live", false, "also check the plan against the account (read-only): VPC, subnets, security groups, KMS key, roles, quotas, Identity Center users, lifecycle configurations and images (uses --region, --profile, --endpoint-url)")
	fs.BoolVar(&o.recreateLCCs, "recreate-lccs", false, "with --live: lifecycle configurations missing in the target will be recreated from the snapshot's content (a warning, not an error)")
}

func newPlanCommand(g *globalOptions) *cobra.Command {
	opts := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan --snapshot FILE [overrides]",
		Short: "Show what rebuilding a domain from a snapshot will create and copy, and what is wrong with it",
		Long: `Turn a snapshot and your overrides (name, VPC, subnets, security groups, KMS key,
network access, auth mode) into the plan for the new domain: the domain, every user
profile and space as they will be created, the home directories to copy, and every
problem found, errors first. It calls no AWS API. It exits non-zero when the plan has
errors, after printing it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPlan(cmd.Context(), g, opts)
		},
	}
	opts.AddFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("snapshot")
	return cmd
}

func runPlan(ctx context.Context, g *globalOptions, opts *planOptions) error {
	if opts.output != "text" && opts.output != "json" {
		return fmt.Errorf("--output %q: want text or json", opts.output)
	}
	s, err := readSnapshotFile(opts.snapshotFile)
	if err != nil {
		return err
	}
	o := opts.overrides
	if opts.userMapping != "" {
		if o.UserMapping, err = studio.ReadUserMappingFile(opts.userMapping); err != nil {
			return err
		}
	}
	p, err := studio.NewPlan(s, o, studio.PlanOptions{Region: opts.aws.Region})
	if err != nil {
		return err
	}
	if opts.live {
		// Preflight: the plan checked against the target account; it only reads.
		cfg, err := awsconfig.Load(ctx, opts.aws)
		if err != nil {
			return err
		}
		found, err := studio.Preflight(ctx, studio.NewClients(cfg), p, studio.PreflightOptions{RecreateLifecycleConfigs: opts.recreateLCCs, Logger: g.log})
		if err != nil {
			return err
		}
		p.Problems = append(p.Problems, found...)
		slices.SortStableFunc(p.Problems, func(x, y studio.Problem) int { return strings.Compare(string(x.Severity), string(y.Severity)) }) // "error" < "warning"
	}
	if opts.output == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(p)
	} else {
		err = p.WriteText(g.stdout)
	}
	if err != nil {
		return fmt.Errorf("writing the plan: %w", err)
	}
	if n := len(p.Errors()); n > 0 {
		return withExit(exitPlanErrors, fmt.Errorf("the plan has %d error(s); fix them and plan again", n))
	}
	return nil
}

func readSnapshotFile(path string) (*studio.Snapshot, error) {
	if path == "" {
		return nil, fmt.Errorf("--snapshot is required")
	}
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("reading the snapshot: %w", err)
		}
		defer f.Close()
		r = f
	}
	s, err := studio.ReadSnapshot(r)
	if err != nil {
		return nil, fmt.Errorf("reading the snapshot %s: %w", path, err)
	}
	return s, nil
}
