package main

import (
	"github.com/spf13/cobra"

	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/cli/copyhome"
)

func main() {
	cli.Main(newRootCommand(), nil)
}

// newRootCommand is copy-home as a root command, with the global flags.
func newRootCommand() *cobra.Command {
	g := &cli.Globals{}
	cmd := copyhome.NewCommand(g, "migrator-copy-home")
	cli.ConfigureRoot(cmd, g)
	// --version, as `migrator version` says it (a root that copies takes no
	// subcommand).
	cmd.Version = cli.ReadBuildInfo().String()
	cmd.SetVersionTemplate("migrator-copy-home {{.Version}}\n")
	return cmd
}
