// Command homebench runs the home-directory copy benchmark (bench/harness): it
// compares `migrator copy-home` with cp -a, cp -rp && chown -R, rsync -a --chown,
// scp and sftp on an in-memory tree, on emulated EFS (bench/latencyfs) and over
// SFTP, verifies every copy, and prints a table of medians and speedups. It must run
// as root. Usually started through bench/run.sh, which builds the mover first.
package main
