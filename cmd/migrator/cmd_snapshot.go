package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
	"github.com/studio-migrator/studio-migrator/internal/studio"
)

// snapshotOptions are the flags of `migrator snapshot`.
type snapshotOptions struct {
	aws         awsconfig.Options
	domainID    string
	output      string
	concurrency int
}

// AddFlags registers the snapshot flags and the AWS ones.
func (o *snapshotOptions) AddFlags(fs *pflag.FlagSet) {
	o.aws.AddFlags(fs)
	fs.StringVar(&o.domainID, "domain", "", "ID of the domain to snapshot (d-...)")
	fs.StringVarP(&o.output, "output", "o", "-", `file to write the snapshot to ("-": standard output)`)
	fs.IntVar(&o.concurrency, "concurrency", studio.DefaultSnapshotConcurrency, "Describe/ListTags calls in flight")
}

func newSnapshotCommand(g *globalOptions) *cobra.Command {
	opts := &snapshotOptions{}
	cmd := &cobra.Command{
		Use:   "snapshot --domain ID [-o FILE]",
		Short: "Save a Studio domain, its user profiles and spaces as a JSON document (read-only)",
		Long: `Read a SageMaker Studio domain and every user profile and space in it (settings,
execution roles, Identity Center users, space ownership and sharing, tags, home
directory UIDs) into a versioned JSON document, the input of 'migrator plan'. It only
reads; it is also a record to rebuild the domain from after an accident.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSnapshot(cmd.Context(), g, opts)
		},
	}
	opts.AddFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("domain")
	return cmd
}

func runSnapshot(ctx context.Context, g *globalOptions, opts *snapshotOptions) error {
	if opts.domainID == "" {
		return fmt.Errorf("--domain is required")
	}
	if opts.concurrency < 1 {
		return fmt.Errorf("--concurrency %d: want at least 1", opts.concurrency)
	}
	cfg, err := awsconfig.Load(ctx, opts.aws)
	if err != nil {
		return err
	}
	s, err := studio.TakeSnapshot(ctx, studio.NewClients(cfg), opts.domainID, studio.SnapshotOptions{
		Concurrency: opts.concurrency,
		Logger:      g.log,
	})
	if err != nil {
		return err
	}
	b, err := studio.MarshalSnapshot(s)
	if err != nil {
		return fmt.Errorf("encoding the snapshot of %s: %w", opts.domainID, err)
	}
	if opts.output == "" || opts.output == "-" {
		_, err := g.stdout.Write(b)
		return err
	}
	if err := writeFileAtomic(opts.output, b); err != nil {
		return fmt.Errorf("writing the snapshot: %w", err)
	}
	g.log.Info("snapshot written", "file", opts.output, "profiles", len(s.UserProfiles), "spaces", len(s.Spaces))
	return nil
}

// writeFileAtomic writes data to a temporary file beside path, syncs it and renames
// it into place, so path never holds a partly written document (an interrupted run
// leaves the previous snapshot intact).
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
