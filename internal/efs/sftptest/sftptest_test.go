package sftptest_test

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/studio-migrator/studio-migrator/internal/efs/sftptest"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// TestStart checks the server from a non-test caller's point of view: Start, the
// files it writes, a raw SSH session on the sftp subsystem, and Close.
func TestStart(t *testing.T) {
	testutil.RequireBinary(t, sftptest.InstallHint, "/usr/lib/openssh/sftp-server", "/usr/lib/sftp-server")
	srv, err := sftptest.Start(sftptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kh, err := os.ReadFile(srv.KnownHostsFile())
	if err != nil || !strings.HasPrefix(string(kh), "[127.0.0.1]:") {
		t.Errorf("known_hosts = %q, %v", kh, err)
	}
	pem, err := os.ReadFile(srv.ClientKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", srv.Addr(), &ssh.ClientConfig{
		User: "x", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(srv.HostKey()),
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestSubsystem("sftp"); err != nil {
		t.Fatal(err)
	}
	if err := s.RequestSubsystem("shell"); err == nil {
		t.Error("a second subsystem request was accepted")
	}
	srv.DropConnections()
	if err := c.Wait(); err == nil {
		t.Error("connection survived DropConnections")
	}
	dir := srv.Dir()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v", dir, err)
	}
}
