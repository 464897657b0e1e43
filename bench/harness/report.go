package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// Target is one of the project's performance claims, evaluated on a report.
type Target struct {
	Name   string `json:"name"`
	Status string `json:"status"` // "met", "not met", "n/a"
	Detail string `json:"detail"`
}

func findResult(rep *Report, scenario, tool string) *Result {
	for i := range rep.Results {
		if rep.Results[i].Scenario == scenario && rep.Results[i].Tool == tool {
			return &rep.Results[i]
		}
	}
	return nil
}

// evaluateTargets checks the claims the mover is built to meet. A claim is "n/a"
// when a result it needs is missing or failed verification: a wrong copy never
// counts as fast.
func evaluateTargets(rep *Report) []Target {
	var ts []Target
	speedup := func(name, scenario, base string, min float64) {
		t := Target{Name: name}
		m, b := findResult(rep, scenario, ToolMover), findResult(rep, scenario, base)
		switch {
		case m == nil || b == nil:
			t.Status, t.Detail = "n/a", "not run"
		case !m.Verified:
			t.Status, t.Detail = "n/a", "mover has no verified result: "+m.Failure
		case !b.Verified:
			t.Status, t.Detail = "n/a", base+" has no verified result: "+b.Failure
		default:
			s := b.Seconds / m.Seconds
			t.Status = "not met"
			if s >= min {
				t.Status = "met"
			}
			t.Detail = fmt.Sprintf("%.2fx (%.2fs vs %.2fs)", s, m.Seconds, b.Seconds)
		}
		ts = append(ts, t)
	}
	speedup("tmpfs: mover >= 1.1x faster than cp -rp && chown -R", ScenarioTmpfs, ToolCpChown, 1.1)
	// "within 1.1x of cp -a": the mover may be at most 10% slower.
	speedup("tmpfs: mover within 1.1x of cp -a", ScenarioTmpfs, ToolCpA, 1/1.1)
	speedup("tmpfs: mover >= 3x faster than rsync -a", ScenarioTmpfs, ToolRsync, 3)
	speedup("efs: mover >= 10x faster than cp -rp && chown -R", ScenarioEFS, ToolCpChown, 10)
	speedup("efs (stretch): mover >= 20x faster than cp -rp && chown -R", ScenarioEFS, ToolCpChown, 20)
	speedup("bigfile: mover >= 90% of cp throughput", ScenarioBigFile, ToolCpChown, 0.9)
	t := Target{Name: "bigfile: mover peak RSS < 256 MiB"}
	if m := findResult(rep, ScenarioBigFile, ToolMover); m == nil || !m.Verified {
		t.Status, t.Detail = "n/a", "no verified mover result"
	} else {
		t.Status = "not met"
		if m.MaxRSSKiB < 256<<10 {
			t.Status = "met"
		}
		t.Detail = fmt.Sprintf("%.1f MiB", float64(m.MaxRSSKiB)/1024)
	}
	return append(ts, t)
}

func printReport(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "\nhomebench %s  host %s, %d CPUs, load %s -> %s, %d runs per tool (median)\n",
		rep.Started.Format("2006-01-02 15:04Z"), rep.Host, rep.CPUs, rep.LoadAvg, rep.LoadAvgE, rep.Config.Runs)
	for _, sc := range rep.Scenarios {
		fmt.Fprintf(w, "\n== %s (%d runs): %v\n", sc.Name, sc.Runs, sc.Tree)
		for _, n := range sc.Notes {
			fmt.Fprintf(w, "   %s\n", n)
		}
		if sc.Skipped != "" {
			fmt.Fprintf(w, "   skipped: %s\n", sc.Skipped)
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		hdr := []string{"tool", "median s", "MiB/s"}
		for _, b := range sc.Baselines {
			hdr = append(hdr, "x vs "+b)
		}
		fuse := false
		for _, r := range rep.Results {
			fuse = fuse || r.Scenario == sc.Name && len(r.Runs) > 0 && r.Runs[0].FUSEOps != nil
		}
		if fuse {
			hdr = append(hdr, "EFS ops read/write")
		}
		hdr = append(hdr, "peak RSS MiB", "verified")
		fmt.Fprintln(tw, strings.Join(hdr, "\t"))
		for _, r := range rep.Results {
			if r.Scenario != sc.Name {
				continue
			}
			if !r.Verified {
				row := []string{r.Tool, "-", "-"}
				for range sc.Baselines {
					row = append(row, "-")
				}
				if fuse {
					row = append(row, "-")
				}
				why := r.Failure
				if len(why) > 160 {
					why = why[:160] + "..."
				}
				fmt.Fprintln(tw, strings.Join(append(row, "-", "NO: "+why), "\t"))
				continue
			}
			row := []string{r.Tool, fmt.Sprintf("%.2f", r.Seconds), fmt.Sprintf("%.0f", r.MiBps)}
			for _, b := range sc.Baselines {
				switch s, ok := r.Speedup[b]; {
				case b == r.Tool:
					row = append(row, "1.00")
				case ok:
					row = append(row, fmt.Sprintf("%.2f", s))
				default:
					row = append(row, "-")
				}
			}
			if fuse {
				// Operations of the first run: the delays a serial tool pays one by one.
				if o := r.Runs[0].FUSEOps; o != nil {
					row = append(row, fmt.Sprintf("%d/%d", o.Read, o.Write))
				} else {
					row = append(row, "-")
				}
			}
			row = append(row, fmt.Sprintf("%.1f", float64(r.MaxRSSKiB)/1024), "yes ("+r.Contract+")")
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		tw.Flush()
	}
	fmt.Fprintln(w, "\nx vs B = B's median time / this tool's (above 1: faster than B). Targets:")
	for _, t := range rep.Targets {
		fmt.Fprintf(w, "  %-8s %s: %s\n", strings.ToUpper(t.Status), t.Name, t.Detail)
	}
}

func writeJSON(dir string, rep *Report) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return "", err
	}
	name := filepath.Join(dir, "homebench-"+rep.Started.Format("20060102T150405Z")+".json")
	return name, os.WriteFile(name, append(b, '\n'), 0o644)
}
