// Package sftpserver is the hidden sftp-server command: the far end of an sftp://
// location, which copy-home starts on the SFTP host over SSH and which serves SFTP
// on stdin/stdout below --root without ever following a symlink (efs.ServeSFTP). It
// is a subcommand of migrator and of migrator-copy-home, so that the small binary
// can serve both ends.
//
// Like package cli, it must not pull in the AWS SDK, Redis or asynq.
package sftpserver
