// Package sftptest runs an in-process SSH server on 127.0.0.1 whose "sftp"
// subsystem is OpenSSH's real sftp-server (Debian package openssh-sftp-server),
// so the SFTP backend is tested against the server it meets in production, with
// its quirks: symlink targets stored verbatim, lsetstat@openssh.com,
// hardlink@openssh.com, posix-rename@openssh.com and limits@openssh.com.
// (pkg/sftp's own server is not used: it rewrites relative symlink targets.)
//
// The server generates an ed25519 host key and an ed25519 client key, writes a
// known_hosts file and the client's private key to a temporary directory, and
// accepts only that client key. sftp-server runs as this process's user, so under
// root chown works. DropConnections closes every live connection, to test
// reconnects.
//
// SSHD (sshd.go) is the other test server: a real OpenSSH sshd on a free port, with
// its default MaxSessions, serving both the stock sftp-server subsystem and exec
// channels (this program's own remote end, built once per test binary by
// MigratorBinary).
// sshd runs each session's command through the user's login shell, which reads
// ~/.bashrc; so that a slow one (pyenv init: seconds per session) is not what the
// tests measure, SSHD runs sshd in a private mount namespace where an empty file is
// mounted over root's ~/.bashrc (shellRCToHide), and logs it where it cannot.
//
// Start works from any program (the benchmark harness and the demo use it); New
// is the test helper, which skips when sftp-server is not installed and closes the
// server at the end of the test.
package sftptest
