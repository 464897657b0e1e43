//go:build linux

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

// evaluateTargets checks the claims the mover is built to meet (issue 12's
// targets). A claim is "n/a" when a result it needs is missing or failed
// verification: a wrong copy never counts as fast. Ratios are compared unrounded.
func evaluateTargets(rep *Report) []Target {
	var ts []Target
	speedup := func(name, scenario, tool, base string, min float64) {
		m, b := findResult(rep, scenario, tool), findResult(rep, scenario, base)
		if m == nil && b == nil {
			return // scenario not run: no line
		}
		t := Target{Name: name}
		switch {
		case m == nil || b == nil:
			t.Status, t.Detail = "n/a", "not run"
		case !m.Verified:
			t.Status, t.Detail = "n/a", tool+" has no verified result: "+m.Failure
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
	efs, tmpfs := ScenarioEFS+"/", ScenarioTmpfs+"/"
	speedup("emulated EFS, one mount, home-like: >= 35x cp -rp && chown -R", efs+"home", ToolMover, ToolCpChown, 35)
	speedup("emulated EFS, one mount, 100-file dirs: >= 25x cp -rp && chown -R", efs+"dirs100", ToolMover, ToolCpChown, 25)
	speedup("emulated EFS, one mount, flat: >= 4x cp -rp && chown -R", efs+"flat", ToolMover, ToolCpChown, 4)
	speedup("emulated EFS, four mounts, flat: >= 10x cp -rp && chown -R", efs+"flat", ToolMoverMounts, ToolCpChown, 10)
	speedup("tmpfs, 20,000 tiny files: >= 1.5x cp -rp && chown -R", tmpfs+"tiny", ToolMover, ToolCpChown, 1.5)
	speedup("tmpfs, 100k home-like: >= 2.5x cp -rp && chown -R", tmpfs+"home", ToolMover, ToolCpChown, 2.5)
	for _, sc := range rep.Scenarios {
		if strings.HasPrefix(sc.Name, tmpfs) {
			speedup(sc.Name+": never slower than cp -a", sc.Name, ToolMover, ToolCpA, 1)
		}
	}
	speedup("bigfile: mover >= 90% of cp throughput", ScenarioBigFile, ToolMover, ToolCpChown, 0.9)
	if m := findResult(rep, ScenarioBigFile, ToolMover); m != nil {
		t := Target{Name: "bigfile: mover peak RSS < 256 MiB"}
		if !m.Verified {
			t.Status, t.Detail = "n/a", "no verified mover result"
		} else {
			t.Status = "not met"
			if m.MaxRSSKiB < 256<<10 {
				t.Status = "met"
			}
			t.Detail = fmt.Sprintf("%.1f MiB", float64(m.MaxRSSKiB)/1024)
		}
		ts = append(ts, t)
	}
	for _, r := range rep.Results {
		if r.Verified && r.RerunSeconds > 0 && (strings.HasPrefix(r.Scenario, efs) || strings.HasPrefix(r.Scenario, tmpfs)) {
			t := Target{Name: fmt.Sprintf("%s, %s: rerun < 10%% of the first copy", r.Scenario, r.Tool), Status: "not met"}
			pct := 100 * r.RerunSeconds / r.Seconds
			if pct < 10 {
				t.Status = "met"
			}
			t.Detail = fmt.Sprintf("%.1f%% (%.2fs vs %.2fs)", pct, r.RerunSeconds, r.Seconds)
			ts = append(ts, t)
		}
	}
	return ts
}

// printMarkdown prints one Markdown table of every scenario (ratios only: the
// machine may be shared) and the targets, for the README.
func printMarkdown(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "homebench %s, %d CPUs, load average %s at start, %s at end; medians of up to %d runs (emulated EFS: %d)\n\n",
		rep.Started.Format("2006-01-02 15:04Z"), rep.CPUs, rep.LoadAvg, rep.LoadAvgE, rep.Config.Runs, efsRuns(rep))
	mounts := "more mounts" // none this run: an empty column
	if rep.Config.EFSMounts > 1 {
		mounts = fmt.Sprintf("%d mounts", rep.Config.EFSMounts)
	}
	fmt.Fprintln(w, "| scenario | tree | mover vs `cp -rp && chown -R` | vs `cp -a` | vs `rsync -a --chown` | "+
		mounts+" vs `cp -rp && chown -R`"+" | rerun / first copy | mover peak RSS | mover start-up / its time |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	ratio := func(sc, tool, base string) string {
		m, b := findResult(rep, sc, tool), findResult(rep, sc, base)
		switch {
		case m == nil || b == nil:
			return ""
		case !m.Verified:
			return "no figure (copy failed)"
		case !b.Verified:
			return "baseline failed"
		}
		return fmt.Sprintf("%.2fx", b.Seconds/m.Seconds)
	}
	for _, sc := range rep.Scenarios {
		if sc.Skipped != "" {
			fmt.Fprintf(w, "| %s | skipped: %s | | | | | | | |\n", sc.Name, sc.Skipped)
			continue
		}
		tree := fmt.Sprintf("%d files, %d dirs, %.0f MiB", sc.Tree.Files, sc.Tree.Dirs, float64(sc.Tree.Bytes)/(1<<20))
		rerun, rss, startup := "", "", ""
		if m := findResult(rep, sc.Name, ToolMover); m != nil && m.Verified {
			rss = fmt.Sprintf("%.0f MiB", float64(m.MaxRSSKiB)/1024)
			if st := rep.MoverStartup; st != nil && m.Seconds > 0 {
				startup = fmt.Sprintf("%.0f%%", 100*st.CopyEmptySeconds/m.Seconds)
			}
			if m.RerunSeconds > 0 {
				rerun = fmt.Sprintf("%.1f%%", 100*m.RerunSeconds/m.Seconds)
			}
		}
		if m := findResult(rep, sc.Name, ToolMoverMounts); m != nil && m.Verified && m.RerunSeconds > 0 {
			rerun += fmt.Sprintf(" (%d mounts: %.1f%%)", rep.Config.EFSMounts, 100*m.RerunSeconds/m.Seconds)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", sc.Name, tree,
			ratio(sc.Name, ToolMover, ToolCpChown), ratio(sc.Name, ToolMover, ToolCpA), ratio(sc.Name, ToolMover, ToolRsync),
			ratio(sc.Name, ToolMoverMounts, ToolCpChown), rerun, rss, startup)
	}
	fmt.Fprintln(w, "\nx: the other tool's median time divided by the mover's (above 1: the mover is faster).")
	if st := rep.MoverStartup; st != nil {
		fmt.Fprintf(w, "\nMover start-up (median of %d, included in every mover figure and ratio): copy-home of an empty tree %.3f s, `%s` %.3f s.\n",
			st.Runs, st.CopyEmptySeconds, st.VersionCommand, st.VersionSeconds)
	}
	fmt.Fprintln(w, "\nTargets (issue 12):")
	fmt.Fprintln(w)
	for _, t := range rep.Targets {
		fmt.Fprintf(w, "- **%s**: %s: %s\n", t.Status, t.Name, t.Detail)
	}
}

func efsRuns(rep *Report) int {
	for _, sc := range rep.Scenarios {
		if strings.HasPrefix(sc.Name, ScenarioEFS) {
			return sc.Runs
		}
	}
	return 0
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
		startup := rep.MoverStartup != nil
		if startup {
			hdr = append(hdr, "start-up share")
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
				if startup {
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
			if startup {
				// The share of this figure that is the mover's start-up.
				if r.Tool == ToolMover || r.Tool == ToolMoverMounts {
					row = append(row, fmt.Sprintf("%.0f%%", 100*rep.MoverStartup.CopyEmptySeconds/r.Seconds))
				} else {
					row = append(row, "-")
				}
			}
			row = append(row, fmt.Sprintf("%.1f", float64(r.MaxRSSKiB)/1024), "yes ("+r.Contract+")")
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		tw.Flush()
	}
	if st := rep.MoverStartup; st != nil {
		fmt.Fprintf(w, "\nmover start-up (median of %d, included in each mover figure): copy-home of an empty tree %.3f s, %s %.3f s\n",
			st.Runs, st.CopyEmptySeconds, st.VersionCommand, st.VersionSeconds)
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
