package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/demo"
	"github.com/studio-migrator/studio-migrator/internal/logging"
)

// demoOptions are the flags of `migrator demo`.
type demoOptions struct {
	dir          string
	keep         bool
	filesPerHome int
	throttleRate float64
	readyAfter   time.Duration
	seed         int64
	output       string
	jsonReport   bool // --json, deprecated for --output json
	redis        string
	workers      int
	inProcessLCC bool
}

// AddFlags registers the demo's flags.
func (o *demoOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.dir, "dir", "", "folder for the emulated EFS volumes and the snapshot (default: a temporary folder, removed at the end)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary folder to look at the homes afterwards")
	fs.IntVar(&o.filesPerHome, "files-per-home", 300, "about how many files each home directory holds")
	fs.Float64Var(&o.throttleRate, "throttle-rate", 0.1, "share of API calls the emulator answers with ThrottlingException (0..1)")
	fs.DurationVar(&o.readyAfter, "ready-after", 200*time.Millisecond, "how long emulated resources stay Pending")
	fs.Int64Var(&o.seed, "seed", 1, "seed for the generated homes, IDs and throttling")
	cli.AddOutputFlag(fs, &o.output, cli.FormatText, cli.FormatJSON)
	fs.BoolVar(&o.jsonReport, "json", false, "print the report as JSON instead of the narrative")
	_ = fs.MarkDeprecated("json", "use --output json")
	fs.StringVar(&o.redis, "redis", "", "run the queue on this Redis (redis://host:port/db) instead of the in-process one")
	fs.IntVar(&o.workers, "workers", 2, "in-process workers sharing the job")
	fs.BoolVar(&o.inProcessLCC, "in-process-lcc", false, "run the lifecycle configurations in process even where bash and the AWS CLI v2 (/usr/bin/aws) are installed")
}

func newDemoCommand(g *cli.Globals) *cobra.Command {
	opts := &demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a whole migration on this machine against the embedded SageMaker emulator",
		Long: `Run a whole domain migration with no AWS account, no Redis and no Docker: the
SageMaker emulator and a Redis (miniredis) run in process, and local folders stand in
for each domain's EFS. The demo builds an old domain whose homes hold files, then does
what 'migrator migrate' does (snapshot, plan with a move to a new VPC, enqueue a job)
and runs workers in process that take the job through the queue: create the new
domain, profiles and spaces, copy every home to its new UID and verify it, and move
a JupyterLab space's EBS home through an in-process S3 with the backup and restore
lifecycle configurations (the real scripts where bash and the AWS CLI v2 are
installed, the same work in process otherwise), while the 'watch' display follows it. It ends with the UID map and the verification report.
It needs root, to re-own files to the new UIDs.`,
		Example: `  sudo go run ./cmd/migrator demo
  migrator demo --keep --files-per-home 1000 --workers 1
  migrator demo --redis redis://127.0.0.1:6379/0 --throttle-rate 0 -o json > demo-report.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), g, opts)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runDemo(ctx context.Context, g *cli.Globals, opts *demoOptions) error {
	if opts.jsonReport {
		opts.output = cli.FormatJSON
	}
	if err := cli.CheckFormat(opts.output, cli.FormatText, cli.FormatJSON); err != nil {
		return err
	}
	if opts.throttleRate < 0 || opts.throttleRate > 1 {
		return cli.UsageErrorf("--throttle-rate %v: want a share between 0 and 1", opts.throttleRate)
	}
	if opts.filesPerHome < 1 {
		return cli.UsageErrorf("--files-per-home %d: want at least 1", opts.filesPerHome)
	}
	if opts.workers < 1 {
		return cli.UsageErrorf("--workers %d: want at least 1", opts.workers)
	}
	log := g.Log
	if g.LogLevel == "" && os.Getenv(logging.EnvLevel) == "" {
		// The demo tells its own story on stdout; per-step logs would drown it.
		var err error
		if log, err = logging.New(g.Stderr, g.LogFormat, "warn"); err != nil {
			return err
		}
	}
	o := demo.Options{
		Dir:          opts.dir,
		Keep:         opts.keep,
		FilesPerHome: opts.filesPerHome,
		ReadyAfter:   opts.readyAfter,
		ThrottleRate: opts.throttleRate,
		Seed:         opts.seed,
		RedisURL:     opts.redis,
		Workers:      opts.workers,
		Log:          log,
		InProcessLCC: opts.inProcessLCC,
	}
	if opts.throttleRate == 0 {
		o.ThrottleRate = -1 // Options treats 0 as "default"; the flag's 0 means none
	}
	if opts.output == cli.FormatText {
		o.Out = g.Stdout
	}
	rep, err := demo.Run(ctx, o)
	if err != nil {
		return err
	}
	if opts.output == cli.FormatJSON {
		return cli.WriteJSON(g.Stdout, rep)
	}
	if opts.keep || opts.dir != "" {
		fmt.Fprintf(g.Stdout, "\nThe emulated EFS volumes and the snapshot are in %s\n", rep.Dir)
	}
	return nil
}
