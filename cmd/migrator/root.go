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
	stdout io.Writer
	stderr io.Writer
}

func newRootCommand() *cobra.Command {
	g := &globalOptions{}
	cmd := &cobra.Command{
		Use:           "migrator",
		Short:         "Rebuild a SageMaker Studio domain and move every home directory to it",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			g.stdout, g.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			log, err := logging.New(g.stderr, g.logFormat, g.logLevel)
			if err != nil {
				return err
			}
			g.log = log
			return nil
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: err}
	})
	cmd.PersistentFlags().StringVar(&g.logLevel, "log-level", "", "debug, info, warn or error (default: $LOG_LEVEL or info)")
	cmd.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "text or json")
	cmd.AddCommand(
		newSnapshotCommand(g),
		newPlanCommand(g),
		newIAMPolicyCommand(g),
		newEmulatorCommand(g),
		newCopyHomeCommand(g),
		newDemoCommand(g),
		newSFTPServerCommand(g),
	)
	return cmd
}
