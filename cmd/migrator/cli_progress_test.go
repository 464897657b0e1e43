package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBytesBar: totals, percent, bytes done of the total, rate and ETA, in IEC units;
// the total may come after the first updates.
func TestBytesBar(t *testing.T) {
	var buf bytes.Buffer
	b := newBytesBar(&buf, "copying")
	b.Set(1<<20, "10 files")
	time.Sleep(150 * time.Millisecond) // past the bar's 100 ms throttle
	b.SetTotal(4 << 20)
	time.Sleep(150 * time.Millisecond)
	b.Set(2<<20, "20/40 files")
	out := buf.String()
	for _, want := range []string{"copying 20/40 files", "50%", "2.0/4.0 MiB", "MiB/s", ":"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar lacks %q:\n%q", want, out)
		}
	}
	if regexp.MustCompile(`\d (kB|MB|GB)`).MatchString(out) {
		t.Errorf("SI units in the bar:\n%q", out)
	}
	// Done bytes equal to the total stay below 100% until Finish: the bar does not
	// vanish while the last (big) file is still being written.
	time.Sleep(150 * time.Millisecond)
	b.Set(4<<20, "40/40 files")
	if strings.Contains(buf.String(), "100%") {
		t.Errorf("100%% before Finish:\n%q", buf.String())
	}
	b.Finish()
	b.Set(5<<20, "after") // ignored
	if strings.Contains(buf.String(), "after") {
		t.Error("updated after Finish")
	}
}

// TestCopyHomeProgressAndReport: the bar (forced, stderr is not a terminal here)
// has the counted totals in IEC units; the summary gives MiB and seconds; the JSON
// report (-o json) has elapsedSeconds, not nanoseconds.
func TestCopyHomeProgressAndReport(t *testing.T) {
	base := t.TempDir()
	src, to := filepath.Join(base, "old", "200001"), filepath.Join(base, "new", "200007")
	homeTree(t, src, 10)
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
	homeTree(t, src, 30)
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
