// Package copyhome is the copy-home command: copy one home directory to its new
// place (local or over SFTP, through one mount or several), re-owning every entry
// to the new UID, with progress, a summary, a JSON report and an optional verify.
// It is a subcommand of migrator and the root of migrator-copy-home, the copy-only
// binary; both run this same code, flags and exit codes.
//
// Like package cli, it must not pull in the AWS SDK, Redis or asynq.
package copyhome
