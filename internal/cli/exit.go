package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/studio-migrator/studio-migrator/internal/efs"
)

// Exit codes, documented in the README ("Conventions"). Scripts branch on them, so
// they never change meaning.
const (
	ExitOK = 0
	// ExitFatal: the command could not do its work (AWS, Redis, I/O, bad data).
	ExitFatal = 1
	// ExitUsage: wrong flags or arguments (unknown, missing, or a bad value);
	// nothing was done.
	ExitUsage = 2
	// ExitPlanErrors: the plan or the preflight has errors; nothing was created.
	ExitPlanErrors = 3
	// ExitDifferences: verify found differences.
	ExitDifferences = 4
	// ExitPartial: the work ran to the end but some entries (or homes) failed.
	ExitPartial = 5
	// ExitJobFailed: the job watched or waited for ended failed or cancelled.
	ExitJobFailed = 6
	// ExitInterrupted: Ctrl-C or SIGTERM; running the same command again resumes.
	ExitInterrupted = 130
)

// ExitError carries an exit code to main.
type ExitError struct {
	code int
	err  error
}

func (e *ExitError) Error() string { return e.err.Error() }
func (e *ExitError) Unwrap() error { return e.err }

// WithExit wraps err so main exits with code; nil stays nil.
func WithExit(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{code: code, err: err}
}

// UsageErrorf is a usage error: wrong or missing flags, or a flag value that
// cannot be right (a format the command does not print, 0 workers, ...).
func UsageErrorf(format string, args ...any) error {
	return &ExitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// ExitCode maps an error returned by a command to the process's exit code. A
// command may say its code with WithExit; the efs sentinels are mapped here so every
// command that copies or verifies gets them right.
func ExitCode(ctx context.Context, err error) int {
	if err == nil {
		return ExitOK
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return ExitInterrupted
	}
	var ee *ExitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, efs.ErrDifferences):
		return ExitDifferences
	case errors.Is(err, efs.ErrEntriesFailed):
		return ExitPartial
	case errors.Is(err, efs.ErrUnsupportedPlatform):
		// Refused before anything was opened or created, like a plan with errors.
		return ExitPlanErrors
	}
	return ExitFatal
}

// Execute runs the command line root was given and returns the command that ran,
// the exit code and the error. An error cobra returns before a command's RunE starts
// (unknown command or flag, missing required flag, stray arguments) is a usage error.
func Execute(ctx context.Context, root *cobra.Command) (*cobra.Command, int, error) {
	started := false
	var wrap func(c *cobra.Command)
	wrap = func(c *cobra.Command) {
		if run := c.RunE; run != nil {
			c.RunE = func(cmd *cobra.Command, args []string) error {
				started = true
				return run(cmd, args)
			}
		}
		for _, sub := range c.Commands() {
			wrap(sub)
		}
	}
	wrap(root)
	cmd, err := root.ExecuteContextC(ctx)
	var ee *ExitError
	if err != nil && !started && !errors.As(err, &ee) {
		err = &ExitError{code: ExitUsage, err: err}
	}
	return cmd, ExitCode(ctx, err), err
}

// Main runs root on the process's arguments and exits with its code. Ctrl-C and
// SIGTERM cancel the command's context (the command stops cleanly and exits 130).
// An error is printed once, as message(err) (nil: err.Error()), after the root's
// name, with a hint that says what to do for a usage error or an interruption.
func Main(root *cobra.Command, message func(error) string) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	cmd, code, err := Execute(ctx, root)
	stop()
	if err != nil {
		printError(os.Stderr, root.Name(), cmd.CommandPath(), code, err, message)
	}
	os.Exit(code)
}

// printError prints err once, as message(err) (nil: err.Error()), after name, and
// a line that says what to do for a usage error, an interruption or a platform
// that cannot open a local home.
func printError(w io.Writer, name, cmdPath string, code int, err error, message func(error) string) {
	if message == nil {
		message = error.Error
	}
	fmt.Fprintf(w, "%s: %s\n", name, message(err))
	switch {
	case code == ExitInterrupted:
		fmt.Fprintf(w, "%s: interrupted; run the same command again to resume\n", name)
	case code == ExitUsage:
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", cmdPath)
	case errors.Is(err, efs.ErrUnsupportedPlatform):
		fmt.Fprintf(w, "%s: %s\n", name, PlatformAdvice(cmdPath))
	}
}

// PlatformAdvice says what to do when cmdPath met efs.ErrUnsupportedPlatform: the
// home-directory mover runs on Linux only, while the control-plane commands run
// anywhere.
func PlatformAdvice(cmdPath string) string {
	return fmt.Sprintf("nothing was done: '%s' reads or writes home directories on a local file system, which needs Linux (openat2); "+
		"run it on a Linux host: the EFS host, or the worker container (docker compose run --rm worker ...). "+
		"From this machine, migrate, status, watch and jobs enqueue and follow the work that Linux workers do.", cmdPath)
}
