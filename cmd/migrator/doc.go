// Command migrator rebuilds a SageMaker Studio domain: it snapshots the old domain,
// plans and creates the new one, moves every home directory to the new EFS under the
// new UIDs, verifies, and reports. This package is thin: each file builds one cobra
// subcommand whose run function calls into internal/ packages (tests call the run
// functions directly).
//
// Every command follows the conventions of the README's "Conventions" section, with
// the helpers of internal/cli: AddOutputFlag/CheckFormat (--output/-o is a format),
// WriteOutput (files, "-" for stdout, special files written in place), OpenInput
// ("-" for stdin), UsageErrorf/WithExit and the exit codes, BytesBar and --progress,
// an Example in every --help. A test (TestHelpConventions) walks the command tree to
// hold new commands to them. copy-home lives in internal/cli/copyhome, which the
// copy-only binary (cmd/migrator-copy-home) shares.
package main
