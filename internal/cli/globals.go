package cli

import (
	"io"
	"log/slog"
	"os"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/location"
	"github.com/studio-migrator/studio-migrator/internal/logging"
)

// Globals are the flags every command shares (--log-level, --log-format) and what
// Setup derives from them and from the command: the logger and the standard streams
// (cobra's, so tests can capture them).
type Globals struct {
	LogLevel  string
	LogFormat string

	// Set by Setup, before a command runs.
	Log    *slog.Logger
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// AddFlags registers --log-level and --log-format (persistent flags of a root).
func (g *Globals) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&g.LogLevel, "log-level", "", "debug, info, warn or error (default: $LOG_LEVEL or info)")
	fs.StringVar(&g.LogFormat, "log-format", "text", "log format on stderr: text or json")
}

// Setup fills the streams and the logger for cmd; roots call it from
// PersistentPreRunE. A bad --log-level or --log-format is a usage error.
func (g *Globals) Setup(cmd *cobra.Command) error {
	g.Stdin, g.Stdout, g.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	log, err := logging.New(g.Stderr, g.LogFormat, g.LogLevel)
	if err != nil {
		return WithExit(ExitUsage, err)
	}
	g.Log = log
	// Libraries that log through the default logger (and the AWS SDK's adapter, see
	// awsconfig) write in the same format, to stderr.
	slog.SetDefault(log)
	return nil
}

// LocationOptions completes the SFTP options a command's flags set (see
// location.Options.AddFlags) with what comes from the process: the SSH agent and the
// logger. copy-home and worker open locations with it.
func LocationOptions(lo location.Options, g *Globals) location.Options {
	lo.UseAgent = os.Getenv("SSH_AUTH_SOCK") != ""
	lo.Log = g.Log
	return lo
}

// ConfigureRoot makes cmd a root that follows the project's conventions: errors
// and usage are printed once, by Main, not by cobra; a bad flag is a usage error
// (exit 2); --log-level and --log-format are on every command, and g is set up
// before any command runs.
func ConfigureRoot(cmd *cobra.Command, g *Globals) {
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	cmd.PersistentPreRunE = func(c *cobra.Command, _ []string) error { return g.Setup(c) }
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return WithExit(ExitUsage, err)
	})
	g.AddFlags(cmd.PersistentFlags())
}

// ParseID reads a UID or GID flag's value: nil for "" (a usage error when the
// flag is required), else the number, or a usage error naming the flag.
func ParseID(flag, s string, required bool) (*uint32, error) {
	if s == "" {
		if required {
			return nil, UsageErrorf("--%s is required", flag)
		}
		return nil, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return nil, UsageErrorf("--%s %q: not a number", flag, s)
	}
	v := uint32(n)
	return &v, nil
}
