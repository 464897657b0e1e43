//go:build linux

package harness_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/studio-migrator/studio-migrator/bench/harness"
	"github.com/studio-migrator/studio-migrator/bench/latencyfs"
	"github.com/studio-migrator/studio-migrator/bench/treegen"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

var (
	moverOnce sync.Once
	moverDir  string
	moverBin  string
	moverErr  error
)

// TestMain removes the mover the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if moverDir != "" {
		os.RemoveAll(moverDir)
	}
	os.Exit(code)
}

// buildMover builds cmd/migrator-copy-home, the mover bench/run.sh times, once for
// all the tests (a build takes most of their time on a loaded machine).
func buildMover(t *testing.T, _ string) string {
	t.Helper()
	moverOnce.Do(func() {
		if moverDir, moverErr = os.MkdirTemp("", "homebench-test-"); moverErr != nil {
			return
		}
		moverBin = filepath.Join(moverDir, "migrator-copy-home")
		out, err := exec.Command("go", "build", "-o", moverBin, "github.com/studio-migrator/studio-migrator/cmd/migrator-copy-home").CombinedOutput()
		if err != nil {
			moverErr = fmt.Errorf("building migrator-copy-home: %v\n%s", err, out)
		}
	})
	if moverErr != nil {
		t.Fatal(moverErr)
	}
	return moverBin
}

// TestSmoke runs the whole harness on a tiny home in one run per tool and checks
// that every tool's copy verified and the table was printed. It asserts correctness
// only; the figures of such a small run mean nothing.
func TestSmoke(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "apt-get install rsync", "rsync")
	tmp := t.TempDir()
	var out bytes.Buffer
	cfg := harness.DefaultConfig()
	cfg.WorkDir = filepath.Join(tmp, "work")
	cfg.OutDir = filepath.Join(tmp, "out")
	cfg.Scenarios = []string{harness.ScenarioTmpfs}
	cfg.TmpfsShapes = []string{treegen.ShapeHome, treegen.ShapeFlat}
	cfg.ShapeFiles = map[string]int{treegen.ShapeFlat: 120}
	cfg.Markdown = true
	cfg.Runs = 1
	cfg.StartupRuns = 3
	cfg.TmpfsFiles = 300
	cfg.LargeFiles = 1
	cfg.LargeSize = 1 << 20
	cfg.Mover = buildMover(t, tmp)
	cfg.Out = &out

	rep, err := harness.Run(context.Background(), cfg)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{harness.ToolCpA, harness.ToolCpChown, harness.ToolRsync, harness.ToolMover}
	got := map[string]harness.Result{}
	for _, r := range rep.Results {
		if r.Scenario == "tmpfs/home" {
			got[r.Tool] = r
		}
	}
	if m := got[harness.ToolMover]; m.RerunSeconds <= 0 || m.Runs[0].RerunSeconds <= 0 {
		t.Errorf("mover rerun not timed: %+v", m)
	}
	for _, tool := range want {
		r, ok := got[tool]
		switch {
		case !ok:
			t.Errorf("%s: no result", tool)
		case !r.Verified || r.Seconds <= 0 || len(r.Runs) != 1:
			t.Errorf("%s: not verified: %+v", tool, r)
		}
	}
	if st := rep.MoverStartup; st == nil || st.Runs != cfg.StartupRuns || st.CopyEmptySeconds <= 0 || st.VersionSeconds <= 0 ||
		st.VersionCommand != "migrator-copy-home --version" {
		t.Errorf("mover start-up = %+v", st)
	}
	if len(rep.Scenarios) != 2 || rep.Scenarios[0].Tree.Files != cfg.TmpfsFiles+cfg.LargeFiles ||
		rep.Scenarios[1].Name != "tmpfs/flat" || rep.Scenarios[1].Tree.Files != 120 || rep.Scenarios[1].Tree.Dirs != 2 {
		t.Errorf("scenarios = %+v", rep.Scenarios)
	}
	table := out.String()
	for _, s := range append([]string{"== tmpfs/home", "== tmpfs/flat", "x vs cp -rp && chown -R", "Targets:",
		"| tmpfs/flat | 120 files, 2 dirs,", "rerun / first copy", "tmpfs/flat: never slower than cp -a",
		"start-up share", "mover start-up / its time", "Mover start-up (median of 3", "`migrator-copy-home --version`"}, want...) {
		if !strings.Contains(table, s) {
			t.Errorf("table lacks %q", s)
		}
	}
	if n := strings.Count(table, "yes ("); n != 2*len(want) {
		t.Errorf("%d verified rows in the table, want %d", n, 2*len(want))
	}
	if ents, _ := os.ReadDir(cfg.OutDir); len(ents) != 1 {
		t.Errorf("JSON report: %d files in %s, want 1", len(ents), cfg.OutDir)
	}
	if ents, _ := os.ReadDir(cfg.WorkDir); len(ents) != 0 {
		t.Errorf("work directory not cleaned up: %d entries", len(ents))
	}
}

// TestSmokeEFSMounts runs the emulated-EFS scenario on a small flat directory with
// the mover also writing through two FUSE mounts of the destination (--to-mount):
// every tool's copy must verify, the two-mount mover's included. Correctness only.
func TestSmokeEFSMounts(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "apt-get install rsync", "rsync")
	if err := latencyfs.Available(); err != nil {
		if testutil.Strict() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	tmp := t.TempDir()
	var out bytes.Buffer
	cfg := harness.DefaultConfig()
	cfg.WorkDir = filepath.Join(tmp, "work")
	cfg.OutDir = ""
	cfg.Scenarios = []string{harness.ScenarioEFS}
	cfg.EFSShapes = []string{treegen.ShapeFlat}
	cfg.ShapeFiles = map[string]int{treegen.ShapeFlat: 40}
	cfg.EFSMounts = 2
	cfg.Runs = 1
	cfg.StartupRuns = 0 // TestSmoke times it
	cfg.Mover = buildMover(t, tmp)
	cfg.Out = &out
	rep, err := harness.Run(context.Background(), cfg)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rep.Results {
		n++
		if !r.Verified || r.Seconds <= 0 {
			t.Errorf("%s: not verified: %s", r.Tool, r.Failure)
		}
		if r.Tool == harness.ToolMoverMounts && r.RerunSeconds <= 0 {
			t.Errorf("%s: rerun not timed", r.Tool)
		}
	}
	if n != 5 {
		t.Errorf("%d results, want 5 (cp -a, cp -rp && chown -R, rsync, the mover on one and on two mounts)", n)
	}
	if !strings.Contains(out.String(), "four mounts, flat") {
		t.Errorf("the four-mount target is not evaluated")
	}
}
