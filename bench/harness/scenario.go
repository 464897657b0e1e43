//go:build linux

package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/studio-migrator/studio-migrator/bench/latencyfs"
	"github.com/studio-migrator/studio-migrator/bench/treegen"
	"github.com/studio-migrator/studio-migrator/internal/efs/sftptest"
)

// tool is one way of copying a home directory.
type tool struct {
	name     string
	contract contract
	binary   string // must be installed, or the tool is reported as missing
	argv     func(src, dst string) []string
	stdin    func(src, dst string) string // optional
	rerun    bool                         // time a second run over the finished copy (Config.Rerun)
}

func localTools(cfg Config) []tool {
	uid := cfg.uidArg()
	ts := []tool{
		{name: ToolCpA, contract: contractReference, binary: "cp",
			argv: func(src, dst string) []string { return []string{"cp", "-a", src, dst} }},
		{name: ToolCpChown, contract: contractNoLinks, binary: "cp",
			argv: func(src, dst string) []string {
				return []string{"sh", "-c", `cp -rp "$1" "$2" && chown -R "$3" "$2"`, "sh", src, dst, uid}
			}},
		{name: ToolRsync, contract: contractNoLinks, binary: "rsync",
			argv: func(src, dst string) []string {
				return []string{"rsync", "-a", fmt.Sprintf("--chown=%d:%d", cfg.NewUID, cfg.GID), src + "/", dst + "/"}
			}},
	}
	if cfg.Mover != "" {
		ts = append(ts, tool{name: ToolMover, contract: contractFull, binary: cfg.Mover, rerun: cfg.Rerun,
			argv: func(src, dst string) []string { return moverArgv(cfg, src, dst) }})
	}
	return ts
}

// moverMountsTool is the mover writing through every mount in mounts (the first is
// where dst lies): --to dst and one --to-mount per other mount, at the same path.
func moverMountsTool(cfg Config, mounts []string) tool {
	return tool{name: ToolMoverMounts, contract: contractFull, binary: cfg.Mover, rerun: cfg.Rerun,
		argv: func(src, dst string) []string {
			var extra []string
			rel, err := filepath.Rel(mounts[0], dst)
			for _, m := range mounts[1:] {
				if err != nil { // dst is the SRC/DST placeholder of the printed command
					rel = filepath.Base(dst)
				}
				extra = append(extra, "--to-mount", filepath.Join(m, rel))
			}
			return moverArgv(cfg, src, dst, extra...)
		}}
}

func moverArgv(cfg Config, src, dst string, extra ...string) []string {
	a := append(cfg.moverCommand(), "--from", src, "--to", dst, "--uid", cfg.uidArg())
	if cfg.MoverWorkers > 0 {
		a = append(a, "--workers", strconv.Itoa(cfg.MoverWorkers))
	}
	return append(a, extra...)
}

// runScenario sets up scenario name (with a tree of the given shape, "" for the
// scenarios without shapes), runs every tool on it and returns their results.
func runScenario(ctx context.Context, cfg Config, name, shape, dir string) (ScenarioInfo, []Result, error) {
	kind := name
	if shape != "" {
		name = kind + "/" + shape
	}
	info := ScenarioInfo{Name: name, Shape: shape, Baselines: []string{ToolCpChown, ToolCpA}}
	var traceFiles []*os.File // cfg.EFSTrace's, closed after the mounts are gone
	defer func() {
		for _, f := range traceFiles {
			f.Close()
		}
	}()
	home := strconv.FormatUint(uint64(cfg.OldUID), 10)
	gen := func(root string, files int) error {
		tc := treegen.Config{Shape: shape, Seed: cfg.Seed, Files: files, LargeFiles: cfg.LargeFiles, LargeSize: cfg.LargeSize, UID: cfg.OldUID, GID: cfg.GID}
		if shape != "" && shape != treegen.ShapeHome {
			tc.Files, tc.LargeFiles = cfg.ShapeFiles[shape], 0
		}
		fmt.Fprintf(cfg.Out, "[%s] generating %d-file %s tree in %s\n", name, tc.Files, tc.Shape, root)
		st, err := treegen.Generate(root, tc)
		info.Tree = st
		fmt.Fprintf(cfg.Out, "[%s] %v\n", name, st)
		return err
	}
	localDst := func(parent string) func(string) (string, string, error) {
		return func(run string) (string, string, error) {
			p := filepath.Join(parent, run)
			return p, p, os.MkdirAll(p, 0o755)
		}
	}
	var sc scenario
	sc.name = name
	switch kind {
	case ScenarioTmpfs:
		sc.src = filepath.Join(dir, "src", home)
		sc.srcLocal = sc.src
		if err := gen(sc.src, cfg.TmpfsFiles); err != nil {
			return info, nil, err
		}
		sc.dstParent = localDst(filepath.Join(dir, "dst"))
		sc.tools = localTools(cfg)

	case ScenarioBigFile:
		sc.src = filepath.Join(dir, "src", home)
		sc.srcLocal = sc.src
		if err := writeBigFile(sc.src, cfg); err != nil {
			return info, nil, err
		}
		info.Tree = treegen.Stats{Files: 1, Dirs: 1, Bytes: cfg.BigFileSize}
		fmt.Fprintf(cfg.Out, "[%s] one file of %d MiB\n", name, cfg.BigFileSize>>20)
		sc.dstParent = localDst(filepath.Join(dir, "dst"))
		sc.tools = localTools(cfg)

	case ScenarioEFS:
		if err := latencyfs.Available(); err != nil {
			info.Skipped = err.Error()
			fmt.Fprintf(cfg.Out, "[%s] skipped: %v\n", name, err)
			return info, nil, nil
		}
		srcB, dstB := filepath.Join(dir, "src-backing"), filepath.Join(dir, "dst-backing")
		srcM, dstM := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
		for _, d := range []string{srcB, dstB, srcM, dstM} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return info, nil, err
			}
		}
		if err := gen(filepath.Join(srcB, home), cfg.EFSFiles); err != nil {
			return info, nil, err
		}
		opts := latencyfs.Options{Delays: cfg.EFSDelays, CacheTimeout: cfg.EFSCacheTimeout}
		// traced gives a mount's options, with its own trace file when asked for.
		traced := func(label string) (latencyfs.Options, error) {
			if cfg.EFSTrace == "" {
				return opts, nil
			}
			f, err := os.Create(filepath.Join(cfg.EFSTrace, strings.ReplaceAll(name, "/", "-")+"-"+label+".trace"))
			if err != nil {
				return opts, fmt.Errorf("creating the latencyfs trace: %w", err)
			}
			// Closed when the scenario returns, after the deferred Unmount flushed it
			// (deferred calls run last in, first out).
			traceFiles = append(traceFiles, f)
			o := opts
			o.Trace = f
			return o, nil
		}
		srcOpts, err := traced("src")
		if err != nil {
			return info, nil, err
		}
		srcFS, err := latencyfs.Mount(srcM, srcB, srcOpts)
		if err != nil {
			return info, nil, err
		}
		defer srcFS.Unmount()
		dstOpts, err := traced("dst")
		if err != nil {
			return info, nil, err
		}
		dstFS, err := latencyfs.Mount(dstM, dstB, dstOpts)
		if err != nil {
			return info, nil, err
		}
		defer dstFS.Unmount()
		sc.mounts = []string{dstM}
		counted := []*latencyfs.Server{srcFS, dstFS}
		if cfg.EFSMounts > 1 && cfg.Mover != "" {
			// More mounts of the same backing directory: each FUSE mount is its own
			// superblock with its own inode locks, as NFS mounts with nosharecache.
			for i := 2; i <= cfg.EFSMounts; i++ {
				m := fmt.Sprintf("%s-m%d", dstM, i)
				if err := os.MkdirAll(m, 0o755); err != nil {
					return info, nil, err
				}
				mOpts, err := traced(fmt.Sprintf("dst-m%d", i))
				if err != nil {
					return info, nil, err
				}
				extra, err := latencyfs.Mount(m, dstB, mOpts)
				if err != nil {
					return info, nil, err
				}
				defer extra.Unmount()
				sc.mounts = append(sc.mounts, m)
				counted = append(counted, extra)
			}
			info.Notes = append(info.Notes, fmt.Sprintf("%q writes through %d latencyfs mounts of the destination's backing directory (--to-mount)", ToolMoverMounts, cfg.EFSMounts))
		}
		info.Notes = append(info.Notes, fmt.Sprintf("source and destination on separate latencyfs mounts: %v per lookup/getattr/open/read/readdir, %v per create/mkdir/symlink/link/setattr/rename/commit, kernel caches %v",
			cfg.EFSDelays.Read, cfg.EFSDelays.Write, cfg.EFSCacheTimeout))
		sc.src = filepath.Join(srcM, home)
		sc.srcLocal = filepath.Join(srcB, home)
		sc.dstParent = func(run string) (string, string, error) {
			// Created in the backing directory: the mount has never looked the name up,
			// so no stale negative entry hides it.
			return filepath.Join(dstM, run), filepath.Join(dstB, run), os.MkdirAll(filepath.Join(dstB, run), 0o755)
		}
		var last latencyfs.Counts
		sc.onRun = func() *latencyfs.Counts {
			var now latencyfs.Counts
			for _, m := range counted {
				c := m.Counts()
				now.Read += c.Read
				now.Write += c.Write
			}
			d := latencyfs.Counts{Read: now.Read - last.Read, Write: now.Write - last.Write}
			last = now
			return &d
		}
		sc.tools = localTools(cfg)
		if len(sc.mounts) > 1 {
			sc.tools = append(sc.tools, moverMountsTool(cfg, sc.mounts))
		}

	case ScenarioSFTP:
		info.Baselines = []string{ToolScp, ToolSFTP}
		sc.src = filepath.Join(dir, "src", home)
		sc.srcLocal = sc.src
		if err := gen(sc.src, cfg.SFTPFiles); err != nil {
			return info, nil, err
		}
		dstRoot := filepath.Join(dir, "dst")
		if err := os.MkdirAll(dstRoot, 0o755); err != nil {
			return info, nil, err
		}
		srv, err := sftptest.Start(sftptest.Options{Dir: dstRoot})
		if err != nil {
			info.Skipped = err.Error()
			fmt.Fprintf(cfg.Out, "[%s] skipped: %v\n", name, err)
			return info, nil, nil
		}
		defer srv.Close()
		addr := srv.Addr()
		if cfg.SFTPRTT > 0 {
			px, err := sftptest.StartLatencyProxy(addr, cfg.SFTPRTT/2)
			if err != nil {
				return info, nil, err
			}
			defer px.Close()
			addr = px.Addr()
		}
		kh := filepath.Join(dir, "known_hosts")
		line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, srv.HostKey()) + "\n"
		if err := os.WriteFile(kh, []byte(line), 0o600); err != nil {
			return info, nil, err
		}
		info.Notes = append(info.Notes,
			fmt.Sprintf("destination: OpenSSH sftp-server behind an in-process SSH server, %v added round-trip time", cfg.SFTPRTT),
			"scp and sftp cannot chown (the files belong to the SSH user) and follow symlinks: checked for file contents only")
		sc.dstParent = localDst(dstRoot)
		sc.tools = sftpTools(cfg, addr, kh, srv.ClientKeyFile())
	}
	if info.Skipped != "" {
		return info, nil, nil
	}

	if len(cfg.Tools) > 0 {
		sc.tools = slices.DeleteFunc(sc.tools, func(t tool) bool {
			return !slices.ContainsFunc(cfg.Tools, func(s string) bool { return strings.Contains(t.name, s) })
		})
	}
	srcMan, err := scan(sc.srcLocal, 4)
	if err != nil {
		return info, nil, err
	}
	results := make([]Result, len(sc.tools))
	for i, t := range sc.tools {
		results[i] = Result{Scenario: name, Tool: t.name, Contract: t.contract.Name,
			Command: strings.Join(t.argv("SRC", "DST"), " ")}
		if _, err := exec.LookPath(t.binary); err != nil {
			results[i].Failure = fmt.Sprintf("%s not installed", t.binary)
		}
	}
	runs := cfg.Runs
	if kind == ScenarioEFS && cfg.EFSRuns > 0 {
		runs = min(runs, cfg.EFSRuns)
	}
	if kind == ScenarioBigFile {
		runs = max(runs, cfg.BigFileRuns)
	}
	info.Runs = runs
	for run := 0; run < runs; run++ {
		for i, t := range sc.tools {
			r := &results[i]
			if r.Failure != "" {
				continue // a tool that failed once gets no figure; skip its other runs
			}
			if kind == ScenarioEFS && cfg.EFSBaselineRuns > 0 && run >= cfg.EFSBaselineRuns && t.binary != cfg.Mover {
				continue
			}
			res := runOnce(ctx, cfg, sc, t, run, srcMan)
			r.Runs = append(r.Runs, res)
			status := "ok"
			if res.Error != "" {
				r.Failure = fmt.Sprintf("run %d: %s", run+1, res.Error)
				status = "FAILED: " + res.Error
			}
			rerun := ""
			if res.RerunSeconds > 0 {
				rerun = fmt.Sprintf("  rerun %.2fs", res.RerunSeconds)
			}
			fmt.Fprintf(cfg.Out, "[%s] run %d/%d %-28s %8.2fs  rss %6.1f MiB%s  %s\n", name, run+1, runs, t.name, res.Seconds, float64(res.MaxRSSKiB)/1024, rerun, status)
		}
	}
	for i := range results {
		r := &results[i]
		if r.Failure != "" || len(r.Runs) == 0 {
			continue
		}
		r.Verified = true
		secs := make([]float64, len(r.Runs))
		var reruns []float64
		for j, run := range r.Runs {
			secs[j] = run.Seconds
			r.MaxRSSKiB = max(r.MaxRSSKiB, run.MaxRSSKiB)
			if run.RerunSeconds > 0 {
				reruns = append(reruns, run.RerunSeconds)
			}
		}
		r.Seconds = median(secs)
		if len(reruns) > 0 {
			r.RerunSeconds = median(reruns)
		}
		if r.Seconds > 0 {
			r.MiBps = float64(srcMan.bytes) / (1 << 20) / r.Seconds
		}
	}
	for i := range results {
		r := &results[i]
		if !r.Verified {
			continue
		}
		for _, b := range results {
			if b.Verified && b.Tool != r.Tool {
				if r.Speedup == nil {
					r.Speedup = map[string]float64{}
				}
				r.Speedup[b.Tool] = b.Seconds / r.Seconds
			}
		}
	}
	return info, results, nil
}

// runOnce copies the source with t onto a fresh destination, times it and verifies
// the copy; the destination is removed afterwards whatever happened.
func runOnce(ctx context.Context, cfg Config, sc scenario, t tool, run int, srcMan *manifest) Sample {
	slug := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, t.name)
	parent, localParent, err := sc.dstParent(fmt.Sprintf("%s-%d", slug, run))
	if err != nil {
		return Sample{Error: err.Error()}
	}
	defer os.RemoveAll(localParent)
	dst := filepath.Join(parent, cfg.uidArg())
	localDst := filepath.Join(localParent, cfg.uidArg())
	if sc.onRun != nil {
		sc.onRun()
	}
	var stdin string
	if t.stdin != nil {
		stdin = t.stdin(sc.src, dst)
	}
	res := execTimed(ctx, cfg.RunTimeout, t.argv(sc.src, dst), stdin)
	if sc.onRun != nil {
		res.FUSEOps = sc.onRun()
	}
	if res.Error != "" {
		return res
	}
	dstMan, err := scan(localDst, 4)
	if err == nil {
		err = verify(srcMan, dstMan, t.contract, cfg.NewUID)
	}
	if err != nil {
		res.Error = "verification: " + err.Error()
		return res
	}
	if t.rerun {
		// Over the finished copy: the cost of a resume that finds nothing to do.
		again := execTimed(ctx, cfg.RunTimeout, t.argv(sc.src, dst), stdin)
		if sc.onRun != nil {
			sc.onRun()
		}
		if again.Error != "" {
			res.Error = "rerun: " + again.Error
			return res
		}
		res.RerunSeconds = again.Seconds
	}
	return res
}

// gnuTime is GNU time, through which every tool runs so its peak RSS is its own.
const gnuTime = "/usr/bin/time"

// execTimed runs argv in its own process group and returns its wall time and peak
// RSS. The RSS comes from GNU time (when installed), which forks the tool from its
// own small process: a child of this (large) Go process inherits the parent's
// high-water mark at exec, so wait4's ru_maxrss here would report the harness's
// size, not the tool's. GNU time's wait4 covers the tool and every descendant it
// waited for, so `sh -c "cp && chown"` reports the larger of cp and chown.
func execTimed(ctx context.Context, timeout time.Duration, argv []string, stdin string) Sample {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rssFile string
	if _, err := os.Stat(gnuTime); err == nil {
		f, err := os.CreateTemp("", "homebench-rss-")
		if err == nil {
			rssFile = f.Name()
			f.Close()
			defer os.Remove(rssFile)
			argv = append([]string{gnuTime, "-f", "%M", "-o", rssFile}, argv...)
		}
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	start := time.Now()
	err := cmd.Run()
	res := Sample{Seconds: time.Since(start).Seconds()}
	if rssFile != "" {
		b, _ := os.ReadFile(rssFile)
		// The last line holds %M; GNU time writes "Command exited with non-zero
		// status N" before it on failure.
		lines := strings.Fields(string(b))
		if len(lines) > 0 {
			res.MaxRSSKiB, _ = strconv.ParseInt(lines[len(lines)-1], 10, 64)
		}
	} else if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			res.MaxRSSKiB = ru.Maxrss // an upper bound: includes the harness's own size
		}
	}
	if err != nil {
		msg := strings.Join(strings.Fields(out.String()), " ")
		if len(msg) > 300 {
			msg = msg[:300] + "..."
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %v", timeout)
		}
		res.Error = fmt.Sprintf("%v: %s", err, msg)
	}
	return res
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// writeBigFile makes a home holding one file of cfg.BigFileSize pseudo-random bytes.
func writeBigFile(home string, cfg Config) error {
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}
	name := filepath.Join(home, "big.bin")
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0xb16))
	buf := make([]byte, 4<<20)
	for i := 0; i+8 <= len(buf); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			buf[i+j] = byte(v >> (8 * j))
		}
	}
	for left := cfg.BigFileSize; left > 0; {
		n := min(left, int64(len(buf)))
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		buf[0]++ // no two chunks alike
		left -= n
	}
	if err := f.Close(); err != nil {
		return err
	}
	mt := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, p := range []string{name, home} {
		if err := os.Lchown(p, int(cfg.OldUID), int(cfg.GID)); err != nil {
			return err
		}
		if err := os.Chtimes(p, mt, mt); err != nil {
			return err
		}
	}
	return nil
}

// sftpTools copy the local source to the SFTP server at addr.
func sftpTools(cfg Config, addr, knownHosts, key string) []tool {
	host, port, _ := strings.Cut(addr, ":")
	sshOpts := []string{"-F", "/dev/null", "-i", key, "-P", port,
		"-o", "UserKnownHostsFile=" + knownHosts, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"}
	var ts []tool
	if cfg.Mover != "" {
		ts = append(ts, tool{name: ToolMover, contract: contractFull, binary: cfg.Mover,
			argv: func(src, dst string) []string {
				// The in-process SSH server serves only the sftp subsystem.
				return moverArgv(cfg, src, "sftp://root@"+addr+dst, "--known-hosts", knownHosts, "--identity", key, "--sftp-server", "stock")
			}})
	}
	ts = append(ts,
		tool{name: ToolScp, contract: contractContent, binary: "scp",
			argv: func(src, dst string) []string {
				return append(append([]string{"scp", "-r", "-p", "-q"}, sshOpts...), src, "root@"+host+":"+dst)
			}},
		tool{name: ToolSFTP, contract: contractContent, binary: "sftp",
			argv: func(src, dst string) []string {
				return append(append([]string{"sftp", "-q", "-b", "-"}, sshOpts...), "root@"+host)
			},
			stdin: func(src, dst string) string { return fmt.Sprintf("put -R -p %q %q\n", src, dst) }},
	)
	return ts
}
