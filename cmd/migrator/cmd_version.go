package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/studio-migrator/studio-migrator/internal/cli"
)

// versionOptions are the flags of `migrator version`.
type versionOptions struct {
	output string
}

func newVersionCommand(g *cli.Globals) *cobra.Command {
	opts := &versionOptions{}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the migrator's version, the commit it was built from and the Go version",
		Long: `Print the build information Go records in the binary: the module version ("(devel)"
for a build from a checkout), the VCS revision and its time, whether the work tree had
uncommitted changes, and the Go version.`,
		Example: `  migrator version
  migrator version -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVersion(cmd.Context(), g, opts)
		},
	}
	cli.AddOutputFlag(cmd.Flags(), &opts.output, cli.FormatText, cli.FormatJSON)
	return cmd
}

func runVersion(_ context.Context, g *cli.Globals, opts *versionOptions) error {
	if err := cli.CheckFormat(opts.output, cli.FormatText, cli.FormatJSON); err != nil {
		return err
	}
	info := cli.ReadBuildInfo()
	if opts.output == cli.FormatJSON {
		return cli.WriteJSON(g.Stdout, info)
	}
	_, err := fmt.Fprintf(g.Stdout, "migrator %s\n", info)
	return err
}
