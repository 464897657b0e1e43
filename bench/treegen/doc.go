// Package treegen writes a deterministic, SageMaker-Studio-home-like directory tree
// for the benchmark harness: many small files with log-normal sizes, a .git object
// fan-out, a conda environment with hardlinks and relative symlinks, executables,
// empty directories and a few large files, every entry owned by an "old" UID and
// stamped with a fixed past mtime.
//
// The same Config and seed always give the same names, sizes, bytes, modes, owners
// and times, so every tool in a benchmark copies exactly the same work and a result
// from one day can be compared with one from another.
package treegen
