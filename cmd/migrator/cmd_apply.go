package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/jobs"
)

// applyOptions are the flags of `migrator apply`.
type applyOptions struct {
	aws          awsconfig.Options
	target       targetOptions
	redis        redisOptions
	ovr          overrideFlags
	snapshotFile string
	dryRun       bool
	watch        bool
	output       string
}

// AddFlags registers apply's flags.
func (o *applyOptions) AddFlags(fs *pflag.FlagSet) {
	o.aws.AddFlags(fs)
	o.target.AddFlags(fs)
	o.redis.AddFlags(fs)
	fs.StringVar(&o.snapshotFile, "snapshot", "", `snapshot file written by 'migrator snapshot' ("-": standard input) (required)`)
	addOverrideFlags(fs, &o.ovr, "domain-name")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the plan and the preflight result; enqueue nothing")
	fs.BoolVar(&o.watch, "watch", false, "after enqueueing, watch the job (on stderr) and exit with its outcome")
	fs.StringVarP(&o.output, "output", "o", "text", "output format of the plan: text or json")
}

func newApplyCommand(g *cli.Globals) *cobra.Command {
	opts := &applyOptions{}
	cmd := &cobra.Command{
		Use:   "apply --snapshot FILE [overrides]",
		Short: "Enqueue the control plane alone: build the new domain, its profiles and spaces from a snapshot",
		Long: `Plan a new domain from a snapshot and your overrides, run the preflight checks, and
enqueue a job that creates the domain, its user profiles and spaces (and the Identity
Center assignments) without copying any home: for administrators who move the homes
themselves, or restore a lost domain from a saved snapshot. A plan with errors is
refused (exit 3). The job ID is printed alone on the last line of standard output;
'migrator uid-map JOB' gives the old UID -> new UID map once it is done.`,
		Example: `  migrator apply --snapshot snap.json --domain-name research-v2 --vpc-id vpc-0f9e8d7c6b5a40312 \
    --subnet-ids subnet-0aaa,subnet-0bbb --watch
  migrator snapshot --domain d-abc123 | migrator apply --snapshot - --target-region eu-west-1 --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runApply(cmd.Context(), g, opts)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// runApply plans, checks and enqueues a KindApply job; tests call it directly.
func runApply(ctx context.Context, g *cli.Globals, opts *applyOptions) error {
	if err := cli.CheckFormat(opts.output, "text", "json"); err != nil {
		return err
	}
	if opts.snapshotFile == "" {
		return cli.UsageErrorf(`--snapshot is required: a file written by 'migrator snapshot' ("-" for standard input)`)
	}
	ovr, err := opts.ovr.overrides()
	if err != nil {
		return cli.WithExit(cli.ExitUsage, err)
	}
	snap, err := readSnapshotFile(g, opts.snapshotFile)
	if err != nil {
		return err
	}
	var c *jobs.Client
	if !opts.dryRun {
		if c, err = opts.redis.client(); err != nil {
			return err
		}
		defer c.Close()
	}
	tgt, err := awsconfig.Load(ctx, resolveTarget(opts.aws, opts.target.t))
	if err != nil {
		return fmt.Errorf("the target: %w", err)
	}
	if _, err := planAndCheck(ctx, g, snap, ovr, tgt, opts.output); err != nil {
		return err
	}
	if opts.dryRun {
		fmt.Fprintln(g.Stderr, "dry run: the plan has no errors; nothing was enqueued")
		return nil
	}
	return submitAndMaybeWatch(ctx, g, c, jobs.Spec{
		Kind:      jobs.KindApply,
		Source:    awsTarget(opts.aws),
		Target:    opts.target.t,
		Snapshot:  snap,
		Overrides: ovr,
	}, opts.watch)
}
