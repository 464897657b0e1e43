package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
	"github.com/studio-migrator/studio-migrator/internal/backup"
	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/location"
	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/jobs"
)

// s3Flags say how the workers reach S3: --s3-endpoint-url (an S3-compatible
// server) and --s3-region (default: --region). Never a credential: each worker
// uses its own environment's.
type s3Flags struct{ endpoint, region string }

// AddFlags registers the S3 flags.
func (o *s3Flags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.endpoint, "s3-endpoint-url", "", "S3 endpoint for an S3-compatible server (MinIO, tests, the demo); default: AWS S3")
	fs.StringVar(&o.region, "s3-region", "", "region of the bucket (default: --region)")
}

// parseS3URL reads s3://BUCKET[/PREFIX] into a backup target.
func parseS3URL(flag, s string, f s3Flags) (*jobs.BackupTarget, error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return nil, cli.UsageErrorf("--%s %q: want s3://BUCKET[/PREFIX]", flag, s)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return nil, cli.UsageErrorf("--%s %q: no bucket: want s3://BUCKET[/PREFIX]", flag, s)
	}
	return &jobs.BackupTarget{Bucket: bucket, Prefix: strings.Trim(prefix, "/"), EndpointURL: f.endpoint, Region: f.region}, nil
}

// openBackupStore is the store t names, reached with the CLI's own credentials:
// the commands check the bucket before they enqueue.
func openBackupStore(ctx context.Context, a awsconfig.Options, t *jobs.BackupTarget) (backup.Store, error) {
	o := awsconfig.Options{Region: a.Region, Profile: a.Profile, Logger: a.Logger}
	if t.Region != "" {
		o.Region = t.Region
	}
	cfg, err := awsconfig.Load(ctx, o)
	if err != nil {
		return backup.Store{}, fmt.Errorf("AWS configuration for S3: %w", err)
	}
	st := backup.Store{Client: backup.NewS3Client(cfg, t.EndpointURL, 0), Bucket: t.Bucket, Prefix: t.Prefix}
	if err := backup.CheckStore(ctx, st); err != nil {
		if errors.Is(err, backup.ErrNoSuchBucket) {
			return st, cli.WithExit(cli.ExitPlanErrors, fmt.Errorf("%w: check the bucket name (and --s3-region, --s3-endpoint-url); nothing was enqueued", err))
		}
		return st, fmt.Errorf("checking the bucket: %w; nothing was enqueued", err)
	}
	return st, nil
}

// checkEFSRoot refuses a local EFS root that is not a directory (an SFTP one is
// the workers' to open). On a machine that cannot be a worker host (a macOS or
// Windows laptop, README "Platforms") the path is only the workers' and is not
// looked at here: the job fails on a missing root when it opens it.
func checkEFSRoot(flag, loc string) error {
	l, err := location.Parse(loc)
	if err != nil || l.IsSFTP() || localEFSHost() != nil {
		return nil
	}
	fi, err := os.Stat(loc)
	if err != nil {
		return cli.UsageErrorf("--%s %s: %v", flag, loc, err)
	}
	if !fi.IsDir() {
		return cli.UsageErrorf("--%s %s: not a directory (give the EFS root, where each home is <root>/<uid>)", flag, loc)
	}
	return nil
}

// snapshotDomain reads a domain for a backup or restore; an unknown domain is a
// usage error.
func snapshotDomain(ctx context.Context, g *cli.Globals, a awsconfig.Options, flag, id string) (*studio.Snapshot, error) {
	if id == "" {
		return nil, cli.UsageErrorf("--%s is required: a domain ID (d-...)", flag)
	}
	cfg, err := awsconfig.Load(ctx, a)
	if err != nil {
		return nil, err
	}
	snap, err := studio.TakeSnapshot(ctx, studio.NewClients(cfg), id, studio.SnapshotOptions{Logger: g.Log})
	if errors.Is(err, studio.ErrNotFound) {
		return nil, cli.UsageErrorf("--%s %s: no such domain in %s (check the domain ID, --region and the account); nothing was enqueued", flag, id, cfg.Region)
	}
	if err != nil {
		return nil, fmt.Errorf("reading domain %s: %w", id, err)
	}
	return snap, nil
}

// homeLine is one home of a backup or restore, as the commands print it before
// they enqueue.
type homeLine struct {
	Key    string `json:"key"`
	UID    string `json:"uid,omitempty"`
	Action string `json:"action"` // backup, restore, skip
	Reason string `json:"reason,omitempty"`
}

// domainHomes lists a snapshot's homes with what a backup (or restore) does with
// each: EBS-backed spaces and homes without a UID are skipped, as the job does.
func domainHomes(snap *studio.Snapshot, action string) []homeLine {
	var out []homeLine
	add := func(key, uid, appType string) {
		h := homeLine{Key: key, UID: uid, Action: action}
		switch {
		case appType != "":
			h.Action, h.Reason = "skip", "home on EBS ("+appType+"): the lifecycle scripts move it (migrator lcc install)"
		case uid == "":
			h.Action, h.Reason = "skip", "no home UID (a Studio Classic home exists only once an app was opened)"
		}
		out = append(out, h)
	}
	for _, p := range snap.UserProfiles {
		add(studio.KindUserProfile+"/"+p.Name, p.HomeEfsFileSystemUID, "")
	}
	for _, s := range snap.Spaces {
		appType := ""
		if s.AppType == "JupyterLab" || s.AppType == "CodeEditor" {
			appType = s.AppType
		}
		add(studio.KindSpace+"/"+s.Name, s.HomeEfsFileSystemUID, appType)
	}
	return out
}

func writeHomeLines(w io.Writer, output string, what any, homes []homeLine) error {
	if output == cli.FormatJSON {
		return cli.WriteJSON(w, what)
	}
	for _, h := range homes {
		line := fmt.Sprintf("%-8s %s", h.Action, h.Key)
		if h.UID != "" {
			line += " (uid " + h.UID + ")"
		}
		if h.Reason != "" {
			line += ": " + h.Reason
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

// backupOptions are the flags of `migrator backup`: the worker's path (--from) and
// the lifecycle-configuration path (--via lcc) share the domain, bucket and output
// flags; each refuses the other's.
type backupOptions struct {
	aws     awsconfig.Options
	redis   redisOptions
	bucket  backupFlags
	domain  string
	via     string
	from    string
	workers int
	watch   bool
	output  string
	// --via lcc only.
	restartApps bool
	timeout     time.Duration
	poll        time.Duration
}

// AddFlags registers backup's flags.
func (o *backupOptions) AddFlags(fs *pflag.FlagSet) {
	o.aws.AddFlags(fs)
	o.redis.AddFlags(fs)
	fs.StringVar(&o.domain, "domain", "", "ID of the domain whose homes are backed up (required)")
	o.bucket.AddFlags(fs, "S3 bucket of the backups (required)")
	fs.StringVar(&o.from, "from", "", "the domain's EFS root as the workers see it: DIR or sftp://[user@]host[:port]/path; homes are read from <from>/<uid> (the worker's path)")
	fs.StringVar(&o.via, "via", "", "lcc: instead of --from, install the backup lifecycle configuration and watch the apps back their homes up (the only way for EBS-backed spaces)")
	fs.IntVar(&o.workers, "workers", 0, "objects in flight per home (default 64; with --from)")
	fs.BoolVar(&o.watch, "watch", false, "after enqueueing, watch the job (progress on stderr) and exit with its outcome (with --from)")
	fs.BoolVar(&o.restartApps, "restart-apps", false, "with --via lcc: delete and recreate the running apps that started before the install, so they run the backup now (STOPS THEIR KERNELS; lists them first)")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "with --via lcc: how long to watch for the backups of the apps that run")
	fs.DurationVar(&o.poll, "poll", 5*time.Second, "with --via lcc: how often to look for new markers")
	cli.AddOutputFlag(fs, &o.output, cli.FormatText, cli.FormatJSON)
}

func newBackupCommand(g *cli.Globals) *cobra.Command {
	opts := &backupOptions{}
	cmd := &cobra.Command{
		Use:   "backup --domain D (--from DIR|sftp://... | --via lcc) --bucket B [--prefix P]",
		Short: "Back the homes of a domain up to S3, in the layout the lifecycle scripts use",
		Long: `With --from: enqueue a job that workers ('migrator worker') run: read the domain's
user profiles and spaces, then back up each home on its EFS, <from>/<uid>, to
s3://BUCKET/PREFIX/<domain>/<profile|space>/<name>/ (see README "Backups to S3"),
many objects in flight, one task per home. A run sends only the files that changed
since the newest complete backup; a home whose worker dies is taken over and
resumed. Spaces whose home is on EBS (JupyterLab, Code Editor) are listed as the
lifecycle scripts' (--via lcc). The domain, the bucket and --from are checked first:
a bad one enqueues nothing. The job ID is printed alone on the last line of standard
output.

With --via lcc: install backup-home.sh as the domain's default lifecycle
configuration (for the app types it uses), then watch the backups arrive in S3 as
apps start, with a progress bar, and list the profiles and spaces that have not
backed up since the install (no app, app failed, app started before the install).
Apps that already run pick the script up only when they restart: --restart-apps
lists them and restarts them, which STOPS THEIR KERNELS. Exit 5 when some profile
or space has not backed up. It runs in this process: nothing is enqueued.`,
		Example: `  migrator backup --domain d-abc123 --from /mnt/efs/fs-0abc --bucket my-studio-backups --watch
  JOB=$(migrator backup --domain d-abc123 --from sftp://root@efs-host/mnt/efs --bucket my-studio-backups | tail -n1)
  migrator backup --domain d-abc123 --from /mnt/efs --bucket backups --s3-endpoint-url http://127.0.0.1:9000 -o json
  migrator backup --domain d-abc123 --via lcc --bucket my-studio-backups
  migrator backup --domain d-abc123 --via lcc --bucket my-studio-backups --restart-apps --timeout 30m -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case opts.via == "lcc":
				if opts.from != "" || opts.workers != 0 || opts.watch {
					return cli.UsageErrorf("--from, --workers and --watch are for the worker's backup, not --via lcc")
				}
				return runBackupLCC(cmd.Context(), g, &backupLCCOptions{aws: opts.aws, domain: opts.domain, bucket: opts.bucket,
					restartApps: opts.restartApps, timeout: opts.timeout, poll: opts.poll, output: opts.output})
			case opts.via != "":
				return cli.UsageErrorf("--via %q: want lcc (the lifecycle configurations back the homes up from the apps), or --from DIR for the worker's backup", opts.via)
			}
			for _, f := range []string{"restart-apps", "timeout", "poll"} {
				if cmd.Flags().Changed(f) {
					return cli.UsageErrorf("--%s goes with --via lcc", f)
				}
			}
			return runBackup(cmd.Context(), g, opts)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// runBackup checks and enqueues a backup job; tests call it directly.
func runBackup(ctx context.Context, g *cli.Globals, opts *backupOptions) error {
	if err := cli.CheckFormat(opts.output, "text", "json"); err != nil {
		return err
	}
	if opts.domain == "" {
		return cli.UsageErrorf("--domain is required: the ID of the domain to back up (d-...)")
	}
	if opts.bucket.bucket == "" {
		return cli.UsageErrorf("--bucket is required: the S3 bucket of the backups")
	}
	if opts.from == "" {
		return cli.UsageErrorf("--from DIR|sftp://... (the EFS the workers read) or --via lcc (the apps back up their homes) is required")
	}
	target, err := opts.bucket.target()
	if err != nil {
		return err
	}
	from, err := parseCopyLocation("from", opts.from)
	if err != nil {
		return err
	}
	if err := checkEFSRoot("from", from); err != nil {
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
	homes := domainHomes(snap, "backup")
	if err := writeHomeLines(g.Stdout, opts.output, map[string]any{"domain": opts.domain, "from": from, "to": st.String(), "homes": homes}, homes); err != nil {
		return err
	}
	return submitAndMaybeWatch(ctx, g, c, jobs.Spec{
		Kind:           jobs.KindBackup,
		Source:         awsTarget(opts.aws),
		SourceDomainID: opts.domain,
		CopyFrom:       from,
		Workers:        opts.workers,
		Backup:         target,
	}, opts.watch)
}
