// Command migrator rebuilds a SageMaker Studio domain: it snapshots the old domain,
// plans and creates the new one, moves every home directory to the new EFS under the
// new UIDs, verifies, and reports. This package is thin: each file builds one cobra
// subcommand whose run function calls into internal/ packages (tests call the run
// functions directly).
package main
