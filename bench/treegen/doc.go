// Package treegen writes a deterministic, SageMaker-Studio-home-like directory tree
// for the benchmark harness: many small files with log-normal sizes, a .git object
// fan-out, a conda environment with hardlinks and relative symlinks, executables,
// empty directories and a few large files, every entry owned by an "old" UID and
// stamped with a fixed past mtime. Config.Shape picks other layouts that stress the
// per-directory lock of a file system differently: one flat directory (ShapeFlat),
// directories of 100 files (ShapeDirs100) and directories of 100 files of a few bytes
// (ShapeTiny).
//
// The same Config and seed always give the same names, sizes, bytes, modes, owners
// and times, so every tool in a benchmark copies exactly the same work and a result
// from one day can be compared with one from another.
package treegen
