package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/studio"
)

// uidMapOptions are the flags of `migrator uid-map`.
type uidMapOptions struct {
	redis  redisOptions
	output string
}

// AddFlags registers uid-map's flags.
func (o *uidMapOptions) AddFlags(fs *pflag.FlagSet) {
	o.redis.AddFlags(fs)
	fs.StringVarP(&o.output, "output", "o", "text", "output format: text, json or csv (header kind,name,oldUid,newUid)")
}

func newUIDMapCommand(g *cli.Globals) *cobra.Command {
	opts := &uidMapOptions{}
	cmd := &cobra.Command{
		Use:   "uid-map JOB",
		Short: "Print a job's old UID -> new UID map of every user profile and space",
		Long: `Print the old UID -> new UID map a job learned from the new domain (new UIDs are
read from DescribeUserProfile/DescribeSpace, never computed). It grows while the
profiles and spaces are created. Useful for anything else on the EFS that is owned by
the old UIDs.`,
		Example: `  migrator uid-map migrate-20261201-091500-1a2b3c4d
  migrator uid-map "$JOB" -o csv > uid-map.csv`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUIDMap(cmd.Context(), g, opts, args[0])
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// runUIDMap prints job id's UID map; tests call it directly.
func runUIDMap(ctx context.Context, g *cli.Globals, opts *uidMapOptions, id string) error {
	if err := cli.CheckFormat(opts.output, "text", "json", "csv"); err != nil {
		return err
	}
	c, err := opts.redis.client()
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := getJob(ctx, c, id)
	if err != nil {
		return err
	}
	m := st.UIDMap
	if m == nil {
		m = []studio.UIDMapping{}
	}
	switch opts.output {
	case "json":
		return cli.WriteJSON(g.Stdout, m)
	case "csv":
		w := csv.NewWriter(g.Stdout)
		_ = w.Write([]string{"kind", "name", "oldUid", "newUid"})
		for _, u := range m {
			_ = w.Write([]string{u.Kind, u.Name, u.OldUID, u.NewUID})
		}
		w.Flush()
		return w.Error()
	}
	tw := tabwriter.NewWriter(g.Stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tOLD UID\tNEW UID")
	for _, u := range m {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Kind, u.Name, u.OldUID, u.NewUID)
	}
	return tw.Flush()
}
