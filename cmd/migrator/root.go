package main

import (
	"github.com/spf13/cobra"

	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/cli/copyhome"
	"github.com/studio-migrator/studio-migrator/internal/cli/sftpserver"
)

func newRootCommand() *cobra.Command {
	g := &cli.Globals{}
	cmd := &cobra.Command{
		Use:   "migrator",
		Short: "Rebuild a SageMaker Studio domain and move every home directory to it",
		Example: `  migrator snapshot --domain d-xxxxxxxxxxxx -f snap.json
  migrator plan --snapshot snap.json --vpc-id vpc-0f9e8d7c6b5a40312 --subnet-ids subnet-0aaaabbbbccccdddd
  migrator copy-home --from /mnt/old-efs/200001 --to /mnt/new-efs/200007 --uid 200007 --verify
  migrator demo`,
	}
	cli.ConfigureRoot(cmd, g)
	cmd.AddCommand(
		newSnapshotCommand(g),
		newPlanCommand(g),
		newIAMPolicyCommand(g),
		newLCCCommand(g),
		newBackupCommand(g),
		newEmulatorCommand(g),
		copyhome.NewCommand(g, "migrator copy-home"),
		newDemoCommand(g),
		newMigrateCommand(g),
		newRestoreCommand(g),
		newApplyCommand(g),
		newCleanupCommand(g),
		newWorkerCommand(g),
		newStatusCommand(g),
		newWatchCommand(g),
		newJobsCommand(g),
		newUIDMapCommand(g),
		newVersionCommand(g),
		sftpserver.NewCommand(g, "migrator sftp-server"),
	)
	return cmd
}
