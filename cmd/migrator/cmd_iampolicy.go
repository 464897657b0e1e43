package main

import (
	"context"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/studio"
)

// iamPolicyOptions are the flags of `migrator iam-policy`.
type iamPolicyOptions struct {
	snapshot     string
	newDomainID  string
	newAuthMode  string
	s3Bucket     string
	s3Prefix     string
	efsIDs       []string
	kmsKeyIDs    []string
	allowCleanup bool
	accountID    string
}

// AddFlags registers the iam-policy flags.
func (o *iamPolicyOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.snapshot, "snapshot", "", `snapshot file written by 'migrator snapshot' ("-": standard input; required)`)
	fs.StringVar(&o.newDomainID, "new-domain-id", "", "ID of the new domain once it exists (default: scope the new domain by the job tag "+studio.JobTagKey+")")
	fs.StringVar(&o.newAuthMode, "new-auth-mode", "", "auth mode of the new domain when the plan changes it (IAM or SSO)")
	fs.StringVar(&o.s3Bucket, "s3-bucket", "", "bucket of the S3 backups (S3 path)")
	fs.StringVar(&o.s3Prefix, "s3-prefix", "", "key prefix of the S3 backups in --s3-bucket")
	// The names lcc install and lcc policy use, for the same bucket and prefix.
	fs.StringVar(&o.s3Bucket, "bucket", "", "same as --s3-bucket (the name lcc install uses): adds the worker's S3 backup statements")
	fs.StringVar(&o.s3Prefix, "prefix", "", "same as --s3-prefix")
	fs.StringSliceVar(&o.efsIDs, "efs-file-system-id", nil, "more EFS file systems to mount, e.g. the new domain's (repeatable; the snapshot's EFS is always included)")
	fs.StringSliceVar(&o.kmsKeyIDs, "kms-key-id", nil, "more KMS keys CreateDomain is given, e.g. an override (repeatable)")
	fs.BoolVar(&o.allowCleanup, "allow-cleanup", false, "include the delete actions on the old domain (migrator cleanup)")
	fs.StringVar(&o.accountID, "account-id", "", "AWS account ID, when the snapshot names none")
}

func newIAMPolicyCommand(g *cli.Globals) *cobra.Command {
	opts := &iamPolicyOptions{}
	cmd := &cobra.Command{
		Use:   "iam-policy",
		Short: "Print the least-privilege IAM policy the worker needs to migrate a snapshot's domain",
		Long: `Print, as JSON, the identity policy for the role the worker runs as: SageMaker actions
scoped to the old domain and to resources tagged with ` + studio.JobTagKey + ` (the new
domain's ID is not known before it is created), iam:PassRole for the execution roles the
snapshot names only, and, as asked, Identity Center, S3 and EFS access.`,
		Example: `  migrator iam-policy --snapshot snap.json --efs-file-system-id fs-0fedcba9876543210 > policy.json
  migrator iam-policy --snapshot snap.json --new-auth-mode SSO --bucket my-studio-backups --prefix studio-backups
  migrator snapshot --domain d-xxxxxxxxxxxx | migrator iam-policy --snapshot -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runIAMPolicy(cmd.Context(), g, opts)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runIAMPolicy(_ context.Context, g *cli.Globals, opts *iamPolicyOptions) error {
	if opts.snapshot == "" {
		return cli.UsageErrorf("--snapshot is required")
	}
	if opts.s3Prefix != "" && opts.s3Bucket == "" {
		return cli.UsageErrorf("--s3-prefix (--prefix) needs --s3-bucket (--bucket)")
	}
	switch opts.newAuthMode {
	case "", "IAM", "SSO":
	default:
		return cli.UsageErrorf("--new-auth-mode %q: want IAM or SSO", opts.newAuthMode)
	}
	s, err := readSnapshotFile(g, opts.snapshot)
	if err != nil {
		return err
	}
	ps, err := studio.IAMPolicies(s, studio.IAMPolicyOptions{
		NewDomainID:      opts.newDomainID,
		NewAuthMode:      opts.newAuthMode,
		S3Bucket:         opts.s3Bucket,
		S3Prefix:         opts.s3Prefix,
		EFSFileSystemIDs: opts.efsIDs,
		KMSKeyIDs:        opts.kmsKeyIDs,
		AllowCleanup:     opts.allowCleanup,
		AccountID:        opts.accountID,
	})
	if err != nil {
		return err
	}
	if ps[0].Note != "" && g.Log != nil { // within IAM's size limit: say how (issue 10)
		g.Log.Info("iam policy kept within the managed policy size limit", "policies", len(ps), "how", ps[0].Note)
	}
	b, err := studio.MarshalPolicies(ps)
	if err != nil {
		return err
	}
	_, err = g.Stdout.Write(b)
	return err
}
