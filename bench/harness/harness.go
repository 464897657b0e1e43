//go:build linux

package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/studio-migrator/studio-migrator/bench/latencyfs"
	"github.com/studio-migrator/studio-migrator/bench/treegen"
)

// Scenario names.
const (
	ScenarioTmpfs   = "tmpfs"
	ScenarioEFS     = "efs"
	ScenarioSFTP    = "sftp"
	ScenarioBigFile = "bigfile"
)

// AllScenarios is every scenario in the order they run.
var AllScenarios = []string{ScenarioTmpfs, ScenarioEFS, ScenarioSFTP, ScenarioBigFile}

// Config is one benchmark invocation. DefaultConfig fills every field.
type Config struct {
	// WorkDir holds the generated trees, the destinations and the FUSE mounts. It
	// should be a tmpfs (default /dev/shm/homebench) so the "tmpfs" scenario measures
	// the tools, not a disk; it is removed at the end.
	WorkDir string
	// OutDir receives the JSON report ("" writes none).
	OutDir string
	// Scenarios to run, from AllScenarios.
	Scenarios []string
	// TmpfsShapes and EFSShapes are the tree shapes (treegen.Shapes) the tmpfs and
	// efs scenarios copy, each as its own table row. The home shape has TmpfsFiles or
	// EFSFiles files and the large files; the others ShapeFiles[shape] files and none.
	TmpfsShapes, EFSShapes []string
	ShapeFiles             map[string]int
	// EFSMounts, if above 1, adds a mover run through that many latencyfs mounts of
	// the destination volume (copy-home --to-mount), each with its own kernel
	// directory locks as NFS mounts with nosharecache have.
	EFSMounts int
	// Rerun times the mover once more over each finished copy (nothing to do): the
	// cost of a resume check, reported as a percentage of the first copy.
	Rerun bool
	// Markdown prints the summary table in Markdown after the per-scenario tables.
	Markdown bool
	// Tools, if not empty, keeps only the tools whose name contains one of these
	// strings (e.g. "migrator" to try a mover change quickly).
	Tools []string
	// Runs per tool; the report gives the median. EFSRuns, if not zero, caps the
	// runs of the efs scenario, whose baselines take minutes each (and, being bound
	// by the emulated round trips rather than CPU, vary little between runs).
	// BigFileRuns, if larger than Runs, raises the bigfile scenario's runs: each
	// takes a second, and a single large copy is the most sensitive to a neighbour's
	// burst of CPU or memory bandwidth.
	Runs, EFSRuns, BigFileRuns int
	// EFSBaselineRuns, if not zero, caps the runs of the other tools in the efs
	// scenarios (cp takes a minute per 2,000 files there and varies little), so
	// the mover can run more often at little cost.
	EFSBaselineRuns int
	// Files per scenario (small files in the generated home).
	TmpfsFiles, EFSFiles, SFTPFiles int
	// LargeFiles of LargeSize bytes are added to each generated home.
	LargeFiles int
	LargeSize  int64
	// BigFileSize is the single file of the bigfile scenario.
	BigFileSize int64
	Seed        int64
	// OldUID:GID own the source; NewUID is the UID every tool must give the copy.
	OldUID, GID, NewUID uint32
	// Mover is the mover's binary: migrator (run as `migrator copy-home`) or
	// migrator-copy-home, the same command alone (any binary whose name starts with
	// "migrator-copy-home"); "" leaves the mover out. MoverWorkers, if not zero, is
	// passed as --workers.
	Mover        string
	MoverWorkers int
	// StartupRuns is how many times the mover's start-up is timed (see Startup),
	// once per report; 0: not measured.
	StartupRuns int
	// EFS model (bench/latencyfs).
	EFSDelays       latencyfs.Delays
	EFSCacheTimeout time.Duration
	// EFSTrace, when set, is a directory where each latencyfs mount writes a trace of
	// its requests (latencyfs.Options.Trace): <shape>-<mount>.trace, every run of
	// that shape in one file.
	EFSTrace string
	// SFTPRTT is the round-trip time a proxy adds in front of the SFTP server (0: none).
	SFTPRTT time.Duration
	// RunTimeout bounds one run of one tool.
	RunTimeout time.Duration
	// Out receives progress lines and the final table.
	Out io.Writer
}

// DefaultConfig is what bench/run.sh runs without flags.
func DefaultConfig() Config {
	return Config{
		WorkDir:         "/dev/shm/homebench",
		OutDir:          "bench/out",
		Scenarios:       slices.Clone(AllScenarios),
		TmpfsShapes:     []string{treegen.ShapeHome},
		EFSShapes:       []string{treegen.ShapeHome},
		ShapeFiles:      map[string]int{treegen.ShapeFlat: 2_000, treegen.ShapeDirs100: 2_000, treegen.ShapeTiny: 20_000},
		Rerun:           true,
		Runs:            3,
		EFSRuns:         2,
		BigFileRuns:     7,
		StartupRuns:     20,
		TmpfsFiles:      100_000,
		EFSFiles:        1_000,
		SFTPFiles:       2_000,
		LargeFiles:      3,
		LargeSize:       50 << 20,
		BigFileSize:     1 << 30,
		Seed:            1,
		OldUID:          200001,
		GID:             1001,
		NewUID:          300001,
		EFSDelays:       latencyfs.DefaultDelays,
		EFSCacheTimeout: latencyfs.DefaultCacheTimeout,
		SFTPRTT:         time.Millisecond,
		RunTimeout:      30 * time.Minute,
		Out:             os.Stdout,
	}
}

// Tool names as they appear in the report.
const (
	ToolCpA     = "cp -a"
	ToolCpChown = "cp -rp && chown -R"
	ToolRsync   = "rsync -a --chown"
	ToolMover   = "migrator copy-home"
	// ToolMoverMounts is the mover through Config.EFSMounts mounts (efs only).
	ToolMoverMounts = "migrator copy-home, N mounts"
	ToolScp         = "scp -rp"
	ToolSFTP        = "sftp put -Rp"
)

// Sample is one timed run of one tool.
type Sample struct {
	Seconds   float64 `json:"seconds"`
	MaxRSSKiB int64   `json:"max_rss_kib"`
	// RerunSeconds is the mover's second run over the finished copy (Config.Rerun).
	RerunSeconds float64 `json:"rerun_seconds,omitempty"`
	// FUSEOps counts the delayed operations both latencyfs mounts served (efs only).
	FUSEOps *latencyfs.Counts `json:"fuse_ops,omitempty"`
	Error   string            `json:"error,omitempty"`
}

// Result is one tool in one scenario. Seconds and the speedups are set only when
// every run finished and passed verification.
type Result struct {
	// Scenario is "tmpfs/<shape>" or "efs/<shape>" for the shaped scenarios, else
	// the scenario's name.
	Scenario  string   `json:"scenario"`
	Tool      string   `json:"tool"`
	Command   string   `json:"command"`
	Contract  string   `json:"contract"`
	Runs      []Sample `json:"runs"`
	Verified  bool     `json:"verified"`
	Failure   string   `json:"failure,omitempty"`
	Seconds   float64  `json:"median_seconds,omitempty"`
	MaxRSSKiB int64    `json:"max_rss_kib,omitempty"`
	// RerunSeconds is the median of the runs' RerunSeconds (0: not measured).
	RerunSeconds float64 `json:"median_rerun_seconds,omitempty"`
	// Speedup[b] is b's median time over this tool's: above 1, this tool is faster.
	Speedup map[string]float64 `json:"speedup,omitempty"`
	// MiBps is the data throughput (bytes of regular files / median time).
	MiBps float64 `json:"mib_per_s,omitempty"`
}

// ScenarioInfo describes the tree a scenario copied.
type ScenarioInfo struct {
	Name      string        `json:"name"`
	Shape     string        `json:"shape,omitempty"`
	Tree      treegen.Stats `json:"tree"`
	Baselines []string      `json:"baselines"`
	Runs      int           `json:"runs"`
	Notes     []string      `json:"notes,omitempty"`
	Skipped   string        `json:"skipped,omitempty"`
}

// Report is everything one invocation measured.
type Report struct {
	Started   time.Time      `json:"started"`
	Finished  time.Time      `json:"finished"`
	Host      string         `json:"host"`
	CPUs      int            `json:"cpus"`
	LoadAvg   string         `json:"loadavg_at_start"`
	LoadAvgE  string         `json:"loadavg_at_end"`
	Config    reportConfig   `json:"config"`
	Scenarios []ScenarioInfo `json:"scenarios"`
	Results   []Result       `json:"results"`
	Targets   []Target       `json:"targets"`
	// MoverStartup is the mover's start-up, included in each of its figures.
	MoverStartup *Startup `json:"mover_startup,omitempty"`
}

type reportConfig struct {
	Runs            int      `json:"runs"`
	TmpfsFiles      int      `json:"tmpfs_files"`
	EFSFiles        int      `json:"efs_files"`
	SFTPFiles       int      `json:"sftp_files"`
	LargeFiles      int      `json:"large_files"`
	LargeSize       int64    `json:"large_size"`
	BigFileSize     int64    `json:"bigfile_size"`
	Seed            int64    `json:"seed"`
	OldUID          uint32   `json:"old_uid"`
	GID             uint32   `json:"gid"`
	NewUID          uint32   `json:"new_uid"`
	TmpfsShapes     []string `json:"tmpfs_shapes,omitempty"`
	EFSShapes       []string `json:"efs_shapes,omitempty"`
	EFSMounts       int      `json:"efs_mounts,omitempty"`
	Mover           string   `json:"mover"`
	MoverWorkers    int      `json:"mover_workers,omitempty"`
	EFSReadDelayMs  float64  `json:"efs_read_delay_ms"`
	EFSWriteDelayMs float64  `json:"efs_write_delay_ms"`
	EFSCacheSec     float64  `json:"efs_cache_timeout_s"`
	SFTPRTTMs       float64  `json:"sftp_rtt_ms"`
}

// Run runs every configured scenario and returns the report; it also prints the
// table to cfg.Out and writes the JSON report to cfg.OutDir. An error means the
// harness itself failed (a scenario could not be set up); a tool that fails or copies
// wrongly is a result, not an error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Runs < 1 {
		cfg.Runs = 1
	}
	for _, s := range cfg.Scenarios {
		if !slices.Contains(AllScenarios, s) {
			return nil, fmt.Errorf("unknown scenario %q (want %s)", s, strings.Join(AllScenarios, ","))
		}
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("homebench must run as root: every tool chowns to another UID")
	}
	host, _ := os.Hostname()
	rep := &Report{Started: time.Now().UTC(), Host: host, CPUs: runtime.NumCPU(), LoadAvg: loadAvg(), Config: reportConfig{
		Runs: cfg.Runs, TmpfsFiles: cfg.TmpfsFiles, EFSFiles: cfg.EFSFiles, SFTPFiles: cfg.SFTPFiles,
		LargeFiles: cfg.LargeFiles, LargeSize: cfg.LargeSize, BigFileSize: cfg.BigFileSize, Seed: cfg.Seed,
		OldUID: cfg.OldUID, GID: cfg.GID, NewUID: cfg.NewUID, Mover: cfg.Mover,
		TmpfsShapes: cfg.TmpfsShapes, EFSShapes: cfg.EFSShapes, EFSMounts: cfg.EFSMounts, MoverWorkers: cfg.MoverWorkers,
		EFSReadDelayMs: ms(cfg.EFSDelays.Read), EFSWriteDelayMs: ms(cfg.EFSDelays.Write),
		EFSCacheSec: cfg.EFSCacheTimeout.Seconds(), SFTPRTTMs: ms(cfg.SFTPRTT),
	}}
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(cfg.WorkDir, "run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	if cfg.Mover != "" && cfg.StartupRuns > 0 {
		fmt.Fprintf(cfg.Out, "[startup] timing the mover's start-up, %d runs\n", cfg.StartupRuns)
		st, err := measureStartup(ctx, cfg, filepath.Join(work, "startup"), cfg.StartupRuns)
		if err != nil {
			return rep, fmt.Errorf("timing the mover's start-up: %w", err)
		}
		rep.MoverStartup = st
		fmt.Fprintf(cfg.Out, "[startup] copy-home of an empty tree %.3f s, version %.3f s (medians)\n", st.CopyEmptySeconds, st.VersionSeconds)
	}

	for _, name := range cfg.Scenarios {
		shapes := []string{""}
		switch name {
		case ScenarioTmpfs:
			shapes = cfg.TmpfsShapes
		case ScenarioEFS:
			shapes = cfg.EFSShapes
		}
		for _, shape := range shapes {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			if shape != "" && !slices.Contains(treegen.Shapes, shape) {
				return rep, fmt.Errorf("unknown shape %q (want %s)", shape, strings.Join(treegen.Shapes, ","))
			}
			label := name
			if shape != "" {
				label = name + "/" + shape
			}
			info, results, err := runScenario(ctx, cfg, name, shape, filepath.Join(work, strings.ReplaceAll(label, "/", "-")))
			if err != nil {
				return rep, fmt.Errorf("scenario %s: %w", label, err)
			}
			rep.Scenarios = append(rep.Scenarios, info)
			rep.Results = append(rep.Results, results...)
		}
	}
	rep.Finished = time.Now().UTC()
	rep.LoadAvgE = loadAvg()
	rep.Targets = evaluateTargets(rep)
	printReport(cfg.Out, rep)
	if cfg.Markdown {
		fmt.Fprintln(cfg.Out)
		printMarkdown(cfg.Out, rep)
	}
	if cfg.OutDir != "" {
		file, err := writeJSON(cfg.OutDir, rep)
		if err != nil {
			return rep, err
		}
		fmt.Fprintf(cfg.Out, "\nJSON report: %s\n", file)
	}
	return rep, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// scenario is a set-up scenario: where the source is, how tools reach it, and where
// their copies go.
type scenario struct {
	name      string
	src       string // the source home as the tools see it
	srcLocal  string // the same directory for the verifier (a FUSE mount's backing dir)
	dstParent func(run string) (tool, local string, err error)
	tools     []tool
	mounts    []string                 // efs: the destination's mount points, the first the tools' own
	onRun     func() *latencyfs.Counts // counts delayed ops since the last call (efs)
}

func (cfg Config) uidArg() string { return strconv.FormatUint(uint64(cfg.NewUID), 10) }

// moverCopyOnly reports whether cfg.Mover is migrator-copy-home, which is
// copy-home itself, rather than migrator, whose subcommand it is.
func (cfg Config) moverCopyOnly() bool {
	return strings.HasPrefix(filepath.Base(cfg.Mover), "migrator-copy-home")
}

// moverCommand is the argv that starts the mover's copy-home, before its flags.
func (cfg Config) moverCommand() []string {
	if cfg.moverCopyOnly() {
		return []string{cfg.Mover}
	}
	return []string{cfg.Mover, "copy-home"}
}

// moverVersionCommand is the argv that prints the mover's version: the process
// start and package initialisation alone.
func (cfg Config) moverVersionCommand() []string {
	if cfg.moverCopyOnly() {
		return []string{cfg.Mover, "--version"}
	}
	return []string{cfg.Mover, "version"}
}

// moverVersionName is how the report names moverVersionCommand: the binary's
// name and its arguments.
func (cfg Config) moverVersionName() string {
	argv := cfg.moverVersionCommand()
	return strings.Join(append([]string{filepath.Base(argv[0])}, argv[1:]...), " ")
}
