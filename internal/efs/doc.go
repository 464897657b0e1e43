// Package efs moves Studio home directories: from the old EFS /<oldUID> to the new EFS
// /<newUID>, every entry re-owned to the new UID in the same pass.
//
// The pieces:
//   - FS, the small interface both ends of a copy implement. Local works on a mounted
//     file system (an EFS mount, or a plain folder in tests and the demo): it resolves
//     every name from a descriptor of its root with openat2(RESOLVE_BENEATH|
//     RESOLVE_NO_SYMLINKS) and acts on the final component with no-follow *at
//     syscalls, so no symlink in any component is ever followed; io.Copy from a Local
//     reader to a Local writer runs copy_file_range in the kernel. SFTP works on a host
//     that mounts one (whole-second mtimes, no inodes; see its type comment). Source
//     and destination may be different backends. Both pass one conformance suite
//     (package efstest, run by TestConformance), so they cannot drift apart.
//   - the copier: a streaming walk feeding a bounded pool of workers, so many files are
//     in flight (EFS costs milliseconds per metadata operation, so latency, not
//     bandwidth, is what a copy of many small files pays for) while memory stays
//     independent of the number of files.
//   - resume: a rerun compares type, size, mtime, owner and mode and moves only what
//     differs; files are written under a temporary name and renamed into place, so an
//     interrupted run never leaves a file that looks complete.
//   - verify: a report of every difference between source and destination.
//
// Safety rules (see DESIGN.md): symlinks are copied as links and never followed; no
// name may leave the FS root; nothing is chowned outside the destination root.
package efs
