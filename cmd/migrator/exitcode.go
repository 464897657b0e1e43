package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/studio-migrator/studio-migrator/internal/efs"
)

// Exit codes, documented in the README ("Conventions"). Scripts branch on them, so
// they never change meaning.
const (
	exitOK = 0
	// exitFatal: the command could not do its work (AWS, Redis, I/O, bad data).
	exitFatal = 1
	// exitUsage: wrong flags or arguments (unknown, missing, or a bad value);
	// nothing was done.
	exitUsage = 2
	// exitPlanErrors: the plan or the preflight has errors; nothing was created.
	exitPlanErrors = 3
	// exitDifferences: verify found differences.
	exitDifferences = 4
	// exitPartial: the work ran to the end but some entries (or homes) failed.
	exitPartial = 5
	// exitJobFailed: the job watched or waited for ended failed or cancelled.
	exitJobFailed = 6
	// exitInterrupted: Ctrl-C or SIGTERM; running the same command again resumes.
	exitInterrupted = 130
)

// exitError carries an exit code to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withExit wraps err so main exits with code; nil stays nil.
func withExit(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// usageErrorf is a usage error: wrong or missing flags, or a flag value that
// cannot be right (a format the command does not print, 0 workers, ...).
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// exitCode maps an error returned by a command to the process's exit code. A
// command may say its code with withExit; the efs sentinels are mapped here so every
// command that copies or verifies gets them right.
func exitCode(ctx context.Context, err error) int {
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return exitInterrupted
	}
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, efs.ErrDifferences):
		return exitDifferences
	case errors.Is(err, efs.ErrEntriesFailed):
		return exitPartial
	}
	return exitFatal
}

// execute runs the command line root was given and returns the command that ran,
// the exit code and the error. An error cobra returns before a command's RunE starts
// (unknown command or flag, missing required flag, stray arguments) is a usage error.
func execute(ctx context.Context, root *cobra.Command) (*cobra.Command, int, error) {
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
	var ee *exitError
	if err != nil && !started && !errors.As(err, &ee) {
		err = &exitError{code: exitUsage, err: err}
	}
	return cmd, exitCode(ctx, err), err
}
