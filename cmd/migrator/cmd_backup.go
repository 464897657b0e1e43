package main

import (
	"github.com/spf13/cobra"
)

// newBackupCommand is `migrator backup`. This file holds the command and its --via
// switch; the lifecycle-configuration path is cmd_backup_lcc.go. (The worker's
// `backup --from DIR` joins here: its flags and runBackup are the s3-jobs branch's.)
func newBackupCommand(g *globalOptions) *cobra.Command {
	o := &backupLCCOptions{}
	var via string
	cmd := &cobra.Command{
		Use:   "backup --domain D --via lcc --bucket B [--prefix P] [--restart-apps]",
		Short: "Back the homes of a domain up to S3",
		Long: `With --via lcc: install backup-home.sh as the domain's default lifecycle
configuration (for the app types it uses), then watch the backups arrive in S3 as
apps start, with a progress bar, and list the profiles and spaces that have not
backed up since the install (no app, app failed, app started before the install).
Apps that already run pick the script up only when they restart: --restart-apps
lists them and restarts them, which STOPS THEIR KERNELS. Exit 5 when some profile
or space has not backed up. It runs in this process: nothing is enqueued.`,
		Example: `  migrator backup --domain d-xxxxxxxxxxxx --via lcc --bucket my-studio-backups
  migrator backup --domain d-xxxxxxxxxxxx --via lcc --bucket my-studio-backups --restart-apps --timeout 30m -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if via != "lcc" {
				return usageErrorf("--via %q: want lcc (the lifecycle configurations back the homes up from the apps)", via)
			}
			return runBackupLCC(cmd.Context(), g, o)
		},
	}
	cmd.Flags().StringVar(&via, "via", "", "how: lcc (the apps run the backup lifecycle configuration; required)")
	o.AddFlags(cmd.Flags())
	return cmd
}
