package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/location"
	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/jobs"
)

// migrateOptions are the flags of `migrator migrate`.
type migrateOptions struct {
	aws       awsconfig.Options
	target    targetOptions
	redis     redisOptions
	ovr       overrideFlags
	domain    string
	copyFrom  string
	copyTo    string
	toMounts  []string
	gid       string
	merge     bool
	checksum  bool
	keepSetID bool
	leaveEBS  bool
	backup    backupFlags
	cleanup   bool
	deleteEFS bool
	dryRun    bool
	watch     bool
	output    string
}

// AddFlags registers migrate's flags.
func (o *migrateOptions) AddFlags(fs *pflag.FlagSet) {
	o.aws.AddFlags(fs)
	o.target.AddFlags(fs)
	o.redis.AddFlags(fs)
	fs.StringVar(&o.domain, "domain", "", "ID of the old domain, e.g. d-xxxxxxxxxxxx (required)")
	addOverrideFlags(fs, &o.ovr, "new-name")
	fs.StringVar(&o.copyFrom, "copy-from", "", "the old EFS root as the workers see it: DIR or sftp://[user@]host[:port]/path; homes are read from <copy-from>/<oldUID>; "+
		"or s3://BUCKET[/PREFIX]: each home is restored from its newest complete backup of the old domain (required)")
	fs.StringVar(&o.copyTo, "copy-to", "", "the new EFS root as the workers see it; may hold {fs}, replaced by the new domain's EFS ID once it exists; homes go to <copy-to>/<newUID> (required)")
	fs.StringArrayVar(&o.toMounts, "copy-to-mount", nil, "the new EFS root through another mount of the same volume (NFS nosharecache), as the workers see it, e.g. '/mnt/efs-2/{fs}'; repeatable: each home's entries are spread over --copy-to and all of these, each entry written through one mount (creates in one directory then run under one lock per mount)")
	fs.StringVar(&o.gid, "gid", "", "group of every copied entry (default: keep each source entry's group)")
	fs.BoolVar(&o.merge, "merge", false, "copy into new homes that already hold content owned by another UID")
	fs.BoolVar(&o.checksum, "checksum", false, "verify every home with SHA-256 of every file, not only counts, sizes and owners")
	fs.BoolVar(&o.keepSetID, "keep-setid", false, "keep setuid/setgid bits on files (default: strip and report them)")
	fs.BoolVar(&o.leaveEBS, "leave-ebs-spaces", false, "without --bucket: accept that spaces whose home is on EBS (JupyterLab, Code Editor) are not moved (otherwise the plan refuses them)")
	o.backup.AddFlags(fs, "move the homes of EBS-backed spaces (JupyterLab, Code Editor) through this S3 bucket: backup and restore lifecycle configurations")
	fs.BoolVar(&o.cleanup, "cleanup", false, "after a verified migration, delete the old domain's apps, spaces, profiles and the domain (its EFS is kept)")
	fs.BoolVar(&o.deleteEFS, "delete-efs", false, "with --cleanup, also delete the old domain's EFS")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the plan and the preflight result; enqueue nothing")
	fs.BoolVar(&o.watch, "watch", false, "after enqueueing, watch the job (on stderr) and exit with its outcome")
	fs.StringVarP(&o.output, "output", "o", "text", "output format of the plan: text or json")
}

func newMigrateCommand(g *cli.Globals) *cobra.Command {
	opts := &migrateOptions{}
	cmd := &cobra.Command{
		Use:   "migrate --domain OLD --copy-from DIR|sftp://... --copy-to DIR|sftp://... [overrides]",
		Short: "Enqueue the migration of a domain: new domain, profiles, spaces, every home copied and verified",
		Long: `Snapshot the old domain, plan the new one with your overrides, run the preflight
checks, and enqueue the migration as a job that workers ('migrator worker') run:
back up the homes of EBS-backed spaces to --bucket (their apps run the backup
lifecycle configuration), create the domain, its user profiles and spaces, restore
those EBS homes into the new spaces, copy every home from
<copy-from>/<oldUID> to <copy-to>/<newUID> re-owned to the new UID, verify, and
(with --cleanup) delete the old domain. With --copy-to-mount, each home is written
through --copy-to and every other mount given (see copy-home --to-mount). Without --bucket, EBS-backed spaces are
refused (exit 3) unless --leave-ebs-spaces. A plan or preflight with errors is refused
(exit 3) and nothing is enqueued. The job ID is printed alone on the last line of
standard output; 'migrator watch JOB' follows it.

The target may be another account or region (--target-*); each worker uses the
credentials of its own environment for each side, and nothing secret enters the job.`,
		Example: `  migrator migrate --domain d-abc123 --new-name research-v2 \
    --vpc-id vpc-0f9e8d7c6b5a40312 --subnet-ids subnet-0aaa,subnet-0bbb \
    --copy-from /mnt/efs/fs-0old --copy-to '/mnt/efs/{fs}' --dry-run
  JOB=$(migrator migrate --domain d-abc123 --copy-from /mnt/old --copy-to '/mnt/efs/{fs}' | tail -n1)
  migrator migrate --domain d-abc123 --copy-from /mnt/old --copy-to '/mnt/efs/{fs}' --bucket my-studio-backups
  migrator migrate --domain d-abc123 --copy-from /mnt/old --copy-to '/mnt/efs/{fs}' \
    --copy-to-mount '/mnt/efs-2/{fs}' --copy-to-mount '/mnt/efs-3/{fs}' --copy-to-mount '/mnt/efs-4/{fs}'
  migrator migrate --domain d-abc123 --copy-from sftp://root@efs-host/mnt/old \
    --copy-to 'sftp://root@efs-host/mnt/efs/{fs}' --watch`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMigrate(cmd.Context(), g, opts)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// runMigrate snapshots, plans, checks and enqueues; tests call it directly.
func runMigrate(ctx context.Context, g *cli.Globals, opts *migrateOptions) error {
	if err := cli.CheckFormat(opts.output, "text", "json"); err != nil {
		return err
	}
	if opts.domain == "" {
		return cli.UsageErrorf("--domain is required: the ID of the old domain (d-...)")
	}
	var (
		from       string
		fromBackup *jobs.BackupTarget
		err        error
	)
	if strings.HasPrefix(opts.copyFrom, "s3://") {
		// The old EFS may be gone: the homes come from their S3 backups.
		s3 := s3Flags{endpoint: opts.backup.endpoint, region: opts.backup.region}
		if fromBackup, err = parseS3URL("copy-from", opts.copyFrom, s3); err != nil {
			return err
		}
		from = opts.copyFrom
	} else if from, err = parseCopyLocation("copy-from", opts.copyFrom); err != nil {
		return err
	}
	to, err := parseCopyLocation("copy-to", opts.copyTo)
	if err != nil {
		return err
	}
	var toMounts []string
	for _, m := range opts.toMounts {
		l, err := parseCopyLocation("copy-to-mount", m)
		if err != nil {
			return err
		}
		toMounts = append(toMounts, l)
	}
	if len(toMounts) > 0 {
		// Refused here, before minutes of snapshot, with a usage exit.
		if err := jobs.CheckCopyToMounts(jobs.Spec{CopyTo: to, CopyToMounts: toMounts, CopyFromBackup: fromBackup}); err != nil {
			return cli.WithExit(cli.ExitUsage, fmt.Errorf("--%w", err))
		}
	}
	gid, err := cli.ParseID("gid", opts.gid, false)
	if err != nil {
		return err
	}
	if opts.deleteEFS && !opts.cleanup {
		return cli.UsageErrorf("--delete-efs needs --cleanup")
	}
	if fromBackup == nil && opts.backup.bucket == "" && (opts.backup.endpoint != "" || opts.backup.region != "") {
		return cli.UsageErrorf("--s3-endpoint-url and --s3-region go with --bucket or --copy-from s3://...")
	}
	ovr, err := opts.ovr.overrides()
	if err != nil {
		return cli.WithExit(cli.ExitUsage, err)
	}
	var backupTarget *jobs.BackupTarget
	if opts.backup.bucket != "" {
		if backupTarget, err = opts.backup.target(); err != nil {
			return err
		}
	}
	var c *jobs.Client
	if !opts.dryRun {
		// Connect first: a wrong --redis should fail before minutes of snapshot.
		if c, err = opts.redis.client(); err != nil {
			return err
		}
		defer c.Close()
	}

	src, err := awsconfig.Load(ctx, opts.aws)
	if err != nil {
		return err
	}
	g.Log.Info("taking a snapshot of the old domain", "domain", opts.domain)
	snap, err := studio.TakeSnapshot(ctx, studio.NewClients(src), opts.domain, studio.SnapshotOptions{Logger: g.Log})
	if errors.Is(err, studio.ErrNotFound) {
		return fmt.Errorf("domain %s not found in %s (check --domain, --region and the account): %w", opts.domain, src.Region, err)
	}
	if err != nil {
		return fmt.Errorf("taking a snapshot of %s: %w", opts.domain, err)
	}
	tgt := src
	tgtOpts := resolveTarget(opts.aws, opts.target.t)
	if tgtOpts != opts.aws {
		if tgt, err = awsconfig.Load(ctx, tgtOpts); err != nil {
			return fmt.Errorf("the target (--target-*): %w", err)
		}
	}
	spec := jobs.Spec{
		Kind:           jobs.KindMigrate,
		Source:         awsTarget(opts.aws),
		Target:         opts.target.t,
		SourceDomainID: opts.domain,
		Overrides:      ovr,
		CopyFrom:       from,
		CopyFromBackup: fromBackup,
		CopyTo:         to,
		CopyToMounts:   toMounts,
		GID:            gid,
		Merge:          opts.merge,
		KeepSetID:      opts.keepSetID,
		Checksum:       opts.checksum,
		LeaveEBSSpaces: opts.leaveEBS,
		Backup:         backupTarget,
		Cleanup:        opts.cleanup,
		DeleteEFS:      opts.deleteEFS,
	}
	var left []string
	ebsCheck := func(p *studio.Plan) []studio.Problem {
		probs := jobs.EBSProblems(p, spec)
		for _, pr := range probs {
			left = append(left, strings.TrimPrefix(pr.Resource, "space/"))
		}
		return probs
	}
	_, err = planAndCheck(ctx, g, snap, ovr, tgt, opts.output, ebsCheck)
	if len(left) > 0 {
		what := "would be LEFT BEHIND (no --bucket)"
		if opts.leaveEBS {
			what = "are LEFT BEHIND (--leave-ebs-spaces)"
		}
		fmt.Fprintf(g.Stderr, "%s%d space(s) keep their home on EBS and %s: %s%s\n",
			red(g.Stderr), len(left), what, strings.Join(left, ", "), resetColor(g.Stderr))
	}
	if err != nil {
		if len(left) > 0 && !opts.leaveEBS {
			return cli.WithExit(cli.ExitPlanErrors, fmt.Errorf("%d space(s) keep their home on EBS and would be left behind: %s. "+
				"Move them through S3 with --bucket B [--prefix P] (the job backs them up and restores them with lifecycle configurations), "+
				"or accept leaving them with --leave-ebs-spaces; nothing was enqueued (%w)", len(left), strings.Join(left, ", "), err))
		}
		return err
	}
	// The buckets are checked with this process's credentials before anything is
	// enqueued: a typo should not surface as a failed step minutes later.
	for _, t := range []*jobs.BackupTarget{fromBackup, backupTarget} {
		if t != nil {
			if _, err := openBackupStore(ctx, opts.aws, t); err != nil {
				return err
			}
		}
	}
	if opts.dryRun {
		fmt.Fprintln(g.Stderr, "dry run: the plan has no errors; nothing was enqueued")
		return nil
	}
	return submitAndMaybeWatch(ctx, g, c, spec, opts.watch)
}

// parseCopyLocation checks a --copy-from/--copy-to and returns it in the form the
// workers open (a local path made absolute: a worker's working directory is not the
// CLI's).
func parseCopyLocation(flag, s string) (string, error) {
	if s == "" {
		return "", cli.UsageErrorf("--%s is required: DIR or sftp://[user@]host[:port]/path", flag)
	}
	if flag == "copy-from" && strings.Contains(s, "{fs}") {
		return "", cli.UsageErrorf("--copy-from %q: {fs} names the new domain's EFS; give the old one's root", s)
	}
	l, err := location.Parse(s)
	if err != nil {
		return "", cli.WithExit(cli.ExitUsage, fmt.Errorf("--%s: %w", flag, err))
	}
	return l.String(), nil
}

// planAndCheck plans, runs the preflight, prints the plan to stdout and refuses a
// plan with errors (exit 3).
func planAndCheck(ctx context.Context, g *cli.Globals, snap *studio.Snapshot, ovr studio.Overrides, tgt aws.Config, output string, extra ...func(*studio.Plan) []studio.Problem) (*studio.Plan, error) {
	plan, err := studio.NewPlan(snap, ovr, studio.PlanOptions{Region: tgt.Region})
	if err != nil {
		return nil, cli.WithExit(cli.ExitPlanErrors, fmt.Errorf("planning: %w", err))
	}
	if err := runPreflight(ctx, tgt, plan); err != nil {
		return nil, err
	}
	for _, f := range extra {
		plan.Problems = append(plan.Problems, f(plan)...)
	}
	if output == cli.FormatJSON {
		err = cli.WriteJSON(g.Stdout, plan)
	} else {
		err = plan.WriteText(g.Stdout)
	}
	if err != nil {
		return nil, fmt.Errorf("writing the plan: %w", err)
	}
	if errs := plan.Errors(); len(errs) > 0 {
		return nil, cli.WithExit(cli.ExitPlanErrors, fmt.Errorf("the plan has %d error(s) (first: %s: %s); fix them and run again; nothing was enqueued",
			len(errs), errs[0].Resource, errs[0].Message))
	}
	return plan, nil
}

// submitAndMaybeWatch enqueues spec, prints the job ID alone on the last line of
// stdout and, with watch, follows the job on stderr and exits with its outcome.
func submitAndMaybeWatch(ctx context.Context, g *cli.Globals, c *jobs.Client, spec jobs.Spec, watch bool) error {
	id, err := c.Submit(ctx, spec)
	if err != nil {
		return fmt.Errorf("enqueueing the job: %w", err)
	}
	g.Log.Info("job enqueued", "job", id, "kind", spec.Kind)
	fmt.Fprintln(g.Stdout, id)
	if !watch {
		return nil
	}
	return watchJob(ctx, c, id, g.Stderr, 0)
}
