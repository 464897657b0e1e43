package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/location"
)

// copyHomeOptions are the flags of `migrator copy-home`.
type copyHomeOptions struct {
	from, to  string
	uid, gid  string
	workers   int
	merge     bool
	delete    bool
	verify    bool
	checksum  bool
	keepSetID bool
	report    string
	progress  string
	loc       location.Options // SFTP flags, shared with every command that opens locations
}

// AddFlags registers copy-home's flags.
func (o *copyHomeOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.from, "from", "", "source home directory: DIR or sftp://[user@]host[:port]/path (required)")
	fs.StringVar(&o.to, "to", "", "destination home directory itself, e.g. /mnt/new-efs/200007 or sftp://...; its parent must exist, it is created owned by --uid when missing (required)")
	fs.StringVar(&o.uid, "uid", "", "new owner UID of every entry: the new profile's HomeEfsFileSystemUid (required, not 0)")
	fs.StringVar(&o.gid, "gid", "", "group of every entry (default: keep each source entry's group)")
	fs.IntVar(&o.workers, "workers", efs.DefaultWorkers, "entries copied at once (EFS pays milliseconds per operation: many in flight hide it)")
	fs.BoolVar(&o.merge, "merge", false, "copy into a destination that already has content owned by another UID")
	fs.BoolVar(&o.delete, "delete", false, "remove destination entries that are not in the source (default: leave them)")
	fs.BoolVar(&o.verify, "verify", false, "compare source and destination after the copy; exit non-zero on any difference")
	fs.BoolVar(&o.checksum, "checksum", false, "with --verify, also compare SHA-256 of every file")
	fs.BoolVar(&o.keepSetID, "keep-setid", false, "keep setuid/setgid bits on files (default: strip and report them)")
	fs.StringVar(&o.report, "report", "", "write the copy (and verify) report as JSON to this file")
	fs.StringVar(&o.progress, "progress", "auto", "auto (bar on a terminal, log lines otherwise), bar, log or none")
	o.loc.AddFlags(fs)
}

func newCopyHomeCommand(g *globalOptions) *cobra.Command {
	opts := &copyHomeOptions{}
	cmd := &cobra.Command{
		Use:   "copy-home --from SRC --to DST --uid NEW",
		Short: "Copy one home directory to its new place, re-owning every entry to the new UID",
		Long: `Copy one Studio home directory (e.g. /mnt/old-efs/200001) to its new place
(e.g. /mnt/new-efs/200007), making every file, directory and symlink owned by the new
UID in the same pass. Modes, mtimes, symlinks (as links, never followed), hardlinks and
empty directories are kept; sockets, FIFOs and devices are skipped and reported;
setuid/setgid bits are stripped unless --keep-setid.

Files are written under a temporary name and renamed into place, so an interrupted copy
never leaves a half-written file that looks complete. Running the same command again
moves only what differs (type, size, mtime, owner, mode) and removes leftovers.

Either side may be a local directory or sftp://[user@]host[:port]/path on a host that
mounts the EFS (as root, to be able to chown). Host keys are checked against
--known-hosts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCopyHome(cmd.Context(), g, opts)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// copyHomeResult is what --report writes.
type copyHomeResult struct {
	Copy   *efs.CopyReport   `json:"copy,omitempty"`
	Verify *efs.VerifyReport `json:"verify,omitempty"`
	Error  string            `json:"error,omitempty"`
}

func parseUID(flag, s string, required bool) (*uint32, error) {
	if s == "" {
		if required {
			return nil, fmt.Errorf("--%s is required", flag)
		}
		return nil, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("--%s %q: not a number", flag, s)
	}
	v := uint32(n)
	return &v, nil
}

func (o *copyHomeOptions) parseLocation(flag, s string) (location.Location, error) {
	if s == "" {
		return location.Location{}, fmt.Errorf("--%s is required", flag)
	}
	l, err := location.Parse(s)
	if err != nil {
		return location.Location{}, fmt.Errorf("--%s: %w", flag, err)
	}
	return l, nil
}

func (o *copyHomeOptions) locationOptions(g *globalOptions) location.Options {
	lo := o.loc
	lo.UseAgent = os.Getenv("SSH_AUTH_SOCK") != ""
	lo.Log = g.log
	return lo
}

// runCopyHome copies --from to --to; tests call it directly.
func runCopyHome(ctx context.Context, g *globalOptions, opts *copyHomeOptions) (err error) {
	uid, err := parseUID("uid", opts.uid, true)
	if err != nil {
		return err
	}
	if *uid == 0 {
		return errors.New("--uid 0: refusing to give a home directory to root; use the new profile's UID")
	}
	gid, err := parseUID("gid", opts.gid, false)
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
		return fmt.Errorf("--from %s and --to %s overlap: one must not be inside the other", from, to)
	}
	switch opts.progress {
	case "auto", "bar", "log", "none":
	default:
		return fmt.Errorf("--progress %q: want auto, bar, log or none", opts.progress)
	}
	if opts.workers <= 0 {
		return fmt.Errorf("--workers %d: want at least 1", opts.workers)
	}
	if err := opts.loc.Check(); err != nil {
		return err
	}
	if opts.loc.Server == efs.SFTPServerStock && (from.IsSFTP() || to.IsSFTP()) {
		fmt.Fprintln(g.stderr, "WARNING: "+efs.SFTPStockLimitation+".")
	}
	if opts.loc.InsecureIgnoreHostKey && (from.IsSFTP() || to.IsSFTP()) {
		fmt.Fprintln(g.stderr, "WARNING: --insecure-ignore-host-key: the SFTP host key is NOT verified; anyone on the network path can impersonate the host and read or change the data.")
	}
	if opts.checksum && !opts.verify {
		g.log.Warn("--checksum has no effect without --verify")
	}

	result := &copyHomeResult{}
	if opts.report != "" {
		defer func() {
			if err != nil {
				result.Error = err.Error()
			}
			if werr := writeJSON(opts.report, result); werr != nil && err == nil {
				err = werr
			}
		}()
	}

	lopts := opts.locationOptions(g)
	src, err := location.Open(ctx, from, lopts)
	if err != nil {
		return fmt.Errorf("opening source %s: %w", from, err)
	}
	defer src.Close()
	if inf, err := src.Lstat(ctx, "."); err != nil || !inf.Mode.IsDir() {
		return fmt.Errorf("source %s is not a directory: %v", from, err)
	}

	gidFor := uint32(0)
	if gid != nil {
		gidFor = *gid
	} else if inf, err := src.Lstat(ctx, "."); err == nil {
		gidFor = inf.GID
	}
	dst, err := location.OpenDest(ctx, to, lopts, func(parent efs.FS, name string) error {
		err := efs.PrepareDest(ctx, parent, name, *uid, gidFor, opts.merge)
		if errors.Is(err, efs.ErrDestinationInUse) {
			return fmt.Errorf("%w; pass --merge to copy into it anyway", err)
		}
		return err
	})
	if err != nil {
		return err
	}
	defer dst.Close()

	pr, stop := newProgress(g, opts.progress)
	rep, cerr := efs.Copy(ctx, src, dst, efs.CopyOptions{
		UID:       *uid,
		GID:       gid,
		Workers:   opts.workers,
		KeepSetID: opts.keepSetID,
		Delete:    opts.delete,
		Progress:  pr,
		Logger:    g.log,
		ProgressInterval: func() time.Duration {
			if opts.progress == "log" || opts.progress == "auto" && !isTerminal(g.stderr) {
				return 5 * time.Second
			}
			return 200 * time.Millisecond
		}(),
	})
	stop()
	result.Copy = rep
	if rep != nil {
		rep.Limitations = append(rep.Limitations, efs.SFTPLimitations(src, dst)...)
		fmt.Fprintf(g.stdout, "copy-home %s -> %s: files=%d dirs=%d symlinks=%d hardlinks=%d bytes=%d copied=%d copied-bytes=%d "+
			"skipped-unchanged=%d metadata-fixed=%d stripped-setid=%d skipped-special=%d temp-removed=%d extra=%d deleted=%d errors=%d elapsed=%s\n",
			from, to, rep.Files, rep.Dirs, rep.Symlinks, rep.Hardlinks, rep.Bytes, rep.Copied, rep.CopiedBytes,
			rep.Unchanged, rep.MetadataFixed, rep.StrippedSetID, rep.Specials, rep.TempRemoved, rep.Extra, rep.Deleted,
			rep.Errors, rep.Elapsed.Round(time.Millisecond))
		for _, l := range rep.Limitations {
			fmt.Fprintf(g.stdout, "  limitation: %s\n", l)
		}
		for _, p := range rep.StrippedSetIDPaths {
			fmt.Fprintf(g.stdout, "  setuid/setgid stripped: %q\n", p)
		}
		for _, p := range rep.SpecialsPaths {
			fmt.Fprintf(g.stdout, "  special file skipped: %q\n", p)
		}
		for _, e := range rep.ErrorList {
			fmt.Fprintf(g.stdout, "  error: %q: %s: %s\n", e.Path, e.Op, e.Err)
		}
	}
	if cerr != nil {
		return cerr
	}
	if !opts.verify {
		return nil
	}
	vrep, verr := efs.Verify(ctx, src, dst, efs.VerifyOptions{
		UID: *uid, GID: gid, KeepSetID: opts.keepSetID, Checksum: opts.checksum,
		Workers: opts.workers, MaxDifferences: 1000, Logger: g.log,
	})
	result.Verify = vrep
	if vrep != nil {
		fmt.Fprintf(g.stdout, "verify: files=%d dirs=%d symlinks=%d bytes=%d checksummed=%d extra=%d differences=%d elapsed=%s\n",
			vrep.Files, vrep.Dirs, vrep.Symlinks, vrep.Bytes, vrep.Checksummed, vrep.Extra, vrep.Differences,
			vrep.Elapsed.Round(time.Millisecond))
		for _, d := range vrep.List {
			fmt.Fprintf(g.stdout, "  difference: %q %s: want %q, got %q\n", d.Path, d.What, d.Want, d.Got)
		}
	}
	return verr
}

func writeJSON(file string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding report: %w", err)
	}
	if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress draws a bar on a terminal and logs plain lines otherwise. stop ends it.
func newProgress(g *globalOptions, mode string) (efs.Reporter, func()) {
	if mode == "auto" {
		mode = "log"
		if isTerminal(g.stderr) {
			mode = "bar"
		}
	}
	switch mode {
	case "bar":
		bar := progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(g.stderr),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("copying"),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		return efs.ReporterFunc(func(p efs.Progress) {
			if p.Done {
				// Clear the bar before Copy logs its summary, or the log line lands
				// on the bar's line. Finish is idempotent, so stop may call it again.
				_ = bar.Finish()
				return
			}
			bar.Describe(fmt.Sprintf("%d files (%d unchanged), %.0f files/s", p.Files, p.Unchanged, p.FilesPerSec))
			_ = bar.Set64(p.CopiedBytes)
		}), func() { _ = bar.Finish() }
	case "none":
		return efs.NopReporter, func() {}
	default:
		return efs.ReporterFunc(func(p efs.Progress) {
			if p.Done {
				return // the summary line follows
			}
			g.log.Info("copy progress", "entries", p.Entries, "files", p.Files, "bytes", p.Bytes,
				"copied_bytes", p.CopiedBytes, "unchanged", p.Unchanged, "errors", p.Errors,
				"files_per_sec", int64(p.FilesPerSec), "bytes_per_sec", int64(p.BytesPerSec))
		}), func() {}
	}
}
