package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/location"
	"github.com/studio-migrator/studio-migrator/internal/logging"
	"github.com/studio-migrator/studio-migrator/jobs"
)

// workerOptions are the flags of `migrator worker`.
type workerOptions struct {
	redis       redisOptions
	name        string
	concurrency int
	queues      []string
	leaseTTL    time.Duration
	retention   time.Duration
	sftp        location.Options

	// tune adjusts the configuration before the worker starts (tests: fast waits).
	tune func(*jobs.WorkerConfig)
}

// AddFlags registers the worker's flags.
func (o *workerOptions) AddFlags(fs *pflag.FlagSet) {
	o.redis.AddFlags(fs)
	fs.StringVar(&o.name, "name", "", "this worker's name in job records (default: hostname:pid)")
	fs.IntVar(&o.concurrency, "concurrency", 4, "tasks (steps, homes) run at once")
	fs.StringSliceVar(&o.queues, "queues", nil, "queues to serve, as NAME or NAME=PRIORITY, comma-separated (default: "+defaultQueuesText()+"); "+
		"e.g. only "+jobs.QueueCopy+" on hosts that mount the EFS volumes but have no AWS credentials")
	fs.DurationVar(&o.leaseTTL, "lease-ttl", jobs.DefaultLeaseTTL, "how long a home or step stays claimed without a heartbeat: another worker takes over a killed worker's unit after about this long")
	fs.DurationVar(&o.retention, "record-retention", jobs.DefaultRecordRetention, "how long the record of an ended job stays in Redis for status, watch and jobs list (e.g. 168h); negative: for ever")
	o.sftp.AddFlags(fs)
}

func defaultQueuesText() string {
	var s []string
	for q, p := range jobs.DefaultQueues {
		s = append(s, q+"="+strconv.Itoa(p))
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

func newWorkerCommand(g *cli.Globals) *cobra.Command {
	opts := &workerOptions{}
	cmd := &cobra.Command{
		Use:   "worker [--concurrency N] [--queues ...]",
		Short: "Run jobs from the queue: create domains, profiles and spaces, copy and verify homes",
		Long: `Run the tasks of every job in Redis until stopped. Start as many workers as you
like, on one machine or many, against one Redis: they share the steps and the homes,
and a worker that dies has its home taken over by another within seconds (--lease-ttl).
SIGTERM or Ctrl-C stops it gracefully: running tasks go back to the queue.

Each worker uses the AWS credentials of its own environment (instance role, AWS_PROFILE,
...) for the side a job names, and opens copy locations itself: a worker that copies
homes must mount the EFS volumes (or reach the SFTP host) at the paths of the job's
--copy-from/--copy-to, and run as root (or with CAP_CHOWN) to re-own files.
Logs are JSON on stderr unless --log-format text.`,
		Example: `  migrator worker --concurrency 8          # Redis from $REDIS_URL
  migrator worker --redis rediss://:secret@redis:6380/0 --queues ` + jobs.QueueCopy + ` --known-hosts /etc/migrator/known_hosts`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f := cmd.Flags().Lookup("log-format"); f != nil && !f.Changed {
				// A worker's logs go to a collector: JSON unless asked otherwise.
				log, err := logging.New(g.Stderr, "json", g.LogLevel)
				if err != nil {
					return err
				}
				g.Log = log
			}
			return runWorker(cmd.Context(), g, opts)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// parseQueues reads --queues.
func parseQueues(qs []string) (map[string]int, error) {
	if len(qs) == 0 {
		return nil, nil
	}
	m := map[string]int{}
	for _, q := range qs {
		name, prio, hasPrio := strings.Cut(q, "=")
		p := 1
		if hasPrio {
			n, err := strconv.Atoi(prio)
			if err != nil || n < 1 {
				return nil, cli.UsageErrorf("--queues %q: the priority must be a number from 1", q)
			}
			p = n
		}
		if _, ok := jobs.DefaultQueues[name]; !ok {
			return nil, cli.UsageErrorf("--queues: unknown queue %q; the queues are %s", name, defaultQueuesText())
		}
		m[name] = p
	}
	return m, nil
}

// runWorker serves tasks until ctx ends; tests call it directly.
func runWorker(ctx context.Context, g *cli.Globals, opts *workerOptions) error {
	if opts.concurrency < 1 {
		return cli.UsageErrorf("--concurrency %d: want at least 1", opts.concurrency)
	}
	if opts.retention == 0 {
		// 0 would silently mean the default inside jobs: say what the choices are.
		return cli.UsageErrorf("--record-retention 0: want a duration such as 720h, or a negative one (-1s) to keep records for ever")
	}
	if err := opts.sftp.Check(); err != nil {
		return cli.WithExit(cli.ExitUsage, err)
	}
	if opts.sftp.Server == efs.SFTPServerStock {
		g.Log.Warn(efs.SFTPStockLimitation)
	}
	queues, err := parseQueues(opts.queues)
	if err != nil {
		return err
	}
	if err := checkWorkerPlatform(queues); err != nil {
		return err
	}
	r, err := opts.redis.connOpt()
	if err != nil {
		return err
	}
	cfg := jobs.WorkerConfig{
		Name:            opts.name,
		Concurrency:     opts.concurrency,
		Queues:          queues,
		LeaseTTL:        opts.leaseTTL,
		RecordRetention: opts.retention,
		Location:        cli.LocationOptions(opts.sftp, g),
		Preflight:       livePreflight,
		Log:             g.Log,
	}
	if opts.tune != nil {
		opts.tune(&cfg)
	}
	w, err := jobs.NewWorker(r, cfg)
	if err != nil {
		return cli.WithExit(cli.ExitUsage, fmt.Errorf("worker: %w", err))
	}
	if err := w.Run(ctx); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}
