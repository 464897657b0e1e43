package main

import (
	"github.com/spf13/cobra"

	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/cli/copyhome"
	"github.com/studio-migrator/studio-migrator/internal/cli/sftpserver"
)

func main() {
	cli.Main(newRootCommand(), nil)
}

// newRootCommand is copy-home as a root command, with the global flags.
func newRootCommand() *cobra.Command {
	g := &cli.Globals{}
	cmd := copyhome.NewCommand(g, "migrator-copy-home")
	cli.ConfigureRoot(cmd, g)
	// --version, as `migrator version` says it.
	cmd.Version = cli.ReadBuildInfo().String()
	cmd.SetVersionTemplate("migrator-copy-home {{.Version}}\n")
	// The far end of an sftp:// location too, so that one small binary serves both
	// ends: --sftp-remote-command "migrator-copy-home sftp-server".
	cmd.AddCommand(sftpserver.NewCommand(g, "migrator-copy-home sftp-server"))
	// With a subcommand cobra lists its own help and completion commands, which a
	// one-command binary does not need: no completion, and help works but is not
	// listed.
	cmd.CompletionOptions.DisableDefaultCmd = true
	cmd.InitDefaultHelpCmd()
	for _, c := range cmd.Commands() {
		if c.Name() == "help" {
			c.Hidden = true
		}
	}
	return cmd
}
