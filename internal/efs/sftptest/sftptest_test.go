package sftptest_test

import (
	"bytes"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

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

// TestSSHDHidesShellRC: the sessions of the test sshd run without the user's
// ~/.bashrc (an empty file is mounted over it in sshd's own mount namespace), while
// the real file stays as it was, for this process too, during and after.
func TestSSHDHidesShellRC(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(u.HomeDir, ".bashrc")
	before, errBefore := os.ReadFile(rc)
	s := sftptest.NewSSHD(t, sftptest.SSHDOptions{})
	if errBefore == nil && len(before) > 0 && s.HiddenShellRC() != rc {
		// Allowed only where this process cannot make a mount namespace.
		if out, err := exec.Command("unshare", "-m", "true").CombinedOutput(); err == nil {
			t.Errorf("%s not hidden from sshd's sessions (HiddenShellRC %q), though unshare -m works here", rc, s.HiddenShellRC())
		} else {
			t.Logf("%s not hidden here (unshare -m: %v %s): sessions run it", rc, err, out)
		}
	}
	c := dialSSHD(t, s)
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Output(`if [ -e ~/.bashrc ]; then wc -c < ~/.bashrc; else echo none; fi`)
	if err != nil {
		t.Fatalf("session: %v: %s", err, out)
	}
	want := "none"
	switch {
	case s.HiddenShellRC() != "":
		want = "0"
	case errBefore == nil:
		want = strconv.Itoa(len(before))
	}
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("the session's ~/.bashrc has %q bytes, want %s (hidden: %q)", got, want, s.HiddenShellRC())
	}
	during, errDuring := os.ReadFile(rc)
	c.Close() // before sshd's Close, which waits for the connection's processes
	s.Close()
	after, errAfter := os.ReadFile(rc)
	for when, got := range map[string][]byte{"while sshd runs": during, "after": after} {
		if !bytes.Equal(got, before) {
			t.Errorf("%s %s %s: %d bytes, was %d", rc, "changed", when, len(got), len(before))
		}
	}
	if (errBefore == nil) != (errDuring == nil) || (errBefore == nil) != (errAfter == nil) {
		t.Errorf("reading %s: before %v, during %v, after %v", rc, errBefore, errDuring, errAfter)
	}
}

// TestSSHDCloseWithClientConnected: Close returns while a client is still
// connected (the connection's sshd process holds the log pipe open; Close must not
// wait for it without bound).
func TestSSHDCloseWithClientConnected(t *testing.T) {
	s := sftptest.NewSSHD(t, sftptest.SSHDOptions{})
	c := dialSSHD(t, s)
	defer c.Close()
	if _, err := c.NewSession(); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close still waiting 30 s after it was called, with a client connected")
	}
}

// dialSSHD opens an SSH connection to s with its client key, checking its host key
// against its known_hosts file.
func dialSSHD(t *testing.T, s *sftptest.SSHD) *ssh.Client {
	t.Helper()
	pem, err := os.ReadFile(s.ClientKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := knownhosts.New(s.KnownHostsFile())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", s.Addr(), &ssh.ClientConfig{User: s.User(), Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hk})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
