// Package backup writes and reads home-directory backups in S3, in the one layout that
// the lifecycle-configuration scripts (scripts/lcc/backup-home.sh, restore-home.sh)
// write and read too, so either side restores what the other backed up.
//
// # Layout
//
// Every backup of one home lives under a base prefix named by the source domain, the
// kind of home (user profile or space) and its *name* (UIDs change when a domain is
// recreated, names do not):
//
//	s3://BUCKET/[PREFIX/]<domain-id>/<profile|space>/<name>/
//	    data/<run>/<path>            content of the files this run uploaded, under their
//	                                 real relative path (fetch one notebook from the console)
//	    xdata/<run>/<hex>            content of a file whose name cannot be an S3 key
//	                                 (invalid UTF-8 or a control character): hex of its path
//	    manifests/<run>.tsv          every entry of the home at that run (see below)
//	    complete/<run>.json          the completion marker, written last
//	    restored/<id>.json           a restore's own marker (under the restoring domain)
//
// <run> is "<UTC start time as 20060102T150405.000000000Z>-<8 hex>": run IDs sort by
// start time. A writer whose clock gives an ID that does not sort after the newest
// complete run uses that run's ID with an "x" appended instead.
//
// A run uploads only the files that are new or changed since the newest complete
// backup (same path, size and mtime = unchanged); the manifest of the new run refers
// to the run that holds each file's content, which may be an older one. Objects are
// never overwritten or deleted by a backup, so a run killed half-way (no marker) leaves
// every complete backup exactly as it was; a restore takes the newest run that has a
// marker, and a rerun uploads only what changed since then. The worker also resumes:
// objects of the newest unfinished run that were uploaded after their file's last
// change are referred to rather than sent again (the scripts send them again). No
// code here deletes a run; whoever prunes old runs must keep every object that a kept
// manifest refers to.
//
// # Manifest
//
// A UTF-8 text file: a first line "#studio-migrator-manifest v1", then one line per
// entry below the home (the home itself is not listed), parents before their
// children, nine fields separated by a tab:
//
//	type  mode  mtime  size  inode  run  enc  path  target
//
// The fields are:
//
//   - type: d (directory), f (regular file) or l (symlink); other types are not kept.
//   - mode: permission bits in octal, setuid/setgid/sticky included (e.g. 755, 4755).
//   - mtime: seconds since the epoch, a dot and 9 digits of nanoseconds.
//   - size: bytes (0 for a directory; the target's length for a symlink).
//   - inode: "-", or "<dev>:<ino>" for a file with several hardlinks: entries with the
//     same value are restored as hardlinks of each other.
//   - run: for a file, the run whose data/ or xdata/ holds its content; "-" otherwise.
//   - enc: p when path and target are written as they are, x when both are hex
//     (lower case) because one of them is not valid UTF-8 or has a control character
//     (tab and newline included, so the tab-separated format always holds).
//   - path: relative to the home, slash-separated, never "..", absolute or empty.
//   - target: a symlink's target exactly as stored; empty for other types.
//
// A restore refuses the whole manifest, before writing anything, if one path is
// absolute, has a ".." or empty component, or lies below an entry that is not a
// directory.
//
// # Completion marker
//
// complete/<run>.json is a JSON object: run, writer ("lcc" or "migrator"), version
// (of the script or program), status ("complete"), started and finished (RFC 3339
// UTC), files, dirs, symlinks, bytes (of all files), uploaded and uploadedBytes (what
// this run sent), encoded (how many names were hex-encoded) and errors (entries that
// could not be read and are missing from the manifest; each is named in the log).
// Its presence is what makes a run complete.
package backup
