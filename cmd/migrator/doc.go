// Command migrator rebuilds a SageMaker Studio domain: it snapshots the old domain,
// plans and creates the new one, moves every home directory to the new EFS under the
// new UIDs, verifies, and reports. This package is thin: each file builds one cobra
// subcommand whose run function calls into internal/ packages (tests call the run
// functions directly).
//
// Every command follows the conventions of the README's "Conventions" section, with
// the helpers of the cli_*.go files: addOutputFlag/checkFormat (--output/-o is a
// format), writeOutput (files, "-" for stdout, special files written in place),
// openInput ("-" for stdin), usageErrorf/withExit and exitcode.go (exit codes),
// bytesBar and --progress (cli_progress.go), an Example in every --help. A test
// (TestHelpConventions) walks the command tree to hold new commands to them.
package main
