// Package harness runs the home-directory copy benchmark: it generates a Studio-like
// home (bench/treegen), copies it with each tool several times onto a fresh
// destination, times every run (wall clock) and reads its peak RSS (wait4 rusage,
// which covers the tool's child processes too), verifies every output against the
// source, and reports medians, speedups against the admin's manual baselines and the
// project's performance targets, as a table and as JSON.
//
// A result is only ever a figure for output that passed verification: if any run of
// a tool fails its check, the tool gets no time at all, only the reason. Each tool is
// checked against the contract it can honour (cp -a keeps the old owners, cp -rp and
// rsync -a split hardlinks, scp and sftp cannot chown) and the table says which.
//
// Scenarios: "tmpfs" (source and destination in memory: pure per-file CPU and
// syscall cost), "efs" (both behind bench/latencyfs FUSE mounts that charge EFS-like
// round trips), "sftp" (the destination is a real OpenSSH sftp-server behind an
// in-process SSH server, optionally behind a proxy adding round-trip time) and
// "bigfile" (one large file: streaming throughput and the mover's memory). The tmpfs
// and efs scenarios copy each tree shape asked for (treegen: home-like, flat,
// 100-file directories, tiny files), each reported as "tmpfs/<shape>". In efs, with
// Config.EFSMounts above 1, the mover also writes through that many FUSE mounts of
// the destination's backing directory (copy-home --to-mount), each a superblock of
// its own with its own directory locks, as NFS mounts made with nosharecache are.
// With Config.Rerun the mover runs once more over each finished copy: the cost of a
// resume that finds nothing to do, as a share of the first copy.
//
// Runs are interleaved (run 1 of every tool, then run 2 of every tool, ...), so
// background load from other processes spreads over the tools instead of landing on
// one of them.
//
// Linux only (tmpfs and FUSE mounts, wait4 rusage, setpgid, the mover itself):
// every file but this one carries the linux build tag.
package harness
