//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/cli/copyhome"
	"github.com/studio-migrator/studio-migrator/internal/efs/sftptest"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// TestMain lets a test run this binary as `migrator` (see startMigrator).
func TestMain(m *testing.M) {
	if os.Getenv("MIGRATOR_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// copyHome runs `migrator copy-home args...` and returns its stdout; what it printed
// is logged, so a failing test shows the whole run.
func copyHome(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, errOut, err := runMigrator(t, append([]string{"copy-home"}, args...)...)
	t.Logf("migrator copy-home %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out, errOut)
	return out, err
}

func ownerOf(t *testing.T, p string) uint32 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Uid
}

// assertTempFree fails when dir holds a temporary file of the copier.
func assertTempFree(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(de.Name(), ".studio-migrator.") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

func TestCopyHomeLocal(t *testing.T) {
	base := t.TempDir()
	src, to := filepath.Join(base, "old", "200001"), filepath.Join(base, "new", "200007")
	testutil.HomeTree(t, src, 50)
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(base, "report.json")
	out, err := copyHome(t, "--from", src, "--to", to, "--uid", "200007", "--verify", "--checksum",
		"--report", report, "--workers", "4", "--progress", "log")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{": 50 files, 10 dirs, 1 symlink, 340 B in ", "1 special skipped, 0 errors", "0 differences"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if got := ownerOf(t, to); got != 200007 {
		t.Errorf("destination root owned by %d", got)
	}
	if got := ownerOf(t, filepath.Join(to, "d03", "f0003")); got != 200007 {
		t.Errorf("file owned by %d", got)
	}
	if target, _ := os.Readlink(filepath.Join(to, "passwd-link")); target != "/etc/passwd" {
		t.Errorf("link target %q", target)
	}
	var res copyhome.Result
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Copy == nil || res.Copy.Files != 50 || res.Verify == nil || res.Verify.Checksummed != 50 || res.Error != "" {
		t.Errorf("report: %s", b)
	}

	// A rerun writes nothing.
	out, err = copyHome(t, "--from", src, "--to", to, "--uid", "200007", "--progress", "none")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "wrote 0 files and symlinks (0.00 MiB), 0 hardlinks made") || !strings.Contains(out, "61 already in place") {
		t.Errorf("rerun summary: %s", out)
	}
}

func TestCopyHomeRefusesBadInput(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "old", "200001")
	testutil.HomeTree(t, src, 3)
	other := filepath.Join(base, "new", "200009")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "theirs"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(other, 200009, 200009); err != nil {
		t.Fatal(err)
	}
	snapshot := func() string {
		var b strings.Builder
		filepath.WalkDir(filepath.Join(base, "new"), func(p string, de fs.DirEntry, err error) error {
			fi, _ := os.Lstat(p)
			fmt.Fprintln(&b, p, fi.Mode(), fi.ModTime().UnixNano(), fi.Sys().(*syscall.Stat_t).Uid)
			return nil
		})
		return b.String()
	}
	before := snapshot()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"uid 0", []string{"--from", src, "--to", filepath.Join(base, "new", "x"), "--uid", "0"}, "root"},
		{"uid not a number", []string{"--from", src, "--to", filepath.Join(base, "new", "x"), "--uid", "abc"}, "not a number"},
		{"uid missing", []string{"--from", src, "--to", filepath.Join(base, "new", "x")}, "--uid is required"},
		{"negative gid", []string{"--from", src, "--to", filepath.Join(base, "new", "x"), "--uid", "7", "--gid", "-1"}, "not a number"},
		{"missing source", []string{"--from", filepath.Join(base, "nope"), "--to", filepath.Join(base, "new", "x"), "--uid", "200007"}, "no such file"},
		{"missing parent", []string{"--from", src, "--to", filepath.Join(base, "nope", "x"), "--uid", "200007"}, "parent of the destination"},
		{"destination inside source", []string{"--from", src, "--to", filepath.Join(src, "d00", "x"), "--uid", "200007"}, "overlap"},
		{"bad workers", []string{"--from", src, "--to", filepath.Join(base, "new", "x"), "--uid", "200007", "--workers", "0"}, "--workers"},
		{"password in url", []string{"--from", src, "--to", "sftp://u:pw@127.0.0.1:1/x/200007", "--uid", "200007"}, "passwords"},
		{"someone else's home", []string{"--from", src, "--to", other, "--uid", "200007"}, "--merge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := copyHome(t, append([]string{"--progress", "none"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one mentioning %q", err, tc.want)
			}
			if n := strings.Count(err.Error(), "merge"); n > 1 {
				t.Errorf("merge hint given %d times: %v", n, err)
			}
			if after := snapshot(); after != before {
				t.Errorf("destination changed:\n%s\nwas:\n%s", after, before)
			}
		})
	}
	// With --merge it goes ahead and leaves their file alone.
	if _, err := copyHome(t, "--from", src, "--to", other, "--uid", "200007", "--merge", "--progress", "none"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(other, "theirs")); err != nil {
		t.Errorf("merge lost an existing file: %v", err)
	}
}

func TestCopyHomeUnknownHostKey(t *testing.T) {
	testutil.RequireBinary(t, sftptest.InstallHint, sftptest.SFTPServerPaths...)
	srv := sftptest.New(t)
	base := t.TempDir()
	src := filepath.Join(base, "old", "200001")
	testutil.HomeTree(t, src, 3)
	empty := filepath.Join(base, "known_hosts")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	to := "sftp://tester@" + srv.Addr() + srv.Dir() + "/200007"
	_, err := copyHome(t, "--from", src, "--to", to, "--uid", "200007",
		"--known-hosts", empty, "--identity", srv.ClientKeyFile(), "--progress", "none", "--sftp-server", "stock")
	if err == nil || !strings.Contains(err.Error(), "host key") {
		t.Fatalf("unknown host key: err %v", err)
	}
	if entries, _ := os.ReadDir(srv.Dir()); len(entries) != 0 {
		t.Errorf("written on an unverified host: %v", entries)
	}

	// With the right known_hosts it copies.
	out, err := copyHome(t, "--from", src, "--to", to, "--uid", "200007", "--verify",
		"--known-hosts", srv.KnownHostsFile(), "--identity", srv.ClientKeyFile(), "--progress", "none", "--sftp-server", "stock")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "0 differences") || ownerOf(t, filepath.Join(srv.Dir(), "200007", "d01", "f0001")) != 200007 {
		t.Errorf("copy over sftp: %s", out)
	}
}

// TestCopyHomeSurvivesSIGKILL kills a running `migrator copy-home` and checks that a
// rerun finishes the copy, leaves no temporary file and verifies clean.
func TestCopyHomeSurvivesSIGKILL(t *testing.T) {
	base := t.TempDir()
	src, to := filepath.Join(base, "old", "200001"), filepath.Join(base, "new", "200007")
	const n = 4000
	testutil.HomeTree(t, src, n)
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "copy-home", "--from", src, "--to", to, "--uid", "200007", "--workers", "2", "--progress", "none")
	cmd.Env = append(os.Environ(), "MIGRATOR_TEST_RUN_MAIN=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Kill once some files are in place.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if entries, _ := os.ReadDir(filepath.Join(to, "d00")); len(entries) > 20 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	err := <-done
	copied := 0
	filepath.WalkDir(to, func(p string, de fs.DirEntry, err error) error {
		if err == nil && de.Type().IsRegular() && !strings.HasPrefix(de.Name(), ".studio-migrator.") {
			copied++
		}
		return nil
	})
	t.Logf("killed (%v) with %d of %d files in place", err, copied, n)
	if copied >= n {
		t.Log("the copy finished before the kill; the rerun below checks the no-op path only")
	}
	out, err := copyHome(t, "--from", src, "--to", to, "--uid", "200007", "--verify", "--checksum", "--progress", "none")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "0 differences") || !strings.Contains(out, "0 errors") {
		t.Errorf("rerun: %s", out)
	}
	assertTempFree(t, to)
}

// TestCopyHomeRefusesOverlapThroughSymlink: a destination inside the source reached
// through a symlinked path (or the other way round) is an overlap too: the copy
// would copy into itself.
func TestCopyHomeRefusesOverlapThroughSymlink(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "old", "200001")
	testutil.HomeTree(t, src, 3)
	if err := os.Symlink(filepath.Join(base, "old"), filepath.Join(base, "alias")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range [][2]string{
		{src, filepath.Join(base, "alias", "200001", "d00", "x")},
		{filepath.Join(base, "alias", "200001"), filepath.Join(src, "d01", "x")},
	} {
		_, err := copyHome(t, "--from", tc[0], "--to", tc[1], "--uid", "200007", "--progress", "none")
		if err == nil || !strings.Contains(err.Error(), "overlap") {
			t.Errorf("--from %s --to %s: err %v, want an overlap", tc[0], tc[1], err)
		}
	}
	for _, d := range []string{"d00", "d01"} {
		if _, err := os.Lstat(filepath.Join(src, d, "x")); err == nil {
			t.Errorf("destination made inside the source: %s/x", d)
		}
	}
}

// startMigrator starts this test binary as `migrator args...` (see TestMain).
func startMigrator(t *testing.T, bin string, cred *syscall.Credential, args ...string) (*exec.Cmd, *strings.Builder, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "MIGRATOR_TEST_RUN_MAIN=1")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stdout, &stderr
}

func exitStatus(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestCopyHomeNeedsRoot: as an ordinary user, copy-home says up front that it
// needs root, before it creates anything (it used to leave an empty mode-0700
// home behind and fail on every entry with "operation not permitted").
func TestCopyHomeNeedsRoot(t *testing.T) {
	testutil.RequireRoot(t) // to build the tree and switch to another user
	base, err := os.MkdirTemp("", "copyhome-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	// The test binary, where an ordinary user can run it.
	bin := filepath.Join(base, "migrator")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(base, "old", "200001")
	testutil.HomeTree(t, src, 3)
	if err := os.Chmod(filepath.Join(base, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	newRoot := filepath.Join(base, "new")
	if err := os.Mkdir(newRoot, 0o777); err != nil { // writable by anyone: only the check can stop it
		t.Fatal(err)
	}
	if err := os.Chmod(newRoot, 0o777); err != nil {
		t.Fatal(err)
	}
	cmd, stdout, stderr := startMigrator(t, bin, &syscall.Credential{Uid: 65534, Gid: 65534},
		"copy-home", "--from", src, "--to", filepath.Join(newRoot, "200007"), "--uid", "200007", "--progress", "none")
	code := exitStatus(cmd.Wait())
	t.Logf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	if code != cli.ExitFatal || !strings.Contains(stderr.String(), "needs root (or CAP_CHOWN") {
		t.Errorf("as uid 65534: exit %d, want %d and a message that it needs root", code, cli.ExitFatal)
	}
	if entries, _ := os.ReadDir(newRoot); len(entries) != 0 {
		t.Errorf("left behind in the destination: %v", entries)
	}
}

// TestCopyHomeInterrupted: Ctrl-C stops the copy with exit 130 and says how to
// resume; the rerun finishes it.
func TestCopyHomeInterrupted(t *testing.T) {
	// The copy must still run when the signal comes. Where it finished first (a fast
	// machine), the tree grows fourfold and the test runs again: a skip would leave
	// the interrupt unchecked.
	for n := 1500; ; n *= 4 {
		if copyHomeInterrupted(t, n) {
			return
		}
		if n >= 24000 {
			t.Fatalf("copies of up to %d-file trees finished before the interrupt", n)
		}
		t.Logf("the copy of a %d-file tree finished before the interrupt; again with %d", n, 4*n)
	}
}

// copyHomeInterrupted interrupts a copy of testutil.HomeTree(n) and checks what it says
// and that a rerun finishes it; false when the copy had finished before the signal.
func copyHomeInterrupted(t *testing.T, n int) bool {
	t.Helper()
	base := t.TempDir()
	src, to := filepath.Join(base, "old", "200001"), filepath.Join(base, "new", "200007")
	testutil.HomeTree(t, src, n)
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd, _, stderr := startMigrator(t, os.Args[0], nil, "copy-home", "--from", src, "--to", to, "--uid", "200007", "--workers", "1", "--progress", "none")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if entries, _ := os.ReadDir(filepath.Join(to, "d00")); len(entries) > 5 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	code := exitStatus(<-done)
	if code == 0 {
		return false
	}
	if code != cli.ExitInterrupted || !strings.Contains(stderr.String(), "interrupted; run the same command again to resume") {
		t.Errorf("exit %d, want %d and how to resume:\n%s", code, cli.ExitInterrupted, stderr)
	}
	out, err := copyHome(t, "--from", src, "--to", to, "--uid", "200007", "--verify", "--progress", "none")
	if err != nil || !strings.Contains(out, "0 differences") {
		t.Errorf("rerun: %v\n%s", err, out)
	}
	return true
}
