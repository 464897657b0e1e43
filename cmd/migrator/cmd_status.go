package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/progress"
	"github.com/studio-migrator/studio-migrator/jobs"
)

// statusOptions are the flags of `migrator status`.
type statusOptions struct {
	redis  redisOptions
	output string
}

// AddFlags registers status's flags.
func (o *statusOptions) AddFlags(fs *pflag.FlagSet) {
	o.redis.AddFlags(fs)
	fs.StringVarP(&o.output, "output", "o", "text", "output format: text or json (the whole job record: top-level state, step, and per home its state and counts)")
}

func newStatusCommand(g *cli.Globals) *cobra.Command {
	opts := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status JOB",
		Short: "Show a job: its state, steps, homes, errors and the workers that ran it",
		Long: `Show a job as its record in Redis holds it: the state (pending, running,
succeeded, failed, cancelled), the current step, each step with its worker and times,
each home with its state, files and bytes (done and total), its worker and errors.
It reads the record only; exit status 0 whatever the job's state (use 'watch' to wait
for the outcome).`,
		Example: `  migrator status migrate-20261201-091500-1a2b3c4d
  migrator status "$JOB" -o json | jq -r .state
  migrator status "$JOB" -o json | jq '.homes[] | select(.state=="failed") | {key, reason}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStatus(cmd.Context(), g, opts, args[0])
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// runStatus prints job id; tests call it directly.
func runStatus(ctx context.Context, g *cli.Globals, opts *statusOptions, id string) error {
	if err := cli.CheckFormat(opts.output, "text", "json"); err != nil {
		return err
	}
	c, err := opts.redis.client()
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := getJob(ctx, c, id)
	if err != nil {
		return err
	}
	if opts.output == "json" {
		return cli.WriteJSON(g.Stdout, st)
	}
	return writeStatusText(g.Stdout, st)
}

func writeStatusText(w io.Writer, st *jobs.Status) error {
	fmt.Fprintf(w, "job %s (%s): %s, step %s\n", st.ID, st.Spec.Kind, st.State, st.Step)
	if st.Spec.SourceDomainID != "" {
		fmt.Fprintf(w, "  old domain: %s\n", st.Spec.SourceDomainID)
	}
	if st.NewDomain != nil {
		fmt.Fprintf(w, "  new domain: %s (%s) on EFS %s\n", st.NewDomain.Name, st.NewDomain.ID, st.NewDomain.HomeEfsFileSystemID)
	}
	if st.Spec.CopyFrom != "" {
		fmt.Fprintf(w, "  homes: %s/<oldUID> -> %s/<newUID>\n", st.Spec.CopyFrom, st.Spec.CopyTo)
	}
	fmt.Fprintf(w, "  created %s, updated %s\n", st.Created.UTC().Format(time.RFC3339), st.Updated.UTC().Format(time.RFC3339))
	if st.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", st.Error)
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSTEP\tSTATE\tWORKER\tTOOK\tERROR")
	for _, s := range st.Steps {
		took := ""
		if !s.Started.IsZero() && !s.Finished.IsZero() {
			took = progress.Seconds(s.Finished.Sub(s.Started))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, s.State, s.Worker, took, s.Error)
	}
	if len(st.Homes) > 0 {
		fmt.Fprintln(tw, "\nHOME\tSTATE\tUID\tFILES\tBYTES\tWORKER\tREASON/ERROR")
		for _, h := range st.Homes {
			files, bytes := fmt.Sprint(h.Files), progress.MiB(h.Bytes)
			if h.TotalFiles > 0 {
				files += fmt.Sprintf("/%d", h.TotalFiles)
				bytes += "/" + progress.MiB(h.TotalBytes)
			}
			why := h.Reason
			if why == "" {
				why = h.Error
			}
			fmt.Fprintf(tw, "%s\t%s\t%s->%s\t%s\t%s\t%s\t%s\n", h.Key, h.State, h.OldUID, h.NewUID, files, bytes, h.Worker, why)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	t := st.Totals
	fmt.Fprintf(w, "\n%d of %d homes done; %d files, %s", t.HomesDone, t.Homes, t.Files, progress.MiB(t.Bytes))
	if t.TotalBytes > 0 {
		fmt.Fprintf(w, " of %s", progress.MiB(t.TotalBytes))
	}
	fmt.Fprintf(w, "; workers: %v\n", st.Workers)
	return nil
}
