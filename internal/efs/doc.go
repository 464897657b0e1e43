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
//     that mounts one, by default through this program's own sftp-server run there
//     over SSH (ServeSFTP, sftp_server.go: the same Local, so the same guarantees);
//     the stock OpenSSH sftp-server is an opt-in with stated limits (see SFTP). Source
//     and destination may be different backends. Both pass one conformance suite
//     (package efstest, run by TestConformance), so they cannot drift apart.
//   - Copy (copy.go, schedule.go): a streaming walk feeding a bounded pool of
//     workers, so many files are in flight (EFS costs milliseconds per metadata
//     operation, so latency, not bandwidth, is what a copy of many small files pays
//     for) while memory stays independent of the number of files. Linux takes a
//     directory's lock for every create, link, rename and unlink in it (NFS
//     included), so a scheduler keeps a queue of files per directory and hands them
//     to the workers round-robin over the directories that have work, at most
//     CopyOptions.PerDirectory (8) in flight in one directory. At most Workers/4
//     walkers list directories (source and destination at once), widest first (by
//     link count), each making its directory's missing subdirectories first, the
//     widest first and a few at once (a wide level such as .git/objects is the
//     longest chain of a copy on EFS; a new directory is made with its final mode
//     where that is safe, see dirCreatePerm, and its extended attributes are read
//     with its listing), then queuing its
//     subdirectories and files without waiting; a walk starts only while few files
//     are queued, or when none of them can start, so memory stays bounded. Workers
//     and walkers start as work appears, up to their bounds (an empty tree starts
//     one walker; a wide one reaches the whole pool within its first listings). A
//     directory stays in memory only while it has unfinished children (a counter);
//     the last child applies its owner, mode and mtime, after everything written
//     into it.
//     Every entry is owned by the new UID (symlinks too where the destination can
//     chown a link; the report says once when it cannot); setuid/setgid bits on files
//     are stripped unless KeepSetID; sockets, FIFOs and devices are skipped and
//     listed. Hardlinks are kept when the source shows inodes and the destination can
//     link: only inodes with more than one link are remembered (first destination
//     name), and later names wait on the first without blocking a worker.
//   - PrepareDest (prepare.go) creates /<newUID> owned by the new UID, and refuses a
//     non-empty one owned by another non-root UID unless merging.
//   - resume: on an InPlaceCreator (Local) a new file is created at its final name
//     with O_EXCL|O_NOFOLLOW and its mtime is set last, after data, owner,
//     extended attributes and mode, so a file cut short never carries the source's
//     mtime; a new symlink is made at its final name (its target is whole from the
//     start), then owned. Elsewhere (SFTP), and for a name the destination already
//     has, files and symlinks are written under a temporary name in their
//     directory (.studio-migrator.<name>.<16 hex>.tmp, the name hashed when too
//     long) and renamed into place once data and attributes are complete. Either
//     way an interrupted run never leaves a file that looks complete. A rerun lists both
//     trees and compares type, size, mtime (at the coarser granularity of the two
//     backends), owner, mode and link target: matching entries are not touched,
//     owner or mode differences are fixed with Setattr alone, the rest is copied
//     again, temporary files are removed, and entries only the destination has are
//     left alone (counted as Extra) unless CopyOptions.Delete.
//   - Verify (verify.go): a JSON-serialisable report of every difference between
//     source and destination (type, size, mode, mtime, owner, symlink target,
//     hardlink grouping, extended attributes and ACLs, and SHA-256 of contents when
//     asked), with counts.
//   - Extended attributes (xattr.go, local_xattr.go): optional XattrFS /
//     XattrReader / XattrWriter interfaces; which namespaces are kept is decided
//     once, in xattr.go. Sparse files (local.go): SEEK_DATA/SEEK_HOLE, zero blocks.
//   - Progress (progress.go): snapshots pushed to a Reporter; drawing is cmd's job.
//   - Platforms (platform.go): Local, MultiMount and ServeSFTP are Linux only
//     (local.go, multimount.go, sftp_server.go carry the linux build tag); the rest,
//     the SFTP client and its wire protocol (sftp_proto.go) included, builds
//     everywhere, so the CLI's control-plane commands run on macOS and Windows. There
//     local_other.go's constructors and CheckLocal return ErrUnsupportedPlatform,
//     which internal/location checks before a command opens anything.
//
// Safety rules (see DESIGN.md): symlinks are copied as links and never followed; no
// name may leave the FS root; nothing is chowned outside the destination root.
package efs
