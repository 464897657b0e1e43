package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/progress"
	"github.com/studio-migrator/studio-migrator/jobs"
)

// watchOptions are the flags of `migrator watch`.
type watchOptions struct {
	redis    redisOptions
	interval time.Duration
}

// AddFlags registers watch's flags.
func (o *watchOptions) AddFlags(fs *pflag.FlagSet) {
	o.redis.AddFlags(fs)
	fs.DurationVar(&o.interval, "interval", 0, "how often to read the job record (default: 500ms on a terminal, 5s otherwise)")
}

func newWatchCommand(g *cli.Globals) *cobra.Command {
	opts := &watchOptions{}
	cmd := &cobra.Command{
		Use:   "watch JOB",
		Short: "Follow a job until it ends: an overall bar in bytes, a line per home being copied",
		Long: `Follow a job until it ends. On a terminal: an overall bar in bytes with totals,
rate and ETA, and a line per home being copied. Otherwise (a pipe, a log file): a
plain line every --interval, and one per home as it ends. Exits 0 when the job
succeeded, 6 when it failed or was cancelled; Ctrl-C stops watching, not the job.`,
		Example: `  migrator watch migrate-20261201-091500-1a2b3c4d
  migrator watch "$JOB" --interval 30s >> migration.log`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWatch(cmd.Context(), g, opts, args[0])
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// runWatch follows job id on stdout; tests call it directly.
func runWatch(ctx context.Context, g *cli.Globals, opts *watchOptions, id string) error {
	if opts.interval < 0 {
		return cli.UsageErrorf("--interval %v: want a positive duration", opts.interval)
	}
	c, err := opts.redis.client()
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := getJob(ctx, c, id); err != nil {
		return err
	}
	return watchJob(ctx, c, id, g.Stdout, opts.interval)
}

// watchJob draws the job's progress to out until it ends and turns its outcome into
// the exit code: nil for succeeded, exit 6 for failed or cancelled.
func watchJob(ctx context.Context, c *jobs.Client, id string, out io.Writer, interval time.Duration) error {
	st, err := progress.Watch(ctx, out, func(ctx context.Context) (*jobs.Status, error) { return getJob(ctx, c, id) },
		progress.Options{Terminal: progress.IsTerminal(out), Interval: interval})
	if err != nil {
		return err
	}
	return jobOutcome(st)
}

// jobOutcome is the exit code of a finished job.
func jobOutcome(st *jobs.Status) error {
	switch st.State {
	case jobs.StateSucceeded:
		return nil
	case jobs.StateCancelled:
		return cli.WithExit(cli.ExitJobFailed, fmt.Errorf("job %s was cancelled ('migrator jobs retry %s' resumes it)", st.ID, st.ID))
	default:
		msg := st.Error
		if msg == "" {
			msg = "see 'migrator status " + st.ID + "'"
		}
		return cli.WithExit(cli.ExitJobFailed, fmt.Errorf("job %s %s in step %s: %s ('migrator jobs retry %s' resumes it from there)", st.ID, st.State, st.Step, msg, st.ID))
	}
}
