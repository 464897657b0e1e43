package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
	"github.com/studio-migrator/studio-migrator/internal/backup"
	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/jobs"
)

// restoreOptions are the flags of `migrator restore`.
type restoreOptions struct {
	aws          awsconfig.Options
	redis        redisOptions
	s3           s3Flags
	from         string
	sourceDomain string
	domain       string
	to           string
	gid          string
	merge        bool
	workers      int
	watch        bool
	output       string
}

// AddFlags registers restore's flags.
func (o *restoreOptions) AddFlags(fs *pflag.FlagSet) {
	o.aws.AddFlags(fs)
	o.redis.AddFlags(fs)
	o.s3.AddFlags(fs)
	fs.StringVar(&o.from, "from", "", "the backups: s3://BUCKET[/PREFIX] (required)")
	fs.StringVar(&o.sourceDomain, "source-domain", "", "ID of the domain the backups were taken of (required)")
	fs.StringVar(&o.domain, "domain", "", "ID of the domain to restore into: its profiles' and spaces' UIDs (required)")
	fs.StringVar(&o.to, "to", "", "the new domain's EFS root as the workers see it: DIR or sftp://[user@]host[:port]/path; homes go to <to>/<newUID> (required)")
	fs.StringVar(&o.gid, "gid", "", fmt.Sprintf("group of every restored entry (default: the group of the new home if it exists, else %d, Studio's)", jobs.DefaultHomeGID))
	fs.BoolVar(&o.merge, "merge", false, "restore into new homes that already hold content owned by another UID")
	fs.IntVar(&o.workers, "workers", 0, "objects in flight per home (default 64)")
	fs.BoolVar(&o.watch, "watch", false, "after enqueueing, watch the job (progress on stderr) and exit with its outcome")
	fs.StringVarP(&o.output, "output", "o", "text", "output format of the list of homes: text or json")
}

func newRestoreCommand(g *cli.Globals) *cobra.Command {
	opts := &restoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore --from s3://B/PREFIX --source-domain OLD --domain NEW --to DIR|sftp://...",
		Short: "Enqueue the restore of S3 backups into a domain's EFS homes, re-owned to its UIDs",
		Long: `Enqueue a job that workers ('migrator worker') run: read the new domain's user
profiles and spaces, and for each name with a complete backup under the source
domain (written by 'migrator backup' or by the lifecycle scripts) restore the newest
one into <to>/<newUID>, every entry owned by the new UID, with the backup's modes,
mtimes, symlinks, hardlinks and empty directories. A file newer on the EFS than in
the backup is kept. Names without a backup are listed as not restored (a warning);
spaces whose home is on EBS are restored by the lifecycle scripts ('migrator lcc
install --restore'). The domain, the bucket and --to are checked first: a bad one
enqueues nothing. The job ID is printed alone on the last line of standard output.`,
		Example: `  migrator restore --from s3://my-studio-backups/studio-backups --source-domain d-old123 \
    --domain d-new456 --to /mnt/efs/fs-0new --watch
  migrator restore --from s3://backups/studio --source-domain d-old123 --domain d-new456 \
    --to sftp://root@efs-host/mnt/efs --s3-endpoint-url http://127.0.0.1:9000 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRestore(cmd.Context(), g, opts)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// runRestore checks and enqueues a restore job; tests call it directly.
func runRestore(ctx context.Context, g *cli.Globals, opts *restoreOptions) error {
	if err := cli.CheckFormat(opts.output, "text", "json"); err != nil {
		return err
	}
	if opts.from == "" {
		return cli.UsageErrorf("--from is required: the backups, s3://BUCKET[/PREFIX]")
	}
	target, err := parseS3URL("from", opts.from, opts.s3)
	if err != nil {
		return err
	}
	if opts.sourceDomain == "" {
		return cli.UsageErrorf("--source-domain is required: the ID of the domain the backups were taken of")
	}
	if opts.domain == "" {
		return cli.UsageErrorf("--domain is required: the ID of the domain to restore into")
	}
	to, err := parseCopyLocation("to", opts.to)
	if err != nil {
		return err
	}
	if err := checkEFSRoot("to", to); err != nil {
		return err
	}
	gid, err := cli.ParseID("gid", opts.gid, false)
	if err != nil {
		return err
	}
	c, err := opts.redis.client()
	if err != nil {
		return err
	}
	defer c.Close()
	snap, err := snapshotDomain(ctx, g, opts.aws, "domain", opts.domain)
	if err != nil {
		return err
	}
	st, err := openBackupStore(ctx, opts.aws, target)
	if err != nil {
		return err
	}
	homes := domainHomes(snap, "restore")
	found := 0
	for i := range homes {
		h := &homes[i]
		if h.Action != "restore" {
			continue
		}
		kind, name := backup.Profile, strings.TrimPrefix(h.Key, studio.KindUserProfile+"/")
		if n, ok := strings.CutPrefix(h.Key, studio.KindSpace+"/"); ok {
			kind, name = backup.Space, n
		}
		ok, when, err := backup.HasComplete(ctx, st, opts.sourceDomain, kind, name)
		if err != nil {
			return fmt.Errorf("looking for the backup of %s: %w", h.Key, err)
		}
		if !ok {
			h.Action, h.Reason = "skip", "no complete backup under "+opts.sourceDomain+": not restored"
			g.Log.Warn("no backup to restore", "home", h.Key, "source_domain", opts.sourceDomain, "store", st.String())
			continue
		}
		h.Reason = "backup of " + when.UTC().Format("2006-01-02 15:04:05Z")
		found++
	}
	if err := writeHomeLines(g.Stdout, opts.output, map[string]any{"sourceDomain": opts.sourceDomain, "domain": opts.domain,
		"from": st.String(), "to": to, "homes": homes}, homes); err != nil {
		return err
	}
	if found == 0 {
		g.Log.Warn("no home of the domain has a backup to restore: the job will restore nothing", "source_domain", opts.sourceDomain)
	}
	return submitAndMaybeWatch(ctx, g, c, jobs.Spec{
		Kind:           jobs.KindRestore,
		Source:         awsTarget(opts.aws),
		SourceDomainID: opts.sourceDomain,
		TargetDomainID: opts.domain,
		CopyTo:         to,
		GID:            gid,
		Merge:          opts.merge,
		Workers:        opts.workers,
		Backup:         target,
	}, opts.watch)
}
