package copyhome

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/location"
	"github.com/studio-migrator/studio-migrator/internal/logging"
)

// copyHomeOptions are the flags of `migrator copy-home`.
type copyHomeOptions struct {
	from, to  string
	toMounts  []string // the destination home through other mounts of the same volume
	uid, gid  string
	workers   int
	merge     bool
	delete    bool
	verify    bool
	checksum  bool
	keepSetID bool
	report    string
	output    string
	progress  string
	loc       location.Options // SFTP flags, shared with every command that opens locations
}

// AddFlags registers copy-home's flags.
func (o *copyHomeOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.from, "from", "", "source home directory: DIR or sftp://[user@]host[:port]/path (required)")
	fs.StringVar(&o.to, "to", "", "destination home directory itself, e.g. /mnt/new-efs/200007 or sftp://...; its parent must exist, it is created owned by --uid when missing (required)")
	fs.StringArrayVar(&o.toMounts, "to-mount", nil, "the same destination home through another mount of the same volume (NFS nosharecache), e.g. /mnt/new-efs-2/200007; repeatable: each adds a lane, entries are spread over --to and these")
	fs.StringVar(&o.uid, "uid", "", "new owner UID of every entry: the new profile's HomeEfsFileSystemUid (required, not 0)")
	fs.StringVar(&o.gid, "gid", "", "group of every entry (default: keep each source entry's group)")
	fs.IntVar(&o.workers, "workers", efs.DefaultWorkers, "entries copied at once (EFS pays milliseconds per operation: many in flight hide it)")
	fs.BoolVar(&o.merge, "merge", false, "copy into a destination that already has content owned by another UID")
	fs.BoolVar(&o.delete, "delete", false, "remove destination entries that are not in the source (default: leave them)")
	fs.BoolVar(&o.verify, "verify", false, "compare source and destination after the copy; exit 4 on any difference")
	fs.BoolVar(&o.checksum, "checksum", false, "with --verify, also compare SHA-256 of every file")
	fs.BoolVar(&o.keepSetID, "keep-setid", false, "keep setuid/setgid bits on files (default: strip and report them)")
	fs.StringVar(&o.report, "report", "", `also write the full report as JSON to this file ("-": standard output, the summary then goes to stderr)`)
	cli.AddOutputFlag(fs, &o.output, cli.FormatText, cli.FormatJSON)
	fs.StringVar(&o.progress, "progress", cli.ProgressAuto, "auto (bar on a terminal, log lines otherwise), bar, log or none; on stderr")
	o.loc.AddFlags(fs)
}

// NewCommand is the copy-home command. invocation is how a user runs it, as its
// examples show it: "migrator copy-home" (a subcommand of migrator) or
// "migrator-copy-home" (the root of the copy-only binary, which starts without the
// AWS SDK's initialisation).
func NewCommand(g *cli.Globals, invocation string) *cobra.Command {
	opts := &copyHomeOptions{}
	fields := strings.Fields(invocation)
	cmd := &cobra.Command{
		Use:   fields[len(fields)-1] + " --from SRC --to DST --uid NEW",
		Short: "Copy one home directory to its new place, re-owning every entry to the new UID",
		Long: `Copy one Studio home directory (e.g. /mnt/old-efs/200001) to its new place
(e.g. /mnt/new-efs/200007), making every file, directory and symlink owned by the new
UID in the same pass. Modes, mtimes, symlinks (as links, never followed), hardlinks and
empty directories are kept; sockets, FIFOs and devices are skipped and reported;
setuid/setgid bits are stripped unless --keep-setid.

An interrupted copy never leaves a half-written file that looks complete: on a local
destination a new file is created at its final name and gets its mtime last, after its
data, owner and mode (until then its mtime is the time of the copy, so a rerun sees it
differs and writes it again); a file the destination already has, and every file over
SFTP, is written under a temporary name and renamed into place. Running the same
command again moves only what differs (type, size, mtime, owner, mode) and removes
leftovers.

Either side may be a local directory or sftp://[user@]host[:port]/path on a host that
mounts the EFS (as root, to be able to chown). Host keys are checked against
--known-hosts. A local destination needs root (or CAP_CHOWN, CAP_FOWNER and
CAP_DAC_OVERRIDE).

--to-mount adds more mounts of the destination volume (each made with NFS's
nosharecache, so each has its own directory locks): entries are spread over --to
and every --to-mount by a hash of their directory and name, each entry written
through one mount only, so one directory takes several creates at once. They are
checked first to be the same directory of one volume (a probe file written
through --to must appear, same inode, through each) and refused otherwise.

Exit codes: 0 done, 2 bad flags, 4 --verify found differences, 5 some entries
failed (listed), 130 interrupted (run the same command again to resume).`,
		Example: strings.ReplaceAll(`  migrator copy-home --from /mnt/old-efs/200001 --to /mnt/new-efs/200007 --uid 200007 --verify
  migrator copy-home --from sftp://root@10.0.1.5/mnt/old-efs/200001 --to /mnt/new-efs/200007 --uid 200007
  migrator copy-home --from /mnt/old-efs/200001 --to /mnt/new-efs/200007 --uid 200007 -o json > report.json
  migrator copy-home --from /mnt/old-efs/200001 --to /mnt/new-efs/200007 --uid 200007 \
    --to-mount /mnt/new-efs-2/200007 --to-mount /mnt/new-efs-3/200007 --to-mount /mnt/new-efs-4/200007`, "migrator copy-home", invocation),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCopyHome(cmd.Context(), g, opts)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// Result is the JSON report (--output json, --report).
type Result struct {
	Copy   *copyReport   `json:"copy,omitempty"`
	Verify *verifyReport `json:"verify,omitempty"`
	Error  string        `json:"error,omitempty"`
}

// copyReport is efs.CopyReport with its duration in seconds: efs encodes a
// time.Duration as nanoseconds, which nobody reading a report expects.
type copyReport struct {
	*efs.CopyReport
	// Elapsed hides the embedded nanosecond field (a nil pointer is omitted).
	Elapsed        *struct{} `json:"elapsed,omitempty"`
	ElapsedSeconds float64   `json:"elapsedSeconds"`
}

// verifyReport is efs.VerifyReport with its duration in seconds.
type verifyReport struct {
	*efs.VerifyReport
	Elapsed        *struct{} `json:"elapsed,omitempty"`
	ElapsedSeconds float64   `json:"elapsedSeconds"`
}

func (o *copyHomeOptions) parseLocation(flag, s string) (location.Location, error) {
	if s == "" {
		return location.Location{}, cli.UsageErrorf("--%s is required", flag)
	}
	l, err := location.Parse(s)
	if err != nil {
		return location.Location{}, cli.WithExit(cli.ExitUsage, fmt.Errorf("--%s: %w", flag, err))
	}
	return l, nil
}

func (o *copyHomeOptions) locationOptions(g *cli.Globals) location.Options {
	return cli.LocationOptions(o.loc, g)
}

// chownCapabilities are what writing a home owned by another UID takes: CAP_CHOWN to
// give entries away, CAP_FOWNER to set modes and times on them afterwards,
// CAP_DAC_OVERRIDE to create entries in directories the new UID owns.
const chownCapabilities = 1<<0 | 1<<1 | 1<<3

// canChown reports whether this process can re-own files: it is root or holds the
// capabilities above (read from /proc/self/status).
func canChown() bool {
	if os.Geteuid() == 0 {
		return true
	}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&chownCapabilities == chownCapabilities
		}
	}
	return false
}

// runCopyHome copies --from to --to; tests call it directly.
func runCopyHome(ctx context.Context, g *cli.Globals, opts *copyHomeOptions) (err error) {
	uid, err := cli.ParseID("uid", opts.uid, true)
	if err != nil {
		return err
	}
	if *uid == 0 {
		return cli.UsageErrorf("--uid 0: refusing to give a home directory to root; use the new profile's UID")
	}
	gid, err := cli.ParseID("gid", opts.gid, false)
	if err != nil {
		return err
	}
	from, err := opts.parseLocation("from", opts.from)
	if err != nil {
		return err
	}
	to, err := opts.parseLocation("to", opts.to)
	if err != nil {
		return err
	}
	if location.Overlap(from, to) {
		return cli.UsageErrorf("--from %s and --to %s overlap: one must not be inside the other", from, to)
	}
	toMounts, err := opts.parseToMounts(from, to)
	if err != nil {
		return err
	}
	// First, before the root check and before anything is opened or written: a
	// local home on a platform that cannot open one (macOS, Windows).
	if err := location.CheckPlatform(append([]location.Location{from, to}, toMounts...)...); err != nil {
		return err
	}
	if err := cli.CheckProgress(opts.progress); err != nil {
		return err
	}
	if err := cli.CheckFormat(opts.output, cli.FormatText, cli.FormatJSON); err != nil {
		return err
	}
	if opts.workers <= 0 {
		return cli.UsageErrorf("--workers %d: want at least 1", opts.workers)
	}
	// Said before anything is opened or created: without it every entry fails with
	// "operation not permitted" and an empty mode-0700 home is left behind.
	if !to.IsSFTP() && !canChown() {
		return fmt.Errorf("copy-home re-owns every entry to --uid %d, which needs root (or CAP_CHOWN, CAP_FOWNER and CAP_DAC_OVERRIDE): run it with sudo", *uid)
	}
	if err := opts.loc.Check(); err != nil {
		return cli.UsageErrorf("%w", err)
	}
	if opts.loc.Server == efs.SFTPServerStock && (from.IsSFTP() || to.IsSFTP()) {
		fmt.Fprintln(g.Stderr, "WARNING: "+efs.SFTPStockLimitation+".")
	}
	if opts.loc.InsecureIgnoreHostKey && (from.IsSFTP() || to.IsSFTP()) {
		fmt.Fprintln(g.Stderr, "WARNING: --insecure-ignore-host-key: the SFTP host key is NOT verified; anyone on the network path can impersonate the host and read or change the data.")
	}
	if opts.checksum && !opts.verify {
		g.Log.Warn("--checksum has no effect without --verify")
	}

	// With JSON on stdout, the human summary goes to stderr.
	jsonOut := opts.output == cli.FormatJSON || opts.report == "-"
	summary := g.Stdout
	if jsonOut {
		summary = g.Stderr
	}
	result := &Result{}
	defer func() {
		if !jsonOut && opts.report == "" {
			// Nobody reads the report: not encoded. encoding/json's first use
			// builds its encoders by reflection, ~5% of an empty copy's page faults.
			return
		}
		if err != nil {
			result.Error = err.Error()
		}
		b, jerr := cli.MarshalJSON(result)
		if jerr != nil {
			jerr = fmt.Errorf("encoding the report: %w", jerr)
		}
		if jerr == nil && jsonOut {
			_, jerr = g.Stdout.Write(b)
		}
		if jerr == nil && opts.report != "" && opts.report != "-" {
			if jerr = cli.WriteOutput(g.Stdout, opts.report, b); jerr != nil {
				jerr = fmt.Errorf("writing the report: %w", jerr)
			}
		}
		if jerr != nil && err == nil {
			err = jerr
		}
	}()

	// Checked before the destination home is created: a wrong --to-mount changes nothing.
	if err := checkToMountParents(ctx, g, to, toMounts); err != nil {
		return err
	}
	lopts := opts.locationOptions(g)
	src, err := location.Open(ctx, from, lopts)
	if err != nil {
		return fmt.Errorf("opening source %s: %w", from, err)
	}
	defer src.Close()
	inf, err := src.Lstat(ctx, ".")
	if err != nil {
		return fmt.Errorf("source %s: %w", from, err)
	}
	if !inf.Mode.IsDir() {
		return fmt.Errorf("source %s is not a directory", from)
	}
	gidFor := inf.GID
	if gid != nil {
		gidFor = *gid
	}
	dst, err := location.OpenDest(ctx, to, lopts, func(parent efs.FS, name string) error {
		return mergeHint(efs.PrepareDest(ctx, parent, name, *uid, gidFor, opts.merge))
	})
	if err != nil {
		return err
	}
	if len(toMounts) > 0 {
		if dst, err = withToMounts(ctx, g, from, dst, toMounts); err != nil {
			return err
		}
	}
	defer dst.Close()

	mode := cli.ResolveProgress(opts.progress, g.Stderr)
	prog := startCopyProgress(ctx, g, mode, src)
	rep, cerr := efs.Copy(ctx, src, dst, efs.CopyOptions{
		UID:       *uid,
		GID:       gid,
		Workers:   opts.workers,
		KeepSetID: opts.keepSetID,
		Delete:    opts.delete,
		Progress:  prog,
		Logger:    prog.log,
		ProgressInterval: func() time.Duration {
			if mode == cli.ProgressLog {
				return logInterval
			}
			return 200 * time.Millisecond
		}(),
	})
	prog.stop()
	if rep != nil {
		rep.Limitations = append(rep.Limitations, efs.SFTPLimitations(src, dst)...)
		result.Copy = &copyReport{CopyReport: rep, ElapsedSeconds: rep.Elapsed.Seconds()}
		printCopySummary(summary, from.String(), to.String(), rep)
	}
	if cerr != nil {
		return cerr
	}
	if !opts.verify {
		return nil
	}
	vrep, verr := efs.Verify(ctx, src, dst, efs.VerifyOptions{
		UID: *uid, GID: gid, KeepSetID: opts.keepSetID, Checksum: opts.checksum,
		Workers: opts.workers, MaxDifferences: 1000, Logger: g.Log,
	})
	if vrep != nil {
		result.Verify = &verifyReport{VerifyReport: vrep, ElapsedSeconds: vrep.Elapsed.Seconds()}
		printVerifySummary(summary, vrep)
	}
	return verr
}

// mergeHint makes PrepareDest's "destination in use" error name the flag, once:
// efs says "use merge" in its own words, the CLI user needs "--merge".
func mergeHint(err error) error {
	if !errors.Is(err, efs.ErrDestinationInUse) {
		return err
	}
	msg := strings.Replace(err.Error(), "(use merge to copy into it anyway)", "(pass --merge to copy into it anyway)", 1)
	if !strings.Contains(msg, "--merge") {
		msg += "; pass --merge to copy into it anyway"
	}
	return &messageError{msg: msg, err: err}
}

// messageError rewords an error and keeps its chain for errors.Is.
type messageError struct {
	msg string
	err error
}

func (e *messageError) Error() string { return e.msg }
func (e *messageError) Unwrap() error { return e.err }

// plural is "1 file", "2 files".
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// printCopySummary prints the one-line human summary, then one line per thing to
// look at. Files, dirs and symlinks are what the source holds; "wrote" counts the
// files and symlinks written by this run (so it may exceed the files), "hardlinks
// made" the names linked by this run (0 on a rerun that finds them in place).
func printCopySummary(w io.Writer, from, to string, r *efs.CopyReport) {
	fmt.Fprintf(w, "copy-home %s -> %s: %s, %s, %s, %s in %s; wrote %s (%s), %s made, %d already in place, %d metadata fixed, %d special skipped, %s\n",
		from, to, plural(r.Files, "file", "files"), plural(r.Dirs, "dir", "dirs"), plural(r.Symlinks, "symlink", "symlinks"),
		cli.MiB(r.Bytes), cli.Seconds(r.Elapsed),
		plural(r.Copied, "file or symlink", "files and symlinks"), cli.MiB(r.CopiedBytes),
		plural(r.Hardlinks, "hardlink", "hardlinks"), r.Unchanged, r.MetadataFixed, r.Specials,
		plural(r.Errors, "error", "errors"))
	if r.StrippedSetID > 0 {
		fmt.Fprintf(w, "  setuid/setgid stripped from %s\n", plural(r.StrippedSetID, "file", "files"))
	}
	if r.TempRemoved > 0 || r.Extra > 0 || r.Deleted > 0 {
		fmt.Fprintf(w, "  %d leftover temporary files removed; %d entries only in the destination (%d deleted)\n", r.TempRemoved, r.Extra, r.Deleted)
	}
	for _, l := range r.Limitations {
		fmt.Fprintf(w, "  limitation: %s\n", l)
	}
	for _, p := range r.StrippedSetIDPaths {
		fmt.Fprintf(w, "  setuid/setgid stripped: %q\n", p)
	}
	for _, p := range r.SpecialsPaths {
		fmt.Fprintf(w, "  special file skipped: %q\n", p)
	}
	for _, e := range r.ErrorList {
		fmt.Fprintf(w, "  error: %q: %s: %s\n", e.Path, e.Op, e.Err)
	}
}

func printVerifySummary(w io.Writer, r *efs.VerifyReport) {
	fmt.Fprintf(w, "verify: %s, %s, %s, %s in %s; %d checksummed, %d only in the destination, %s\n",
		plural(r.Files, "file", "files"), plural(r.Dirs, "dir", "dirs"), plural(r.Symlinks, "symlink", "symlinks"),
		cli.MiB(r.Bytes), cli.Seconds(r.Elapsed), r.Checksummed, r.Extra, plural(r.Differences, "difference", "differences"))
	for _, d := range r.List {
		fmt.Fprintf(w, "  difference: %q %s: want %q, got %q\n", d.Path, d.What, d.Want, d.Got)
	}
}

// copyProgress feeds a copy's progress to a bar or to log lines, with totals counted
// alongside the copy (efs.Count) so both can show percent and ETA.
type copyProgress struct {
	efs.Reporter
	// log is the logger to use while the bar is up: it clears the bar for each line.
	log  *slog.Logger
	stop func()
}

// countWait is how long a copy with a bar waits for the count before it starts: a
// home directory is counted in well under that, so its bar has totals from the
// start; a huge tree starts copying after it and gets its totals when the count ends.
const countWait = 2 * time.Second

// logInterval is how often a copy reporting in log lines writes one.
const logInterval = 5 * time.Second

// countDelay is how long a copy reporting in log lines runs before it counts the
// source: just before its first line, which no copy shorter than logInterval
// writes. A count beside a copy that ends sooner only competes with it: it lists
// and stats the whole source a second time (on the emulated EFS ~2,000 requests
// and ~10% of the mover's CPU for the bench's 1,000-file home, which copies in
// ~2.5 s; a tenth of the copy's CPU on tmpfs). A copy that runs longer gets its
// totals (percent, ETA) from the line after the count ends: the first line has
// them only when the count takes under a second. A var so that tests can count at
// once.
var countDelay = logInterval - time.Second

func startCopyProgress(ctx context.Context, g *cli.Globals, mode string, src efs.FS) *copyProgress {
	if mode == cli.ProgressNone {
		return &copyProgress{Reporter: efs.NopReporter, log: g.Log, stop: func() {}}
	}
	var (
		totals atomic.Pointer[efs.Totals]
		last   atomic.Pointer[efs.Progress]
		bar    *cli.BytesBar
		log    = g.Log
	)
	status := func(p efs.Progress) string {
		if t := totals.Load(); t != nil {
			return fmt.Sprintf("%d/%d files", p.Files, t.Files)
		}
		return fmt.Sprintf("%d files", p.Files)
	}
	if mode == cli.ProgressBar {
		bar = cli.NewBytesBar(g.Stderr, "copying")
		if l, err := logging.New(bar.LogWriter(), g.LogFormat, g.LogLevel); err == nil {
			log = l
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	counted := make(chan struct{})
	go func() {
		defer close(counted)
		if bar == nil && countDelay > 0 {
			t := time.NewTimer(countDelay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-cctx.Done():
				return // the copy ended first: no log line needed the totals
			}
		}
		t, err := efs.Count(cctx, src, 0)
		if err != nil {
			if cctx.Err() == nil {
				log.Debug("counting the source for progress", "error", err)
			}
			return
		}
		log.Debug("source counted for progress", "files", t.Files, "bytes", t.Bytes)
		totals.Store(&t)
		if bar != nil {
			var p efs.Progress
			if l := last.Load(); l != nil {
				p = *l
			}
			bar.SetTotal(t.Bytes)
			bar.Set(p.Bytes, status(p))
		}
	}()
	if bar != nil {
		// Only a bar waits: log lines have their first report seconds away, and
		// an unattended copy (a benchmark, a job) should not start later.
		select {
		case <-counted:
		case <-time.After(countWait):
		case <-ctx.Done():
		}
	}
	stop := func() {
		cancel()
		<-counted
		if bar != nil {
			bar.Finish()
		}
	}
	if bar != nil {
		return &copyProgress{Reporter: efs.ReporterFunc(func(p efs.Progress) {
			if p.Done {
				// Clear the bar before Copy logs its summary, or the log line lands
				// on the bar's line. Finish is idempotent.
				bar.Finish()
				return
			}
			last.Store(&p)
			bar.Set(p.Bytes, status(p))
		}), log: log, stop: stop}
	}
	return &copyProgress{Reporter: efs.ReporterFunc(func(p efs.Progress) {
		if p.Done {
			return // the summary line follows
		}
		attrs := []any{"files", p.Files, "bytes", p.Bytes, "copied_bytes", p.CopiedBytes,
			"unchanged", p.Unchanged, "errors", p.Errors, "files_per_sec", int64(p.FilesPerSec),
			"bytes_per_sec", int64(p.BytesPerSec), "elapsed_seconds", int64(p.Elapsed.Seconds())}
		if t := totals.Load(); t != nil && t.Bytes > 0 {
			pct := min(100*float64(p.Bytes)/float64(t.Bytes), 100)
			attrs = append(attrs, "total_files", t.Files, "total_bytes", t.Bytes, "percent", int(pct))
			if rate := float64(p.Bytes) / p.Elapsed.Seconds(); rate > 0 && p.Bytes < t.Bytes {
				attrs = append(attrs, "eta_seconds", int64(float64(t.Bytes-p.Bytes)/rate))
			}
		}
		g.Log.Info("copy progress", attrs...)
	}), log: log, stop: stop}
}

// parseToMounts checks --to-mount: local directories, only with a local --to, each
// the same home name as --to, none overlapping --from.
func (o *copyHomeOptions) parseToMounts(from, to location.Location) ([]location.Location, error) {
	if len(o.toMounts) == 0 {
		return nil, nil
	}
	if to.IsSFTP() {
		return nil, cli.UsageErrorf("--to-mount needs a local --to (a mounted EFS); --to is %s", to)
	}
	var ls []location.Location
	for _, m := range o.toMounts {
		l, err := o.parseLocation("to-mount", m)
		if err != nil {
			return nil, err
		}
		if l.IsSFTP() {
			return nil, cli.UsageErrorf("--to-mount %s: must be a local directory (another mount of the destination volume)", m)
		}
		if filepath.Base(l.Local) != filepath.Base(to.Local) {
			return nil, cli.UsageErrorf("--to-mount %s: must be the destination home %q seen through another mount (e.g. /mnt/new-efs-2/%s)", m, filepath.Base(to.Local), filepath.Base(to.Local))
		}
		// By path only: location.Overlap would look the home up through this mount
		// before it exists, and the mount's negative lookup cache (FUSE's timeout,
		// NFS's until the directory's attributes are refreshed) would then hide the
		// home once --to has created it. withToMounts checks Overlap once it exists.
		if pathsNest(from.Local, l.Local) || pathsNest(resolveParent(from.Local), resolveParent(l.Local)) {
			return nil, cli.UsageErrorf("--from %s and --to-mount %s overlap: one must not be inside the other", from, l)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// pathsNest reports whether a and b are the same path or one is below the other.
func pathsNest(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	a, b = filepath.Clean(a), filepath.Clean(b)
	in := func(x, y string) bool { return x == y || strings.HasPrefix(x, strings.TrimSuffix(y, "/")+"/") }
	return in(a, b) || in(b, a)
}

// resolveParent resolves symlinks in p's parent (which exists), not in p itself.
func resolveParent(p string) string {
	if r, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		return filepath.Join(r, filepath.Base(p))
	}
	return p
}

// openLocals opens each directory as an efs.Local; on error it closes what it opened.
func openLocals(dirs []string, what string) ([]*efs.Local, error) {
	var ls []*efs.Local
	for _, d := range dirs {
		l, err := efs.NewLocal(d)
		if err != nil {
			for _, o := range ls {
				o.Close()
			}
			return nil, fmt.Errorf("opening %s %s: %w", what, d, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// checkToMountParents checks that the parents of --to and of every --to-mount are
// the same directory of one volume, before the home is created in it.
func checkToMountParents(ctx context.Context, g *cli.Globals, to location.Location, mounts []location.Location) error {
	if len(mounts) == 0 {
		return nil
	}
	dirs := []string{filepath.Dir(to.Local)}
	for _, m := range mounts {
		dirs = append(dirs, filepath.Dir(m.Local))
	}
	ls, err := openLocals(dirs, "the parent of the destination")
	if err != nil {
		return err
	}
	mm, err := efs.NewMultiMount(ctx, ls, g.Log)
	if err != nil {
		for _, l := range ls {
			l.Close()
		}
		return cli.WithExit(cli.ExitUsage, fmt.Errorf("checking --to-mount: %w", err))
	}
	return mm.Close()
}

// withToMounts replaces dst (the Local of --to) by a MultiMount over it and the
// --to-mount homes; dst is closed either way on error.
func withToMounts(ctx context.Context, g *cli.Globals, from location.Location, dst efs.FS, mounts []location.Location) (efs.FS, error) {
	first, ok := dst.(*efs.Local)
	if !ok {
		dst.Close()
		return nil, fmt.Errorf("--to-mount needs a local destination, not %s", dst)
	}
	dirs := make([]string, len(mounts))
	for i, m := range mounts {
		dirs[i] = m.Local
	}
	ls, err := openLocals(dirs, "--to-mount")
	if err != nil {
		dst.Close()
		return nil, err
	}
	ls = append([]*efs.Local{first}, ls...)
	mm, err := efs.NewMultiMount(ctx, ls, g.Log)
	if err != nil {
		for _, l := range ls {
			l.Close()
		}
		return nil, cli.WithExit(cli.ExitUsage, fmt.Errorf("checking --to-mount: %w", err))
	}
	for _, m := range mounts {
		if location.Overlap(from, m) {
			mm.Close()
			return nil, cli.UsageErrorf("--from %s and --to-mount %s overlap: one must not be inside the other", from, m)
		}
	}
	g.Log.Info("destination spread over mounts", "mounts", mm.Mounts(), "fs", mm.String())
	return mm, nil
}
