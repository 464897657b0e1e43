// Package testutil holds what many test packages share: finding the real external
// programs the tests drive (the AWS CLI v2, OpenSSH's sftp-server, rsync) and deciding
// what happens when one is missing. Under scripts/test.sh (MIGRATOR_STRICT_TESTS=1,
// which CI uses) a missing program fails the test, so CI can never pass by skipping;
// in a developer's ad-hoc `go test` it skips with the command that installs it.
package testutil
