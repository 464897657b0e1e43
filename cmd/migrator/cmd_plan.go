package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/studio"
)

// planOptions are the flags of `migrator plan`.
type planOptions struct {
	// Only --region is offered: planning calls no AWS API, so --profile and
	// --endpoint-url would be accepted and ignored.
	aws          awsconfig.Options
	snapshotFile string
	userMapping  string
	output       string
	overrides    studio.Overrides
	live         bool // --live: also run studio.Preflight against the account (read-only)
	recreateLCCs bool
}

// AddFlags registers the plan flags, the overrides and --region.
func (o *planOptions) AddFlags(fs *pflag.FlagSet) {
	o.aws.AddRegionFlag(fs)
	fs.StringVar(&o.snapshotFile, "snapshot", "", `snapshot file written by 'migrator snapshot' ("-": standard input)`)
	cli.AddOutputFlag(fs, &o.output, cli.FormatText, cli.FormatJSON)
	fs.StringVar(&o.overrides.DomainName, "domain-name", "", "name of the new domain (default: the old name)")
	fs.StringVar(&o.overrides.VpcID, "vpc-id", "", "VPC of the new domain (needs --subnet-ids and, if the old domain names any, --security-group-ids)")
	fs.StringSliceVar(&o.overrides.SubnetIDs, "subnet-ids", nil, "subnets of the new domain, comma-separated")
	fs.StringSliceVar(&o.overrides.SecurityGroupIDs, "security-group-ids", nil, "security groups replacing the old ones in every setting that names security groups")
	fs.StringVar(&o.overrides.KmsKeyID, "kms-key-id", "", "KMS key (ARN, key ID or alias) for the new domain's EFS")
	fs.StringVar(&o.overrides.AppNetworkAccessType, "app-network-access-type", "", "PublicInternetOnly or VpcOnly")
	fs.StringVar(&o.overrides.AuthMode, "auth-mode", "", "IAM or SSO (IAM Identity Center); switching to SSO needs --user-mapping")
	fs.StringVar(&o.userMapping, "user-mapping", "", `CSV file of "profile,ssoUserName" lines: the Identity Center user of each profile ("-": standard input)`)
	// --live (issue 10): the preflight reads the target account.
	fs.BoolVar(&o.live, "live", false, "also check the plan against the target account, read-only: VPC, subnets, security groups, KMS key, EFS file systems and their mount targets, roles, quotas, Identity Center users, lifecycle configurations and images")
	fs.BoolVar(&o.recreateLCCs, "recreate-lccs", false, "with --live: lifecycle configurations missing in the target will be recreated from the snapshot's content (a warning, not an error)")
	fs.StringVar(&o.aws.Profile, "profile", "", "with --live: shared config profile (default: AWS_PROFILE or default)")
	fs.StringVar(&o.aws.EndpointURL, "endpoint-url", "", "with --live: endpoint for every AWS API call, e.g. the emulator's http://127.0.0.1:PORT")
}

func newPlanCommand(g *cli.Globals) *cobra.Command {
	opts := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan --snapshot FILE [overrides]",
		Short: "Show what rebuilding a domain from a snapshot will create and copy, and what is wrong with it",
		Long: `Turn a snapshot and your overrides (name, VPC, subnets, security groups, KMS key,
network access, auth mode) into the plan for the new domain: the domain, every user
profile and space as they will be created, the home directories to copy, and every
problem found, errors first. It calls no AWS API, unless --live: then it also checks
the plan against the target account (read-only) and reports what would fail there.
When the plan has errors it is printed all the same and the command exits with 3.`,
		Example: `  migrator plan --snapshot snap.json --domain-name lab-v2 \
    --vpc-id vpc-0f9e8d7c6b5a40312 --subnet-ids subnet-0aaaabbbbccccdddd,subnet-0eeeeffff00001111 \
    --security-group-ids sg-0bbbbbbbbbbbbbbb2
  migrator plan --snapshot snap.json --auth-mode SSO --user-mapping users.csv -o json
  migrator snapshot --domain d-xxxxxxxxxxxx | migrator plan --snapshot -
  migrator plan --snapshot snap.json --live --vpc-id vpc-0f9e8d7c6b5a40312 --subnet-ids subnet-0aaaabbbbccccdddd`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPlan(cmd.Context(), g, opts)
		},
	}
	opts.AddFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("snapshot")
	return cmd
}

func runPlan(ctx context.Context, g *cli.Globals, opts *planOptions) error {
	if !opts.live && (opts.aws.Profile != "" || opts.aws.EndpointURL != "") {
		return cli.UsageErrorf("--profile and --endpoint-url are used only with --live (without it, plan calls no AWS API)")
	}
	if err := cli.CheckFormat(opts.output, cli.FormatText, cli.FormatJSON); err != nil {
		return err
	}
	if err := cli.CheckOneStdin(map[string]string{"snapshot": opts.snapshotFile, "user-mapping": opts.userMapping}); err != nil {
		return err
	}
	s, err := readSnapshotFile(g, opts.snapshotFile)
	if err != nil {
		return err
	}
	o := opts.overrides
	if opts.userMapping != "" {
		r, name, err := cli.OpenInput(g, "user-mapping", opts.userMapping)
		if err != nil {
			return err
		}
		o.UserMapping, err = studio.ReadUserMapping(r, name)
		r.Close()
		if err != nil {
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
		found, err := studio.Preflight(ctx, studio.NewClients(cfg), p, studio.PreflightOptions{RecreateLifecycleConfigs: opts.recreateLCCs, Logger: g.Log})
		if err != nil {
			return err
		}
		p.Problems = append(p.Problems, found...)
		slices.SortStableFunc(p.Problems, func(x, y studio.Problem) int { return strings.Compare(string(x.Severity), string(y.Severity)) }) // "error" < "warning"
	}
	if opts.output == cli.FormatJSON {
		err = cli.WriteJSON(g.Stdout, p)
	} else {
		err = p.WriteText(g.Stdout)
	}
	if err != nil {
		return fmt.Errorf("writing the plan: %w", err)
	}
	if n := len(p.Errors()); n > 0 {
		return cli.WithExit(cli.ExitPlanErrors, fmt.Errorf("the plan has %d error(s); fix them and plan again", n))
	}
	return nil
}

// readSnapshotFile reads the snapshot a --snapshot flag names ("-": standard input).
func readSnapshotFile(g *cli.Globals, path string) (*studio.Snapshot, error) {
	r, name, err := cli.OpenInput(g, "snapshot", path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	s, err := studio.ReadSnapshot(r)
	if err != nil {
		return nil, fmt.Errorf("reading the snapshot %s: %w", name, err)
	}
	return s, nil
}
