package main

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionOptions are the flags of `migrator version`.
type versionOptions struct {
	output string
}

// buildInfo is what `migrator version` prints, read from the binary itself.
type buildInfo struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	// Time is the commit time of Revision (RFC 3339).
	Time      string `json:"time,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"goVersion"`
}

func newVersionCommand(g *globalOptions) *cobra.Command {
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
	addOutputFlag(cmd.Flags(), &opts.output, formatText, formatJSON)
	return cmd
}

func readBuildInfo() buildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return buildInfo{Version: "unknown"}
	}
	info := buildInfo{Module: bi.Main.Path, Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

func runVersion(_ context.Context, g *globalOptions, opts *versionOptions) error {
	if err := checkFormat(opts.output, formatText, formatJSON); err != nil {
		return err
	}
	info := readBuildInfo()
	if opts.output == formatJSON {
		return writeJSON(g.stdout, info)
	}
	rev := info.Revision
	if rev == "" {
		rev = "unknown revision"
	}
	if info.Time != "" {
		rev += " (" + info.Time + ")"
	}
	if info.Modified {
		rev += ", modified"
	}
	_, err := fmt.Fprintf(g.stdout, "migrator %s, %s, %s\n", info.Version, rev, info.GoVersion)
	return err
}
