// Package efstest is the conformance suite every efs.FS backend runs (Local, SFTP),
// in the spirit of restic's internal/backend/test and rclone's fstest/fstests: one
// set of subtests states the FS contract in executable form, so the backends cannot
// drift apart.
//
// The suite asserts on real effects: when the backend's root is visible on the local
// disk (Local, and SFTP against the in-process test server), every write is checked
// with os.Lstat and os.ReadFile (bytes, owners, modes including setuid/setgid/sticky,
// mtimes, inode identity of hardlinks). Where a backend legitimately cannot do
// something (Features says so: no inodes, no symlink owner, whole-second mtimes), the
// suite checks the documented alternative (ErrNotSupported and nothing changed,
// truncated mtimes) instead of skipping.
//
// Ownership checks need root (to chown to arbitrary UIDs); without it the suite
// re-owns to the current user and checks the rest.
package efstest
