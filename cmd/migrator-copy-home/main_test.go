//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/studio-migrator/studio-migrator/internal/efs/sftptest"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// TestMain lets a test run this test binary as migrator-copy-home (see run).
func TestMain(m *testing.M) {
	if os.Getenv("MIGRATOR_COPY_HOME_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// run runs migrator-copy-home args... as its own process (main, exit code and all)
// and returns stdout, stderr and the exit code.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "MIGRATOR_COPY_HOME_TEST_RUN_MAIN=1")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// TestNoSDK: the copy-only binary exists to start without the AWS SDK's (and
// Redis's) package initialisation; an import that pulls them in again, directly or
// through internal/cli, internal/efs or internal/location, fails here.
func TestNoSDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 20 || !strings.Contains(string(out), "github.com/studio-migrator/studio-migrator/internal/efs") {
		t.Fatalf("go list -deps gave %d packages, without internal/efs:\n%s", len(deps), out)
	}
	for _, d := range deps {
		for _, banned := range []string{"github.com/aws/", "github.com/hibiken/asynq", "github.com/redis/", "github.com/alicebob/miniredis"} {
			if strings.HasPrefix(d, banned) {
				t.Errorf("migrator-copy-home depends on %s", d)
			}
		}
	}
}

// TestCopyHome runs the binary as a user would: it copies a home re-owned to the
// new UID (bytes, owners, a symlink kept as a link), says so on stdout, and a bad
// or missing flag is exit 2 with its name in the message.
func TestCopyHome(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	src, to := filepath.Join(base, "old", "200001"), filepath.Join(base, "new", "200007")
	for i := range 20 {
		p := filepath.Join(src, fmt.Sprintf("d%d", i%4), fmt.Sprintf("f%02d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(fmt.Sprint("data ", i)), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../../etc/passwd", filepath.Join(src, "d0", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, code := run(t, "--from", src, "--to", to, "--uid", "200007", "--verify", "--progress", "none")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "copy-home "+src+" -> "+to+": 20 files, 4 dirs, 1 symlink") || !strings.Contains(stdout, "0 differences") {
		t.Errorf("summary:\n%s", stdout)
	}
	for i := range 20 {
		p := filepath.Join(to, fmt.Sprintf("d%d", i%4), fmt.Sprintf("f%02d", i))
		b, err := os.ReadFile(p)
		if err != nil || string(b) != fmt.Sprint("data ", i) {
			t.Fatalf("%s: %q, %v", p, b, err)
		}
		fi, _ := os.Lstat(p)
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 200007 || fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: owner %d mode %v, want 200007 and 0640", p, st.Uid, fi.Mode().Perm())
		}
	}
	if target, err := os.Readlink(filepath.Join(to, "d0", "link")); err != nil || target != "../../etc/passwd" {
		t.Errorf("symlink: %q, %v", target, err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", src, "--to", to}, "--uid is required"},
		{[]string{"--from", src, "--to", to, "--uid", "200007", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"--from", src, "--to", to, "--uid", "0"}, "--uid 0"},
	} {
		_, stderr, code := run(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, "migrator-copy-home: "+tc.want) || !strings.Contains(stderr, "Run 'migrator-copy-home --help'") {
			t.Errorf("%v: exit %d, want 2 and %q:\n%s", tc.args, code, tc.want, stderr)
		}
	}
	if stdout, _, code := run(t, "--version"); code != 0 || !strings.HasPrefix(stdout, "migrator-copy-home ") || !strings.Contains(stdout, "go1.") {
		t.Errorf("--version: exit %d: %q", code, stdout)
	}
	if stdout, _, code := run(t, "--help"); code != 0 || !strings.Contains(stdout, "  migrator-copy-home --from /mnt/old-efs/200001") {
		t.Errorf("--help: exit %d, examples not in this binary's name:\n%s", code, stdout)
	}
}

// TestSFTPBothEnds: the copy-only binary is also the far end of an sftp://
// location (its hidden sftp-server), so one small binary serves both ends: a copy
// through a real OpenSSH sshd, with this binary started there over SSH, lands
// re-owned, byte for byte, and verifies.
func TestSFTPBothEnds(t *testing.T) {
	sshd := sftptest.NewSSHD(t, sftptest.SSHDOptions{})
	base := t.TempDir()
	src, to := filepath.Join(base, "old", "200001"), filepath.Join(base, "new", "200007")
	testutil.HomeTree(t, src, 40)
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	remote := "env MIGRATOR_COPY_HOME_TEST_RUN_MAIN=1 " + os.Args[0] + " sftp-server"
	stdout, stderr, code := run(t, "--from", src, "--to", "sftp://root@"+sshd.Addr()+to, "--uid", "200007",
		"--verify", "--checksum", "--progress", "none", "--known-hosts", sshd.KnownHostsFile(),
		"--identity", sshd.ClientKeyFile(), "--sftp-remote-command", remote)
	if code != 0 || !strings.Contains(stdout, "40 files") || !strings.Contains(stdout, " 0 differences") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	p := filepath.Join(to, "d03", "f0013")
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "data 13" {
		t.Fatalf("%s: %q, %v", p, b, err)
	}
	if fi, err := os.Lstat(p); err != nil || fi.Sys().(*syscall.Stat_t).Uid != 200007 {
		t.Errorf("%s not owned by 200007 (%v)", p, err)
	}
}
