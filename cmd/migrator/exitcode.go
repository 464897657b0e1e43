package main

import (
	"context"
	"errors"
	"fmt"
)

// Exit codes, documented in the README ("Conventions"). Scripts branch on them, so
// they never change meaning.
const (
	exitOK = 0
	// exitFatal: the command could not do its work (AWS, Redis, I/O, bad data).
	exitFatal = 1
	// exitUsage: wrong flags or arguments; nothing was done.
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

// usageErrorf is a usage error: wrong or missing flags.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// exitCode maps an error returned by a command to the process's exit code.
func exitCode(ctx context.Context, err error) int {
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return exitInterrupted
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFatal
}
