package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/jobs"
)

// cleanupOptions are the flags of `migrator cleanup`.
type cleanupOptions struct {
	aws       awsconfig.Options
	redis     redisOptions
	domain    string
	deleteEFS bool
	yes       bool
	watch     bool
	backup    backupFlags

	// stdin and stdinIsTerminal are where the confirmation is read (os.Stdin by
	// default; tests set them).
	stdin           io.Reader
	stdinIsTerminal func() bool
}

// AddFlags registers cleanup's flags.
func (o *cleanupOptions) AddFlags(fs *pflag.FlagSet) {
	o.aws.AddFlags(fs)
	o.redis.AddFlags(fs)
	fs.StringVar(&o.domain, "domain", "", "ID of the old domain to delete (required)")
	fs.BoolVar(&o.deleteEFS, "delete-efs", false, "also delete the domain's EFS volume with every home on it (default: keep it)")
	fs.BoolVar(&o.yes, "yes", false, "do not ask to type the domain ID (needed when standard input is not a terminal)")
	fs.BoolVar(&o.watch, "watch", false, "after enqueueing, watch the job (on stderr) and exit with its outcome")
	o.backup.AddFlags(fs, "S3 bucket of the EBS-backed spaces' backups: a space is deleted only if it has a complete backup there (without it, none is)")
}

func newCleanupCommand(g *cli.Globals) *cobra.Command {
	opts := &cleanupOptions{}
	cmd := &cobra.Command{
		Use:   "cleanup --domain OLD [--delete-efs] [--yes]",
		Short: "Enqueue the deletion of an old domain: its apps, spaces, user profiles and the domain",
		Long: `Enqueue a job that deletes the old domain: its apps, spaces and user profiles,
then the domain itself with its EFS volume kept (RetentionPolicy Retain) unless
--delete-efs. A JupyterLab or Code Editor space (its EBS volume goes with it) is
deleted only when --bucket holds a complete backup of it. It asks you to type the domain ID unless --yes, and refuses to run
without a terminal unless --yes. The job ID is printed alone on the last line of
standard output.`,
		Example: `  migrator cleanup --domain d-abc123
  migrator cleanup --domain d-abc123 --yes --watch
  migrator cleanup --domain d-abc123 --bucket my-studio-backups`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCleanup(cmd.Context(), g, opts)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// runCleanup confirms and enqueues a KindCleanup job; tests call it directly.
func runCleanup(ctx context.Context, g *cli.Globals, opts *cleanupOptions) error {
	if opts.domain == "" {
		return cli.UsageErrorf("--domain is required: the ID of the domain to delete (d-...)")
	}
	backupTarget, err := opts.backup.target()
	if err != nil {
		return err
	}
	if !opts.yes {
		if err := confirmDomain(g, opts); err != nil {
			return err
		}
	}
	c, err := opts.redis.client()
	if err != nil {
		return err
	}
	defer c.Close()
	return submitAndMaybeWatch(ctx, g, c, jobs.Spec{
		Kind:           jobs.KindCleanup,
		Source:         awsTarget(opts.aws),
		SourceDomainID: opts.domain,
		Cleanup:        true,
		DeleteEFS:      opts.deleteEFS,
		Backup:         backupTarget,
	}, opts.watch)
}

// confirmDomain asks the administrator to type the domain ID.
func confirmDomain(g *cli.Globals, opts *cleanupOptions) error {
	in, isTerm := opts.stdin, opts.stdinIsTerminal
	if in == nil {
		in = os.Stdin
	}
	if isTerm == nil {
		isTerm = func() bool { return term.IsTerminal(int(os.Stdin.Fd())) }
	}
	if !isTerm() {
		return cli.UsageErrorf("cleanup deletes domain %s: standard input is not a terminal to confirm on; pass --yes to confirm in a script", opts.domain)
	}
	what := "its apps, spaces, user profiles and the domain (its EFS is kept)"
	if opts.deleteEFS {
		what = "its apps, spaces, user profiles, the domain AND ITS EFS VOLUME WITH EVERY HOME ON IT"
	}
	fmt.Fprintf(g.Stderr, "This deletes domain %s: %s.\nType the domain ID to confirm: ", opts.domain, what)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("reading the confirmation: %w; nothing was enqueued", err)
	}
	if strings.TrimSpace(line) != opts.domain {
		return fmt.Errorf("the confirmation %q is not %s; nothing was enqueued", strings.TrimSpace(line), opts.domain)
	}
	return nil
}
