//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/studio-migrator/studio-migrator/bench/harness"
	"github.com/studio-migrator/studio-migrator/bench/treegen"
)

func main() {
	cfg := harness.DefaultConfig()
	scenarios := strings.Join(cfg.Scenarios, ",")
	files := 0
	tools := ""
	tmpfsShapes, efsShapes := strings.Join(cfg.TmpfsShapes, ","), strings.Join(cfg.EFSShapes, ",")
	flag.StringVar(&cfg.WorkDir, "workdir", cfg.WorkDir, "scratch directory for trees, copies and mounts (use a tmpfs)")
	flag.StringVar(&cfg.OutDir, "out", cfg.OutDir, `directory for the JSON report ("" for none)`)
	flag.StringVar(&scenarios, "scenarios", scenarios, "comma-separated scenarios: "+strings.Join(harness.AllScenarios, ","))
	flag.StringVar(&tools, "tools", "", "comma-separated substrings: run only the tools whose name contains one (e.g. migrator,cp -a)")
	flag.IntVar(&cfg.Runs, "runs", cfg.Runs, "runs per tool (the median is reported)")
	flag.IntVar(&cfg.EFSRuns, "efs-runs", cfg.EFSRuns, "cap on the efs scenario's runs (0: --runs)")
	flag.IntVar(&cfg.EFSBaselineRuns, "efs-baseline-runs", cfg.EFSBaselineRuns, "cap on the runs of the tools other than the mover in the efs scenarios (0: no cap)")
	flag.StringVar(&tmpfsShapes, "tmpfs-shapes", tmpfsShapes, "comma-separated tree shapes of the tmpfs scenario: "+strings.Join(treegen.Shapes, ","))
	flag.StringVar(&efsShapes, "efs-shapes", efsShapes, "comma-separated tree shapes of the efs scenario")
	flag.IntVar(&cfg.EFSMounts, "efs-mounts", cfg.EFSMounts, "also run the mover through this many mounts of the emulated EFS destination (--to-mount; 0 or 1: not)")
	flag.BoolVar(&cfg.Rerun, "rerun", cfg.Rerun, "time the mover again over each finished copy")
	flag.BoolVar(&cfg.Markdown, "markdown", cfg.Markdown, "also print the summary table in Markdown")
	shapeFiles := func(shape string) *int { n := cfg.ShapeFiles[shape]; return &n }
	flat, dirs100, tiny := shapeFiles(treegen.ShapeFlat), shapeFiles(treegen.ShapeDirs100), shapeFiles(treegen.ShapeTiny)
	flag.IntVar(flat, "flat-files", *flat, "files of the flat shape (one directory)")
	flag.IntVar(dirs100, "dirs100-files", *dirs100, "files of the dirs100 shape (directories of 100)")
	flag.IntVar(tiny, "tiny-files", *tiny, "files of the tiny shape (a few bytes each, directories of 100)")
	flag.IntVar(&cfg.BigFileRuns, "bigfile-runs", cfg.BigFileRuns, "minimum runs of the bigfile scenario")
	flag.IntVar(&files, "files", 0, "small files in the tmpfs home (default 100000); also caps the efs and sftp homes")
	flag.IntVar(&cfg.TmpfsFiles, "tmpfs-files", cfg.TmpfsFiles, "small files in the tmpfs home")
	flag.IntVar(&cfg.EFSFiles, "efs-files", cfg.EFSFiles, "small files in the emulated-EFS home (each costs cp ~20 ms)")
	flag.IntVar(&cfg.SFTPFiles, "sftp-files", cfg.SFTPFiles, "small files in the SFTP home")
	flag.IntVar(&cfg.LargeFiles, "large-files", cfg.LargeFiles, "large files added to each generated home")
	flag.Int64Var(&cfg.LargeSize, "large-size", cfg.LargeSize, "size of each large file, bytes")
	flag.Int64Var(&cfg.BigFileSize, "bigfile-size", cfg.BigFileSize, "size of the bigfile scenario's file, bytes")
	flag.Int64Var(&cfg.Seed, "seed", cfg.Seed, "tree generator seed")
	flag.StringVar(&cfg.Mover, "mover", cfg.Mover, `the mover: a migrator binary (run as migrator copy-home) or migrator-copy-home ("" leaves the mover out)`)
	flag.IntVar(&cfg.StartupRuns, "startup-runs", cfg.StartupRuns, "times the mover's start-up is timed (copy-home of an empty tree, version), once per report; 0: not")
	flag.IntVar(&cfg.MoverWorkers, "mover-workers", cfg.MoverWorkers, "--workers for the mover (0: its default)")
	flag.DurationVar(&cfg.EFSDelays.Read, "efs-read-delay", cfg.EFSDelays.Read, "emulated EFS delay per lookup/getattr/open/read/readdir")
	flag.DurationVar(&cfg.EFSDelays.Write, "efs-write-delay", cfg.EFSDelays.Write, "emulated EFS delay per create/mkdir/link/setattr/rename/commit")
	flag.StringVar(&cfg.EFSTrace, "efs-trace", cfg.EFSTrace, "directory for a trace of every emulated-EFS request, one file per mount (latencyfs Options.Trace; for finding a tool's critical path)")
	flag.DurationVar(&cfg.EFSCacheTimeout, "efs-cache", cfg.EFSCacheTimeout, "emulated EFS kernel entry/attr cache lifetime")
	flag.DurationVar(&cfg.SFTPRTT, "sftp-rtt", cfg.SFTPRTT, "round-trip time added in front of the SFTP server")
	flag.DurationVar(&cfg.RunTimeout, "run-timeout", cfg.RunTimeout, "limit for one run of one tool")
	flag.Parse()

	if files > 0 {
		cfg.TmpfsFiles = files
		cfg.EFSFiles = min(cfg.EFSFiles, files)
		cfg.SFTPFiles = min(cfg.SFTPFiles, files)
	}
	cfg.Scenarios = strings.Split(scenarios, ",")
	cfg.TmpfsShapes, cfg.EFSShapes = strings.Split(tmpfsShapes, ","), strings.Split(efsShapes, ",")
	cfg.ShapeFiles = map[string]int{treegen.ShapeFlat: *flat, treegen.ShapeDirs100: *dirs100, treegen.ShapeTiny: *tiny}
	if tools != "" {
		cfg.Tools = strings.Split(tools, ",")
	}
	if cfg.Mover != "" {
		abs, err := filepath.Abs(cfg.Mover)
		if err != nil {
			fatal(err)
		}
		cfg.Mover = abs
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := harness.Run(ctx, cfg); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "homebench:", err)
	os.Exit(1)
}
