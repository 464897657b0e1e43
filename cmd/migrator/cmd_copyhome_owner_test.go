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

	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// TestCopyHomeRefusesLeaveUnchangedOwner runs the binary (this test binary, see
// TestMain) with --uid or --gid 4294967295, which chown reads as "leave unchanged":
// every entry would stay root's while the run exits 0. Both are refused with the
// reason, and nothing is created.
func TestCopyHomeRefusesLeaveUnchangedOwner(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	src := filepath.Join(base, "src")
	if err := os.MkdirAll(filepath.Join(src, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "d", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, flag, value, reason string }{
		{"uid", "--uid", "4294967295", "UID 4294967295"},
		{"gid", "--gid", "4294967295", "GID 4294967295"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(base, "new-"+tc.name)
			args := []string{"copy-home", "--from", src, "--to", dst, "--progress", "none"}
			if tc.flag == "--gid" {
				args = append(args, "--uid", "200007")
			}
			args = append(args, tc.flag, tc.value)
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(os.Environ(), "MIGRATOR_TEST_RUN_MAIN=1")
			out, err := cmd.CombinedOutput()
			t.Logf("migrator %s\n%s", strings.Join(args, " "), out)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() == 0 {
				t.Fatalf("accepted (err %v)", err)
			}
			if !strings.Contains(string(out), tc.reason) || !strings.Contains(string(out), "leave unchanged") {
				t.Errorf("the error does not give the reason: %s", out)
			}
			if _, err := os.Lstat(dst); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("destination %s was created (%v)", dst, err)
			}
		})
	}
}

// TestCopyHomeFullVolumeCountsTheError: the summary after a copy stopped by a full
// destination said errors=0; the error that stopped it is counted and listed.
func TestCopyHomeFullVolumeCountsTheError(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	src, vol := filepath.Join(base, "src"), filepath.Join(base, "vol")
	for _, d := range []string{src, vol} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data := make([]byte, 64<<10)
	for i := range data {
		data[i] = byte(i%251 + 1)
	}
	for i := range 8 {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%d", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mount("tmpfs", vol, "tmpfs", 0, "size=256k"); err != nil {
		t.Fatalf("mounting a small tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(vol, syscall.MNT_DETACH) })
	args := []string{"copy-home", "--from", src, "--to", filepath.Join(vol, "200007"), "--uid", "200007", "--progress", "none", "--workers", "2"}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "MIGRATOR_TEST_RUN_MAIN=1")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("migrator %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), stdout.String(), stderr.String())
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("copy onto a full volume: %v", err)
	}
	if strings.Contains(stdout.String(), " errors=0 ") || !strings.Contains(stdout.String(), "no space left") {
		t.Errorf("summary does not count the fatal error:\n%s", stdout.String())
	}
}
