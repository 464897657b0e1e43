//go:build linux

package copyhome

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// TestCopyHomeProgressAndReport: the bar (forced, stderr is not a terminal here)
// has the counted totals in IEC units; the summary gives MiB and seconds; the JSON
// report (-o json) has elapsedSeconds, not nanoseconds.
func TestCopyHomeProgressAndReport(t *testing.T) {
	base := t.TempDir()
	src, to := filepath.Join(base, "old", "200001"), filepath.Join(base, "new", "200007")
	testutil.HomeTree(t, src, 10)
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB
	if err := os.WriteFile(filepath.Join(src, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(src, "big"), filepath.Join(src, "big-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code, err := runMigratorIn(t, t.Context(), "", "copy-home", "--from", src, "--to", to, "--uid", "200007", "--progress", "bar", "-o", "json")
	if err != nil || code != 0 {
		t.Fatalf("exit %d, %v\n%s", code, err, stderr)
	}
	// 12 files of 6 MiB (the hardlinked one counted once per name, as the copy does).
	if !strings.Contains(stderr, "copying 0/12 files") || !strings.Contains(stderr, "/6.0 MiB") {
		t.Errorf("bar without totals:\n%q", stderr)
	}
	if regexp.MustCompile(`\d (kB|MB)\b`).MatchString(stderr) {
		t.Errorf("SI units on stderr:\n%q", stderr)
	}
	if !regexp.MustCompile(`: 12 files, 10 dirs, 1 symlink, 6\.00 MiB in \d+\.\d\d s; wrote 12 files and symlinks \(3\.00 MiB\), 1 hardlink made, `).MatchString(stderr) {
		t.Errorf("summary (on stderr with -o json):\n%s", stderr)
	}
	var raw map[string]map[string]any
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	c := raw["copy"]
	if _, ok := c["elapsed"]; ok {
		t.Errorf("report has nanosecond elapsed: %v", c["elapsed"])
	}
	if s, ok := c["elapsedSeconds"].(float64); !ok || s <= 0 || s > 60 {
		t.Errorf("elapsedSeconds = %v", c["elapsedSeconds"])
	}
	if c["files"] != float64(12) || c["hardlinks"] != float64(1) {
		t.Errorf("report: %v", c)
	}

	// A rerun says what it made (no hardlink) and what it found in place.
	stdout, _, _, err = runMigratorIn(t, t.Context(), "", "copy-home", "--from", src, "--to", to, "--uid", "200007", "--progress", "none")
	if err != nil || !strings.Contains(stdout, "wrote 0 files and symlinks (0.00 MiB), 0 hardlinks made, 23 already in place") {
		t.Errorf("rerun summary (%v):\n%s", err, stdout)
	}
}

// TestCopyHomeLogProgressCountDelay: with progress in log lines, a copy that ends
// before countDelay never walks the source a second time for totals; with a bar,
// which shows them from the start, the source is counted (and right).
func TestCopyHomeLogProgressCountDelay(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "old", "200001")
	testutil.HomeTree(t, src, 30)
	if err := os.MkdirAll(filepath.Join(base, "new"), 0o755); err != nil {
		t.Fatal(err)
	}
	saved := countDelay
	countDelay = time.Hour
	defer func() { countDelay = saved }()
	run := func(progress, to string) string {
		t.Helper()
		_, stderr, code, err := runMigratorIn(t, t.Context(), "", "copy-home", "--from", src, "--to", filepath.Join(base, "new", to),
			"--uid", "200007", "--progress", progress, "--log-level", "debug")
		if err != nil || code != 0 {
			t.Fatalf("exit %d, %v\n%s", code, err, stderr)
		}
		if !strings.Contains(stderr, "files=30 ") {
			t.Fatalf("copy did not report 30 files:\n%s", stderr)
		}
		return stderr
	}
	if stderr := run("log", "200007"); strings.Contains(stderr, "source counted") {
		t.Errorf("a copy shorter than countDelay counted the source:\n%s", stderr)
	}
	if stderr := run("bar", "200008"); !strings.Contains(stderr, `msg="source counted for progress" files=30 `) {
		t.Errorf("with a bar the source was not counted (or wrongly):\n%s", stderr)
	}
}

// runMigratorIn runs `migrator ARGS...` with copy-home as migrator's only
// subcommand, the way main does, and returns stdout, stderr, the exit code and the
// error.
func runMigratorIn(t *testing.T, ctx context.Context, stdin string, args ...string) (string, string, int, error) {
	t.Helper()
	g := &cli.Globals{}
	root := &cobra.Command{Use: "migrator"}
	cli.ConfigureRoot(root, g)
	root.AddCommand(NewCommand(g, "migrator copy-home"))
	var out, errOut bytes.Buffer
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	_, code, err := cli.Execute(ctx, root)
	return out.String(), errOut.String(), code, err
}
