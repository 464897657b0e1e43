package harness_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studio-migrator/studio-migrator/bench/harness"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// buildMover builds cmd/migrator into dir.
func buildMover(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "migrator")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/studio-migrator/studio-migrator/cmd/migrator").CombinedOutput()
	if err != nil {
		t.Fatalf("building migrator: %v\n%s", err, out)
	}
	return bin
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
	cfg.Runs = 1
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
		got[r.Tool] = r
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
	if len(rep.Scenarios) != 1 || rep.Scenarios[0].Tree.Files != cfg.TmpfsFiles+cfg.LargeFiles {
		t.Errorf("scenarios = %+v", rep.Scenarios)
	}
	table := out.String()
	for _, s := range append([]string{"== tmpfs", "x vs cp -rp && chown -R", "Targets:"}, want...) {
		if !strings.Contains(table, s) {
			t.Errorf("table lacks %q", s)
		}
	}
	if n := strings.Count(table, "yes ("); n != len(want) {
		t.Errorf("%d verified rows in the table, want %d", n, len(want))
	}
	if ents, _ := os.ReadDir(cfg.OutDir); len(ents) != 1 {
		t.Errorf("JSON report: %d files in %s, want 1", len(ents), cfg.OutDir)
	}
	if ents, _ := os.ReadDir(cfg.WorkDir); len(ents) != 0 {
		t.Errorf("work directory not cleaned up: %d entries", len(ents))
	}
}
