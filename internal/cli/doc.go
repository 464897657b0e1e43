// Package cli is the command-line plumbing every studio-migrator binary shares:
// the global flags and logger (Globals, ConfigureRoot), the exit codes and how an
// error maps to one (ExitCode, WithExit, UsageErrorf, Execute, Main), the output
// conventions (--output/-o is a format, WriteOutput for files and "-", OpenInput),
// and progress on stderr (BytesBar, --progress).
//
// It must not import the AWS SDK, Redis or asynq, directly or not: the copy-only
// binary (cmd/migrator-copy-home) is built on it so that it starts without their
// package initialisation (a test there holds it to that).
package cli
