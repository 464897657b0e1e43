package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/jobs"
)

// jobsOptions are the flags of `migrator jobs` and its subcommands.
type jobsOptions struct {
	redis  redisOptions
	output string
}

// AddFlags registers the flags every jobs subcommand takes.
func (o *jobsOptions) AddFlags(fs *pflag.FlagSet) {
	o.redis.AddFlags(fs)
}

func newJobsCommand(g *cli.Globals) *cobra.Command {
	opts := &jobsOptions{}
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List, cancel and retry jobs",
		Example: `  migrator jobs list
  migrator jobs cancel migrate-20261201-091500-1a2b3c4d
  migrator jobs retry migrate-20261201-091500-1a2b3c4d`,
		Args: cobra.NoArgs,
	}
	opts.AddFlags(cmd.PersistentFlags())
	list := &cobra.Command{
		Use:   "list",
		Short: "List every job, newest first",
		Example: `  migrator jobs list
  migrator jobs list -o json | jq -r '.[] | select(.state=="failed") | .id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runJobsList(cmd.Context(), g, opts) },
	}
	list.Flags().StringVarP(&opts.output, "output", "o", "table", "output format: table or json")
	cancel := &cobra.Command{
		Use:   "cancel JOB",
		Short: "Cancel a job: running tasks stop, nothing more is created or copied",
		Long: `Cancel a job: its running tasks are stopped and no further step or home starts.
What was already created or copied stays; 'migrator jobs retry JOB' resumes from there.`,
		Example: `  migrator jobs cancel migrate-20261201-091500-1a2b3c4d`,
		Args:    cobra.ExactArgs(1),
		RunE:    func(cmd *cobra.Command, args []string) error { return runJobsCancel(cmd.Context(), g, opts, args[0]) },
	}
	retry := &cobra.Command{
		Use:   "retry JOB",
		Short: "Resume a failed or cancelled job from its first unfinished step (and its failed homes)",
		Long: `Resume a failed or cancelled job: from its first unfinished step, and every home
that failed. Steps read the actual state before acting, so what the first run did is
kept, not redone. Fix the cause first (see 'migrator status JOB').`,
		Example: `  migrator jobs retry migrate-20261201-091500-1a2b3c4d && migrator watch migrate-20261201-091500-1a2b3c4d`,
		Args:    cobra.ExactArgs(1),
		RunE:    func(cmd *cobra.Command, args []string) error { return runJobsRetry(cmd.Context(), g, opts, args[0]) },
	}
	cmd.AddCommand(list, cancel, retry)
	return cmd
}

// runJobsList prints every job; tests call it directly.
func runJobsList(ctx context.Context, g *cli.Globals, opts *jobsOptions) error {
	if err := cli.CheckFormat(opts.output, "table", "json"); err != nil {
		return err
	}
	c, err := opts.redis.client()
	if err != nil {
		return err
	}
	defer c.Close()
	list, err := c.List(ctx)
	if err != nil {
		return fmt.Errorf("listing jobs: %w", err)
	}
	if opts.output == "json" {
		if list == nil {
			list = []jobs.Summary{}
		}
		return cli.WriteJSON(g.Stdout, list)
	}
	tw := tabwriter.NewWriter(g.Stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tKIND\tSTATE\tSTEP\tOLD DOMAIN\tNEW DOMAIN\tCREATED\tUPDATED")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Kind, s.State, s.Step, s.SourceDomainID, s.NewDomainID,
			s.Created.UTC().Format(time.RFC3339), s.Updated.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// runJobsCancel cancels job id; tests call it directly.
func runJobsCancel(ctx context.Context, g *cli.Globals, opts *jobsOptions, id string) error {
	c, err := opts.redis.client()
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := getJob(ctx, c, id); err != nil {
		return err
	}
	if err := c.Cancel(ctx, id); err != nil {
		if errors.Is(err, jobs.ErrJobFinished) {
			return fmt.Errorf("job %s: %w; nothing to cancel", id, err)
		}
		return fmt.Errorf("cancelling job %s: %w", id, err)
	}
	fmt.Fprintf(g.Stdout, "job %s cancelled; 'migrator jobs retry %s' resumes it\n", id, id)
	return nil
}

// runJobsRetry resumes job id; tests call it directly.
func runJobsRetry(ctx context.Context, g *cli.Globals, opts *jobsOptions, id string) error {
	c, err := opts.redis.client()
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := getJob(ctx, c, id); err != nil {
		return err
	}
	if err := c.Retry(ctx, id); err != nil {
		return fmt.Errorf("retrying job %s: %w", id, err)
	}
	fmt.Fprintf(g.Stdout, "job %s resumed; 'migrator watch %s' follows it\n", id, id)
	return nil
}
