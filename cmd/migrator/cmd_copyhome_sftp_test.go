//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studio-migrator/studio-migrator/internal/efs/sftptest"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// TestCopyHomeSFTPDefaultsOverSSHD copies over a real OpenSSH sshd with its default
// MaxSessions (10) and every SFTP option at its default: the remote end is this
// program (only its path is given, as an administrator who installed it elsewhere
// than PATH would), then the stock sftp-server as an explicit opt-in, which must
// say what it cannot guarantee. Before issue 8 the defaults opened 32 channels on
// one connection and sshd answered "open failed".
func TestCopyHomeSFTPDefaultsOverSSHD(t *testing.T) {
	sshd := sftptest.NewSSHD(t, sftptest.SSHDOptions{})
	base := t.TempDir()
	src := filepath.Join(base, "old", "200001")
	testutil.HomeTree(t, src, 300)
	if err := os.MkdirAll(filepath.Join(base, "new"), 0o755); err != nil {
		t.Fatal(err)
	}
	common := []string{"--uid", "200007", "--verify", "--checksum", "--progress", "none",
		"--known-hosts", sshd.KnownHostsFile(), "--identity", sshd.ClientKeyFile()}

	to := "sftp://root@" + sshd.Addr() + filepath.Join(base, "new", "200007")
	report := filepath.Join(base, "report.json")
	out, err := copyHome(t, append([]string{"--from", src, "--to", to, "--report", report,
		"--sftp-remote-command", sftptest.MigratorBinary(t) + " sftp-server"}, common...)...)
	if err != nil {
		t.Fatalf("copy with default SFTP options: %v", err)
	}
	if !strings.Contains(out, " 0 differences") || ownerOf(t, filepath.Join(base, "new", "200007", "d01", "f0001")) != 200007 {
		t.Errorf("copy over sshd: %s", out)
	}
	if strings.Contains(out, "limitation") {
		t.Errorf("the recommended mode reported a limitation: %s", out)
	}

	// scp-style, as the source this time, with the stock sftp-server.
	to2 := filepath.Join(base, "back", "200008")
	if err := os.MkdirAll(filepath.Dir(to2), 0o755); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := runMigrator(t, append([]string{"copy-home", "--from", "root@127.0.0.1:" + filepath.Join(base, "new", "200007"),
		"--to", to2, "--report", report, "--sftp-server", "stock", "--ssh-config", writeSSHConfig(t, sshd)}, common...)...)
	if err != nil {
		t.Fatalf("copy from the stock sftp-server: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, "WARNING: stock sftp-server mode") {
		t.Errorf("no warning about the stock sftp-server's limitation: %s", errOut)
	}
	var rep struct {
		Copy struct{ Limitations []string } `json:"copy"`
	}
	b, _ := os.ReadFile(report)
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Copy.Limitations) == 0 ||
		!strings.Contains(strings.Join(rep.Copy.Limitations, " "), "stock sftp-server") {
		t.Errorf("report limitations %q (%v): want the stock sftp-server's", rep.Copy.Limitations, err)
	}
	if ownerOf(t, filepath.Join(to2, "d01", "f0001")) != 200007 {
		t.Error("copy back from the stock sftp-server did not re-own")
	}
}

// writeSSHConfig maps 127.0.0.1 to the test sshd's port, as ~/.ssh/config would.
func writeSSHConfig(t *testing.T, sshd *sftptest.SSHD) string {
	t.Helper()
	_, port, _ := strings.Cut(sshd.Addr(), ":")
	p := filepath.Join(t.TempDir(), "config")
	cfg := "Host 127.0.0.1\n  Port " + port + "\n  User root\n"
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCopyHomeSFTPRemoteMissing: a host without the remote end fails with what to
// do (install it, or opt into the stock sftp-server), and writes nothing.
func TestCopyHomeSFTPRemoteMissing(t *testing.T) {
	sshd := sftptest.NewSSHD(t, sftptest.SSHDOptions{})
	base := t.TempDir()
	src := filepath.Join(base, "old", "200001")
	testutil.HomeTree(t, src, 3)
	dstParent := filepath.Join(base, "new")
	if err := os.MkdirAll(dstParent, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := copyHome(t, "--from", src, "--to", "sftp://root@"+sshd.Addr()+dstParent+"/200007", "--uid", "200007",
		"--progress", "none", "--known-hosts", sshd.KnownHostsFile(), "--identity", sshd.ClientKeyFile(),
		"--sftp-remote-command", "/nonexistent/migrator sftp-server")
	if err == nil {
		t.Fatal("copy succeeded without a remote end")
	}
	for _, want := range []string{"could not run", "scp ./migrator", "--sftp-server=stock"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if ents, _ := os.ReadDir(dstParent); len(ents) != 0 {
		t.Errorf("written without a remote end: %v", ents)
	}
}
