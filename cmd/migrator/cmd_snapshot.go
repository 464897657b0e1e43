package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/studio"
)

// snapshotOptions are the flags of `migrator snapshot`.
type snapshotOptions struct {
	aws         awsconfig.Options
	domainID    string
	outFile     string
	output      string
	concurrency int
}

// AddFlags registers the snapshot flags and the AWS ones.
func (o *snapshotOptions) AddFlags(fs *pflag.FlagSet) {
	o.aws.AddFlags(fs)
	fs.StringVar(&o.domainID, "domain", "", "ID of the domain to snapshot (d-...)")
	fs.StringVarP(&o.outFile, "out-file", "f", "-", `file to write the snapshot to ("-": standard output); a regular file is replaced atomically, anything else (/dev/null, a pipe) is written in place`)
	// The snapshot is a JSON document; --output is there so -o means a format here
	// as in every command (-o FILE of earlier versions is refused with a hint).
	cli.AddOutputFlag(fs, &o.output, cli.FormatJSON)
	fs.IntVar(&o.concurrency, "concurrency", studio.DefaultSnapshotConcurrency, "Describe/ListTags calls in flight")
}

func newSnapshotCommand(g *cli.Globals) *cobra.Command {
	opts := &snapshotOptions{}
	cmd := &cobra.Command{
		Use:   "snapshot --domain ID [-f FILE]",
		Short: "Save a Studio domain, its user profiles and spaces as a JSON document (read-only)",
		Long: `Read a SageMaker Studio domain and every user profile and space in it (settings,
execution roles, Identity Center users, space ownership and sharing, tags, home
directory UIDs) into a versioned JSON document, the input of 'migrator plan'. It only
reads; it is also a record to rebuild the domain from after an accident.`,
		Example: `  migrator snapshot --domain d-xxxxxxxxxxxx --region eu-west-1 -f snap.json
  migrator snapshot --domain d-xxxxxxxxxxxx | migrator plan --snapshot - --domain-name lab-v2
  migrator snapshot --endpoint-url http://127.0.0.1:4566 --region us-east-1 --domain d-xxxxxxxxxxxx`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSnapshot(cmd.Context(), g, opts)
		},
	}
	opts.AddFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("domain")
	return cmd
}

func runSnapshot(ctx context.Context, g *cli.Globals, opts *snapshotOptions) error {
	if opts.domainID == "" {
		return cli.UsageErrorf("--domain is required")
	}
	if err := cli.CheckFormat(opts.output, cli.FormatJSON); err != nil {
		return err
	}
	if opts.concurrency < 1 {
		return cli.UsageErrorf("--concurrency %d: want at least 1", opts.concurrency)
	}
	aopts := opts.aws
	aopts.Logger = g.Log
	cfg, err := awsconfig.Load(ctx, aopts)
	if err != nil {
		return err
	}
	s, err := studio.TakeSnapshot(ctx, studio.NewClients(cfg), opts.domainID, studio.SnapshotOptions{
		Concurrency: opts.concurrency,
		Logger:      g.Log,
	})
	if err != nil {
		return err
	}
	b, err := studio.MarshalSnapshot(s)
	if err != nil {
		return fmt.Errorf("encoding the snapshot of %s: %w", opts.domainID, err)
	}
	if err := cli.WriteOutput(g.Stdout, opts.outFile, b); err != nil {
		return fmt.Errorf("writing the snapshot to %s: %w", opts.outFile, err)
	}
	if opts.outFile != "-" && opts.outFile != "" {
		g.Log.Info("snapshot written", "file", opts.outFile, "profiles", len(s.UserProfiles), "spaces", len(s.Spaces))
	}
	return nil
}
