package main

import (
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/studio-migrator/studio-migrator/internal/logging"
)

// globalOptions are the flags every subcommand shares.
type globalOptions struct {
	logLevel  string
	logFormat string

	// set in PersistentPreRunE
	log    *slog.Logger
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func newRootCommand() *cobra.Command {
	g := &globalOptions{}
	cmd := &cobra.Command{
		Use:   "migrator",
		Short: "Rebuild a SageMaker Studio domain and move every home directory to it",
		Example: `  migrator snapshot --domain d-xxxxxxxxxxxx -f snap.json
  migrator plan --snapshot snap.json --vpc-id vpc-0f9e8d7c6b5a40312 --subnet-ids subnet-0aaaabbbbccccdddd
  migrator copy-home --from /mnt/old-efs/200001 --to /mnt/new-efs/200007 --uid 200007 --verify
  migrator demo`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			g.stdin, g.stdout, g.stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
			log, err := logging.New(g.stderr, g.logFormat, g.logLevel)
			if err != nil {
				return withExit(exitUsage, err)
			}
			g.log = log
			// Libraries that log through the default logger (and the AWS SDK's
			// adapter, see awsconfig) write in the same format, to stderr.
			slog.SetDefault(log)
			return nil
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: err}
	})
	cmd.PersistentFlags().StringVar(&g.logLevel, "log-level", "", "debug, info, warn or error (default: $LOG_LEVEL or info)")
	cmd.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format on stderr: text or json")
	cmd.AddCommand(
		newSnapshotCommand(g),
		newPlanCommand(g),
		newIAMPolicyCommand(g),
		newLCCCommand(g),
		newBackupCommand(g),
		newEmulatorCommand(g),
		newCopyHomeCommand(g),
		newDemoCommand(g),
		newMigrateCommand(g),
		newBackupCommand(g),
		newRestoreCommand(g),
		newApplyCommand(g),
		newCleanupCommand(g),
		newWorkerCommand(g),
		newStatusCommand(g),
		newWatchCommand(g),
		newJobsCommand(g),
		newUIDMapCommand(g),
		newVersionCommand(g),
		newSFTPServerCommand(g),
	)
	return cmd
}
