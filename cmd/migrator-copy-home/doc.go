// Command migrator-copy-home is `migrator copy-home` alone: the same code, flags,
// output and exit codes, in a binary that links neither the AWS SDK nor Redis. It
// is for the host that mounts the EFS volumes, where it is also the far end of an
// sftp:// location (its hidden sftp-server: copy-home --sftp-remote-command
// "migrator-copy-home sftp-server"), and for a workstation that copies over SFTP:
// small (under a quarter of migrator's size; build it with CGO_ENABLED=0 for a
// static binary to copy there) and quick to start, about 0.015 s against migrator's
// 0.08 s, most of which is the AWS SDK's package initialisation (what is left here
// is mostly the Go runtime's and the SSH and crypto packages'). That start-up is
// paid once per home, which matters when a script copies many small homes one by
// one, and in every benchmark of a small tree.
package main
