package efs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// CopyOptions configure Copy.
type CopyOptions struct {
	// UID owns every entry written (required, > 0: the new profile's UID).
	UID uint32
	// GID, when set, is the group of every entry; nil keeps each source entry's group.
	GID *uint32
	// Workers is the number of entries copied at once (default DefaultWorkers). On
	// EFS each operation costs milliseconds, so throughput comes from many in flight.
	Workers int
	// PerDirectory caps the files copied at once in one directory (default
	// DefaultPerDirectory) for each lock the destination has on it: the kernel
	// serializes creations in a directory, so more would only wait on its lock
	// while other directories have work (see scheduler). A destination with several
	// mounts (MultiMount) has one lock per mount, so the cap is multiplied by the
	// mount count.
	PerDirectory int
	// KeepSetID keeps setuid/setgid bits on regular files. By default they are
	// stripped (and reported): a program that ran as the old owner must not become
	// one that runs as the new one unnoticed. Setgid on directories (group
	// inheritance, not a privilege) is always kept.
	KeepSetID bool
	// Delete removes destination entries that do not exist in the source. By default
	// they are left alone (and counted as Extra): a merge into a home that already
	// has content must not lose it. Temporary files of an earlier interrupted run are
	// always removed.
	Delete bool
	// Retries is how many times an entry that failed with ErrConnectionLost is tried
	// again (default 3).
	Retries int
	// MaxListed caps the paths kept in each list of the report (default 100); the
	// counts are always complete.
	MaxListed int
	// Progress receives snapshots every ProgressInterval (default 1s); nil discards.
	Progress         Reporter
	ProgressInterval time.Duration
	// Logger receives per-entry warnings and a summary; nil discards.
	Logger *slog.Logger
}

// DefaultWorkers is the copy concurrency when CopyOptions.Workers is 0. Measured
// with bench/run.sh on 2 cores: against the emulated EFS 128 is ~10% faster than 64
// (at 64 the pool is saturated: ~64 operations in flight all the time); on tmpfs and
// over SFTP (CPU-bound there) 64 and 128 are the same within noise.
const DefaultWorkers = 128

// DefaultPerDirectory is the cap on files in flight in one directory when
// CopyOptions.PerDirectory is 0. A new file takes its directory's lock once (its
// create, ~4 ms on the emulated EFS) out of about five round trips (create, data,
// chown, mtime, close), so about four in flight keep the lock busy; eight leaves a
// margin for uneven latencies without piling the pool onto one directory.
const DefaultPerDirectory = 8

// EntryError is one entry that could not be copied or verified. Path is the entry's
// name, cut in the middle when longer than 512 bytes (a path nested beyond PATH_MAX
// would otherwise fill the screen); Err names it at most once more, shortened too.
type EntryError struct {
	Path string `json:"path"`
	Op   string `json:"op"`
	Err  string `json:"error"`
}

// CopyReport says what a Copy did. Counts cover the whole source tree; the path lists
// are capped at CopyOptions.MaxListed.
type CopyReport struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	// Files, Dirs and Symlinks count source entries; Bytes is the size of all files.
	Files    int64 `json:"files"`
	Dirs     int64 `json:"dirs"`
	Symlinks int64 `json:"symlinks"`
	Bytes    int64 `json:"bytes"`
	// Hardlinks counts names made as hardlinks to a file copied under another name.
	Hardlinks int64 `json:"hardlinks"`
	// Copied counts files (and links) written; CopiedBytes the data written.
	Copied      int64 `json:"copied"`
	CopiedBytes int64 `json:"copiedBytes"`
	// Unchanged counts entries already identical in the destination (not written).
	Unchanged int64 `json:"unchanged"`
	// MetadataFixed counts entries whose data matched but whose owner or mode did
	// not: fixed with a setattr, no data copied.
	MetadataFixed int64 `json:"metadataFixed"`
	// StrippedSetID counts regular files whose setuid/setgid bits were dropped.
	StrippedSetID      int64    `json:"strippedSetID"`
	StrippedSetIDPaths []string `json:"strippedSetIDPaths,omitempty"`
	// Specials counts sockets, FIFOs and devices: skipped, never recreated.
	Specials      int64    `json:"specials"`
	SpecialsPaths []string `json:"specialsPaths,omitempty"`
	// TempRemoved counts leftovers of an interrupted run that were removed.
	TempRemoved int64 `json:"tempRemoved"`
	// Extra counts destination entries not in the source, left alone; Deleted those
	// removed because of CopyOptions.Delete.
	Extra   int64 `json:"extra"`
	Deleted int64 `json:"deleted"`
	// ChangedDuringCopy counts files that were still changing after being copied
	// changeAttempts (3) times in a row (a file being written while the copy runs).
	// Each was kept as read, stamped with the mtime it had when opened, so the next
	// run copies it again; each also counts in Errors (the copy exits "some entries
	// failed"), since the destination does not hold the file as it is.
	ChangedDuringCopy      int64    `json:"changedDuringCopy"`
	ChangedDuringCopyPaths []string `json:"changedDuringCopyPaths,omitempty"`
	// Limitations are things the destination cannot do, each said once (e.g. owning
	// a symlink over SFTP without lsetstat@openssh.com).
	Limitations []string `json:"limitations,omitempty"`
	// Errors counts entries that failed, the one whose fatal error stopped the copy
	// (destination full, read-only, gone) included; ErrorList holds the first of them.
	Errors    int64         `json:"errors"`
	ErrorList []EntryError  `json:"errorList,omitempty"`
	Elapsed   time.Duration `json:"elapsed"`
}

// ErrEntriesFailed is returned (wrapped) by Copy when some entries failed but the
// copy went on to the end; the report lists them.
var ErrEntriesFailed = errors.New("some entries failed")

// Copy copies the tree at src "." into dst "." (both already rooted at the home
// directories: /<oldUID> and /<newUID>, see PrepareDest), making every entry owned
// by opts.UID. It returns a report once the walk has started (also when it then
// fails; nil for bad options or an unreadable root); the error wraps
// ErrEntriesFailed when entries failed and the copy went on, or the fatal error
// that stopped it (context cancelled, destination unwritable, connection gone).
//
// Running it again over a finished or interrupted copy moves only what differs.
func Copy(ctx context.Context, src, dst FS, opts CopyOptions) (*CopyReport, error) {
	if err := checkOwner(opts.UID, opts.GID); err != nil {
		return nil, fmt.Errorf("copy: %w", err)
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.PerDirectory <= 0 {
		opts.PerDirectory = DefaultPerDirectory
	}
	if m, ok := dst.(lockLanes); ok && m.Mounts() > 1 {
		// Measured on the emulated EFS, flat directory through 4 mounts: with the
		// cap per directory only, each mount's lock had 2 files in flight and was
		// idle two thirds of the time (6.0 s against 11 s through one mount).
		opts.PerDirectory *= m.Mounts()
	}
	if opts.Retries <= 0 {
		opts.Retries = 3
	}
	if opts.MaxListed <= 0 {
		opts.MaxListed = 100
	}
	if opts.Progress == nil {
		opts.Progress = NopReporter
	}
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = DefaultProgressInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	sf, df := src.Features(), dst.Features()
	c := &copier{
		src: src, dst: dst, opts: opts, sf: sf, df: df,
		gran:  max(sf.TimeGranularity, df.TimeGranularity, time.Nanosecond),
		links: map[devIno]*linkGroup{},
		log:   opts.Logger.With("from", src.String(), "to", dst.String()),
		start: time.Now(),
		rep:   CopyReport{Source: src.String(), Destination: dst.String()},
	}
	c.hardlinks = sf.Inodes && df.Hardlinks
	c.sx, _ = src.(XattrFS)
	if c.sx != nil {
		c.sxl, _ = src.(dirXattrLister)
	}
	c.dx, _ = dst.(XattrFS)
	c.inPlace, _ = dst.(InPlaceCreator)
	rep, err := c.run(ctx)
	return rep, err
}

// lockLanes is a destination that spreads the entries of one directory over
// several mounts, each with its own lock on it (MultiMount).
type lockLanes interface{ Mounts() int }

type devIno struct{ dev, ino uint64 }

// linkGroup is a hardlinked source file: the first name seen is copied, the others
// become links to its destination. Names seen before the first one is in place wait
// in waiters (a worker never blocks on another, so the pool cannot deadlock).
type linkGroup struct {
	mu      sync.Mutex
	first   string
	done    bool
	ok      bool   // the first name is in place
	dstIno  uint64 // its destination inode, when the destination shows inodes
	written bool   // its data was (re)written in this run
	waiters []job
}

type copier struct {
	src, dst  FS
	opts      CopyOptions
	sf, df    Features
	gran      time.Duration
	hardlinks bool
	sx, dx    XattrFS        // nil where the backend has no extended attributes
	sxl       dirXattrLister // the source's, when it has one and sx is set
	inPlace   InPlaceCreator // nil where new files go through temp+rename
	xp        xattrPolicy
	log       *slog.Logger
	start     time.Time

	sched  *scheduler
	cancel context.CancelCauseFunc

	linksMu sync.Mutex
	links   map[devIno]*linkGroup

	repMu sync.Mutex // guards the lists in rep and limits
	rep   CopyReport
	limit map[string]bool

	entries, files, dirs, symlinks, bytes, hardlinkN, copied, copiedBytes,
	unchanged, metaFixed, stripped, specials, tempRemoved, extra, deleted,
	changedN, errs atomic.Int64
}

// dirNode is a directory in progress. It lives until every child is done, then its
// attributes are applied (after the children, whose creation changes its mtime, and
// after its own permission bits might forbid writing into it) and it is released
// from its parent. Only directories still in progress are in memory.
type dirNode struct {
	name    string
	parent  *dirNode
	src     Info
	dst     *Info // the destination's entry before this run; nil when created now
	pending atomic.Int64
	changed atomic.Bool // something inside was written or removed
	// permSet: made in this run with its final permission bits (dirCreatePerm), so
	// finishDir sets only its owner and mtime.
	permSet bool
	// srcX are the source directory's extended attributes, read with its listing
	// when srcXRead (see dirXattrLister); otherwise finishDir reads them.
	srcX     map[string][]byte
	srcXRead bool

	mu      sync.Mutex
	orphans []string // temporary files whose removal failed; tried again at the end

	q       dirQueue // its files waiting for a worker (guarded by the scheduler)
	walkSeq uint64   // when its walk was queued (guarded by the scheduler)
}

type job struct {
	dir  *dirNode
	name string
	src  Info
	dst  *Info
}

func (c *copier) run(ctx context.Context) (*CopyReport, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c.cancel = cancel

	rootSrc, err := c.src.Lstat(ctx, ".")
	if err != nil {
		return nil, fmt.Errorf("copy: reading source root %s: %w", c.src, err)
	}
	if !rootSrc.Mode.IsDir() {
		return nil, fmt.Errorf("copy: source root %s is not a directory (%v)", c.src, rootSrc.Mode.Type())
	}
	rootDst, err := c.dst.Lstat(ctx, ".")
	if err != nil {
		return nil, fmt.Errorf("copy: reading destination root %s (create it first, see PrepareDest): %w", c.dst, err)
	}
	if !rootDst.Mode.IsDir() {
		return nil, fmt.Errorf("copy: destination root %s is not a directory (%v)", c.dst, rootDst.Mode.Type())
	}
	c.xp = xattrPolicy{keepSetID: c.opts.KeepSetID, oldUID: rootSrc.UID, newUID: c.opts.UID}
	c.log.Info("copy starting", "uid", c.opts.UID, "workers", c.opts.Workers,
		"hardlinks", c.hardlinks, "time_granularity", c.gran)

	walkers := max(2, c.opts.Workers/4)
	c.sched = newScheduler(c.opts.Workers, walkers, c.opts.PerDirectory)
	progDone, progExited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(progExited)
		c.pushProgress(progDone)
	}()

	// Workers and walkers start as work appears (see scheduler), not all at once:
	// an empty or small tree needs a few, and each costs a stack.
	var wg sync.WaitGroup
	c.sched.startGoroutines(func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.work(ctx)
		}()
	}, func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.walk(ctx)
		}()
	})
	root := &dirNode{name: ".", src: rootSrc, dst: &rootDst}
	root.pending.Store(1)
	c.sched.addWalks(root) // starts the first walker
	wg.Wait()
	close(progDone)
	<-progExited // Update is never called concurrently

	rep := c.report()
	c.opts.Progress.Update(c.progress(true))
	if ctx.Err() != nil {
		// The cause is the parent's (cancelled, deadline) or the fatal entry error.
		return rep, fmt.Errorf("copy %s -> %s stopped: %w", c.src, c.dst, context.Cause(ctx))
	}
	c.log.Info("copy done", "files", rep.Files, "dirs", rep.Dirs, "symlinks", rep.Symlinks,
		"bytes", rep.Bytes, "copied", rep.Copied, "unchanged", rep.Unchanged, "errors", rep.Errors,
		"elapsed", rep.Elapsed)
	if rep.Errors > 0 {
		return rep, fmt.Errorf("copy %s -> %s: %d entries: %w", c.src, c.dst, rep.Errors, ErrEntriesFailed)
	}
	return rep, nil
}

// walk lists the directories the scheduler hands out until the copy has no work left.
func (c *copier) walk(ctx context.Context) {
	for {
		n, ok := c.sched.nextWalk()
		if !ok {
			return
		}
		c.walkDir(ctx, n)
		c.sched.walkDone()
	}
}

// work copies the files and symlinks the scheduler hands out until the copy has no
// work left.
func (c *copier) work(ctx context.Context) {
	for {
		j, ok := c.sched.nextFile()
		if !ok {
			return
		}
		dir := j.dir
		c.doJob(ctx, j)
		c.sched.fileDone(dir)
	}
}

func (c *copier) report() *CopyReport {
	c.repMu.Lock()
	defer c.repMu.Unlock()
	r := c.rep
	r.Files, r.Dirs, r.Symlinks, r.Bytes = c.files.Load(), c.dirs.Load(), c.symlinks.Load(), c.bytes.Load()
	r.Hardlinks, r.Copied, r.CopiedBytes = c.hardlinkN.Load(), c.copied.Load(), c.copiedBytes.Load()
	r.Unchanged, r.MetadataFixed, r.StrippedSetID = c.unchanged.Load(), c.metaFixed.Load(), c.stripped.Load()
	r.Specials, r.TempRemoved, r.Extra, r.Deleted = c.specials.Load(), c.tempRemoved.Load(), c.extra.Load(), c.deleted.Load()
	r.ChangedDuringCopy, r.Errors = c.changedN.Load(), c.errs.Load()
	r.Elapsed = time.Since(c.start)
	return &r
}

func (c *copier) progress(done bool) Progress {
	return withRates(Progress{
		Entries: c.entries.Load(), Files: c.files.Load(), Bytes: c.bytes.Load(),
		CopiedBytes: c.copiedBytes.Load(), Unchanged: c.unchanged.Load(), Errors: c.errs.Load(),
		Elapsed: time.Since(c.start), Done: done,
	})
}

func (c *copier) pushProgress(done <-chan struct{}) {
	t := time.NewTicker(c.opts.ProgressInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			c.opts.Progress.Update(c.progress(false))
		}
	}
}

// destError marks an error of a write to the destination.
type destError struct{ error }

func (e destError) Unwrap() error { return e.error }

func dstErr(err error) error {
	if err == nil {
		return nil
	}
	return destError{err}
}

// fatal reports whether err makes going on pointless: nothing more can be written
// (read-only, full, connection gone, or the destination refuses this process, e.g.
// a chown by a user who is not root), so every other entry would fail the same way.
func fatal(ctx context.Context, err error) bool {
	var de destError
	return ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		errors.Is(err, ErrConnectionLost) || errors.Is(err, fs.ErrClosed) ||
		errors.As(err, &de) && errors.Is(err, fs.ErrPermission)
}

// fail records a failed entry, or stops the copy when the error is fatal.
func (c *copier) fail(ctx context.Context, name, op string, err error) {
	shown := shortName(name)
	if fatal(ctx, err) {
		if ctx.Err() != nil {
			return // stopped already (from outside, or by an earlier fatal error)
		}
		// The error that stops the copy (destination full, read-only, gone) is the
		// entry's error too: counted and listed, so the summary does not say errors=0.
		c.cancel(fmt.Errorf("%s %q: %w", op, shown, err))
		c.recordErr(shown, op, err)
		c.log.Error("copy stopping", "path", shown, "op", op, "err", errText(shown, err))
		return
	}
	c.recordErr(shown, op, err)
	c.log.Warn("copy failed for an entry", "path", shown, "op", op, "err", errText(shown, err))
}

// recordErr counts a failed entry and lists it (up to MaxListed). Only the first
// fatal error is recorded: the cancel above makes every later one see ctx.Err().
func (c *copier) recordErr(shown, op string, err error) {
	c.errs.Add(1)
	c.repMu.Lock()
	if len(c.rep.ErrorList) < c.opts.MaxListed {
		c.rep.ErrorList = append(c.rep.ErrorList, EntryError{Path: shown, Op: op, Err: errText(shown, err)})
	}
	c.repMu.Unlock()
}

// errText is err's text for an entry's error line, which names the entry already:
// a huge name (already cut by shortName) is not said a second time.
func errText(shown string, err error) string {
	msg := err.Error()
	if !strings.Contains(shown, "...[") {
		return msg // not cut: said whole, as for any other name
	}
	return strings.ReplaceAll(msg, strconv.Quote(shown), "(this path)")
}

func (c *copier) listPath(list *[]string, name string) {
	c.repMu.Lock()
	if len(*list) < c.opts.MaxListed {
		*list = append(*list, name)
	}
	c.repMu.Unlock()
}

// limitation records something the destination cannot do, once.
func (c *copier) limitation(what string) {
	c.repMu.Lock()
	defer c.repMu.Unlock()
	if c.limit == nil {
		c.limit = map[string]bool{}
	}
	if !c.limit[what] {
		c.limit[what] = true
		c.rep.Limitations = append(c.rep.Limitations, what)
		c.log.Warn("destination limitation", "what", what)
	}
}

// retry runs op again after ErrConnectionLost (the backend reconnects on the next
// call), with a short backoff.
func (c *copier) retry(ctx context.Context, op func() error) error {
	var err error
	for attempt := 0; ; attempt++ {
		err = op()
		if err == nil || !errors.Is(err, ErrConnectionLost) || attempt >= c.opts.Retries || ctx.Err() != nil {
			return err
		}
		c.log.Debug("retrying after a lost connection", "attempt", attempt+1, "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(200<<attempt) * time.Millisecond):
		}
	}
}

func join(dir, base string) string {
	if dir == "." {
		return base
	}
	return dir + "/" + base
}

// permBits are the bits Attr.Perm carries.
func permBits(m fs.FileMode) fs.FileMode {
	return m & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}

func (c *copier) gid(src Info) uint32 {
	if c.opts.GID != nil {
		return *c.opts.GID
	}
	return src.GID
}

// want is the attr the destination entry must have.
func (c *copier) want(name string, src Info, count bool) Attr {
	perm := permBits(src.Mode)
	if src.Mode.IsRegular() && !c.opts.KeepSetID && perm&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
		perm &^= fs.ModeSetuid | fs.ModeSetgid
		if count {
			c.stripped.Add(1)
			c.listPath(&c.rep.StrippedSetIDPaths, name)
		}
	}
	return Attr{UID: c.opts.UID, GID: c.gid(src), Perm: perm, ModTime: src.ModTime}
}

func (c *copier) sameTime(a, b time.Time) bool {
	return a.Truncate(c.gran).Equal(b.Truncate(c.gran))
}

// walkDir lists a directory in source and destination (at once: on EFS each
// listing is a round trip or more, and a rerun is mostly listings), makes missing
// subdirectories, removes leftovers, and hands its subdirectories and its files to
// the scheduler. It releases its own hold on n when done.
//
// The missing subdirectories are made first and back to back: the kernel
// serializes creations in one directory anyway, so a wide level such as
// .git/objects is the longest chain of a copy on EFS, and nothing should wait in
// it. On a rerun, a regular file whose destination already matches (type, size,
// mtime, owner, mode, a single link) is counted here, without a trip through the
// scheduler.
func (c *copier) walkDir(ctx context.Context, n *dirNode) {
	defer c.release(ctx, n)
	if ctx.Err() != nil {
		return
	}
	var (
		dstList []Info
		listErr error
		dstDone chan struct{}
	)
	if n.dst != nil {
		dstDone = make(chan struct{})
		go func() {
			defer close(dstDone)
			listErr = c.retry(ctx, func() (err error) {
				dstList, err = c.dst.ReadDir(ctx, n.name)
				return err
			})
		}()
	}
	var entries []Info
	err := c.retry(ctx, func() (err error) {
		if c.sxl != nil && n.dst == nil {
			// A new directory is always finished with its attributes: read the
			// source's with the listing, on the descriptor it lists.
			entries, n.srcX, err = c.sxl.readDirXattrs(ctx, n.name)
			n.srcXRead = err == nil
			return err
		}
		entries, err = c.src.ReadDir(ctx, n.name)
		return err
	})
	if dstDone != nil {
		<-dstDone
	}
	if err != nil {
		c.fail(ctx, n.name, "reading source directory", err)
		return
	}
	// By name, pointing into dstList: a map of pointers is a quarter of the size
	// of one of Infos, and a claimed entry needs no copy of its own (on a rerun,
	// which is mostly listings, both were most of the walk's allocations).
	var dstEntries map[string]*Info
	if n.dst != nil {
		if listErr != nil {
			c.fail(ctx, n.name, "reading destination directory", listErr)
			return
		}
		dstEntries = make(map[string]*Info, len(dstList))
		for i := range dstList {
			dstEntries[dstList[i].Name] = &dstList[i]
		}
	}
	// Subdirectories first, each walk queued as soon as its directory exists.
	type subdir struct {
		e    Info
		name string
		dst  *Info
	}
	var subdirs []subdir
	for _, e := range entries {
		if !e.Mode.IsDir() {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		name := join(n.name, e.Name)
		subdirs = append(subdirs, subdir{e: e, name: name, dst: claim(dstEntries, e.Name)})
		c.entries.Add(1)
		c.dirs.Add(1)
	}
	// Widest first here too (the walks' order, see scheduler): the kernel makes
	// them one at a time, and a directory with many subdirectories (.git, whose
	// objects/ is the longest chain of a home) should not wait for its siblings'
	// mkdirs before its own walk can start.
	slices.SortStableFunc(subdirs, func(a, b subdir) int { return cmp.Compare(b.e.Nlink, a.e.Nlink) })
	c.makeSubdirs(ctx, n, len(subdirs), func(i int) *dirNode {
		sd := subdirs[i]
		dst := sd.dst
		if dst != nil && !dst.Mode.IsDir() {
			if !c.removeAll(ctx, n, sd.name, *dst) {
				return nil
			}
			dst = nil
		}
		permSet := false
		if dst == nil {
			perm, exact := dirCreatePerm(permBits(sd.e.Mode))
			if err := c.retry(ctx, func() error { return dstErr(c.dst.Mkdir(ctx, sd.name, perm)) }); err != nil {
				c.fail(ctx, sd.name, "making directory", err)
				return nil
			}
			n.changed.Store(true)
			permSet = exact
		}
		return &dirNode{name: sd.name, parent: n, src: sd.e, dst: dst, permSet: permSet}
	})
	var jobs []job
	for _, e := range entries {
		if e.Mode.IsDir() {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		name := join(n.name, e.Name)
		dst := claim(dstEntries, e.Name)
		c.entries.Add(1)
		switch e.Mode.Type() {
		case 0:
			if dst != nil && c.unchangedFile(name, e, *dst) {
				continue
			}
			jobs = append(jobs, job{dir: n, name: name, src: e, dst: dst})
		case fs.ModeSymlink:
			jobs = append(jobs, job{dir: n, name: name, src: e, dst: dst})
		default:
			c.specials.Add(1)
			c.listPath(&c.rep.SpecialsPaths, name)
			c.log.Info("skipping special file", "path", name, "type", e.Mode.Type().String())
			if dst != nil {
				c.leftover(ctx, n, name, *dst)
			}
		}
	}
	n.pending.Add(int64(len(jobs)))
	c.sched.addFiles(n, jobs)
	if ctx.Err() != nil {
		return
	}
	for _, d := range dstEntries {
		c.leftover(ctx, n, join(n.name, d.Name), *d)
	}
}

// makeSubdirs runs mk(0..count-1), at most PerDirectory at once, and queues the
// walk of each directory it returns as soon as it returns it (nil: failed, or the
// copy is stopping; no walk).
//
// Why at once and not one after another: the kernel serializes the mkdirs of one
// directory on its lock anyway, but a caller that waits for each before issuing the
// next adds its own wake-up and the next mkdir's request to every link of that
// chain; with a few in flight, the next one is already queued on the lock when the
// current one releases it. A wide level such as .git/objects (256 mkdirs, the
// longest chain of a home on EFS) runs at the lock's pace. And why each walk at
// once: a subdirectory's own chain (and what lies below it) should not wait for
// its siblings' mkdirs, so the deepest chains start as early as the tree allows.
func (c *copier) makeSubdirs(ctx context.Context, n *dirNode, count int, mk func(i int) *dirNode) {
	parallelFor(count, c.opts.PerDirectory, func(i int) error {
		if ctx.Err() != nil {
			return nil
		}
		child := mk(i)
		if child == nil {
			return nil
		}
		child.pending.Store(1)
		n.pending.Add(1) // released by the child's walk; n holds its own hold meanwhile
		c.sched.addWalks(child)
		return nil
	})
}

// dirCreatePerm is the mode a missing directory is made with, and whether it is
// already the final one (want, the source's bits), so that finishDir need not
// chmod it: one round trip fewer per directory (each a write-class request on
// EFS; 693 on the bench's home tree).
//
// While its content is written a directory must let this process write into it
// and must not let anyone do more with it than the final one will: until
// finishDir it is owned by this process (root) and its group, not the new owner
// and the source's group. So the final mode is used only when it gives the owner
// rwx and has no setuid, setgid or sticky bit (setgid would make its new entries
// inherit the group of this process; sticky changes who may remove them), and
// then with the group and the other bits both reduced to what both have in common
// (as createMode does for files): nobody but the owner gains anything from the
// interim owner. Anything else is made 0700, as before, and chmod-ed at the end.
func dirCreatePerm(want fs.FileMode) (perm fs.FileMode, exact bool) {
	if want&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 || want&0o700 != 0o700 {
		return 0o700, false
	}
	common := want >> 3 & want & 0o7
	perm = 0o700 | common<<3 | common
	return perm, perm == want
}

// unchangedFile counts a regular source file whose destination already matches in
// every way copyRegular checks first (data by size and mtime, owner, mode), and
// reports whether it did. A hardlinked file is left to copyLinked, which must
// learn the group's destination inode.
func (c *copier) unchangedFile(name string, src, d Info) bool {
	if c.hardlinks && src.Nlink > 1 || !d.Mode.IsRegular() || d.Nlink > 1 ||
		d.Size != src.Size || !c.sameTime(d.ModTime, src.ModTime) {
		return false
	}
	if !c.attrMatch(d, c.want(name, src, false), false) {
		return false // copyRegular fixes it
	}
	c.want(name, src, true) // counts a stripped setuid/setgid, as copyRegular would
	c.files.Add(1)
	c.bytes.Add(src.Size)
	c.unchanged.Add(1)
	return true
}

// leftover handles a destination entry with no source counterpart.
func (c *copier) leftover(ctx context.Context, n *dirNode, name string, d Info) {
	switch {
	case isTempName(d.Name) && !d.Mode.IsDir():
		if err := c.retry(ctx, func() error { return c.dst.Remove(ctx, name) }); err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.fail(ctx, name, "removing a temporary file of an earlier run", err)
			return
		}
		c.tempRemoved.Add(1)
		n.changed.Store(true)
	case c.opts.Delete:
		if c.removeAll(ctx, n, name, d) {
			c.deleted.Add(1)
		}
	default:
		c.extra.Add(1)
	}
}

// removeAll removes a destination entry, a directory with everything in it. Only
// used for entries that are in the way of the source tree or not in it (Delete).
func (c *copier) removeAll(ctx context.Context, n *dirNode, name string, d Info) bool {
	if err := removeAll(ctx, c.dst, name, d); err != nil {
		c.fail(ctx, name, "removing destination entry", err)
		return false
	}
	n.changed.Store(true)
	return true
}

func removeAll(ctx context.Context, f FS, name string, d Info) error {
	if d.Mode.IsDir() {
		list, err := f.ReadDir(ctx, name)
		if err != nil {
			return err
		}
		for _, e := range list {
			if err := removeAll(ctx, f, join(name, e.Name), e); err != nil {
				return err
			}
		}
	}
	err := f.Remove(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// release drops one hold on n; the last one applies n's attributes and releases its
// parent in turn.
func (c *copier) release(ctx context.Context, n *dirNode) {
	for n != nil && n.pending.Add(-1) == 0 {
		c.finishDir(ctx, n)
		n = n.parent
	}
}

// finishDir applies a directory's owner, mode and mtime once its children are done.
// When the copy was cancelled it does nothing: a rerun compares the directory again.
func (c *copier) finishDir(ctx context.Context, n *dirNode) {
	if ctx.Err() != nil {
		return
	}
	for _, tmp := range n.orphans { // no lock: every child is done
		err := c.retry(ctx, func() error { return c.dst.Remove(ctx, tmp) })
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.fail(ctx, tmp, "removing a temporary file", dstErr(err))
		}
	}
	want := c.want(n.name, n.src, false)
	if !n.changed.Load() && n.dst != nil && c.attrMatch(*n.dst, want, true) {
		if n.name != "." {
			c.unchanged.Add(1)
		}
		return
	}
	// Extended attributes and ACLs before the mode (which sets an ACL's mask).
	ok, wroteX := c.copyDirXattrs(ctx, n)
	if !ok {
		return
	}
	mask := SetAll
	if n.permSet && !wroteX {
		mask = SetOwner | SetTimes // one round trip fewer per directory on EFS
	}
	if err := c.retry(ctx, func() error { return dstErr(c.dst.Setattr(ctx, n.name, want, mask)) }); err != nil {
		c.fail(ctx, n.name, "setting directory attributes", err)
	}
}

// attrMatch compares owner, permission bits and (with times) mtime.
func (c *copier) attrMatch(d Info, want Attr, times bool) bool {
	return d.UID == want.UID && d.GID == want.GID && permBits(d.Mode) == want.Perm &&
		(!times || c.sameTime(d.ModTime, want.ModTime))
}

func (c *copier) doJob(ctx context.Context, j job) {
	defer c.release(ctx, j.dir)
	if ctx.Err() != nil {
		return
	}
	if j.src.Mode.Type() == fs.ModeSymlink {
		c.symlinks.Add(1)
		c.copySymlink(ctx, j)
		return
	}
	c.files.Add(1)
	c.bytes.Add(j.src.Size)
	if c.hardlinks && j.src.Nlink > 1 {
		c.copyLinked(ctx, j)
		return
	}
	c.copyRegular(ctx, j)
}

// copyRegular copies a regular file unless the destination already matches, and
// reports whether the destination now holds it and whether data was written.
func (c *copier) copyRegular(ctx context.Context, j job) (ok, written bool) {
	want := c.want(j.name, j.src, true)
	// A fix in place is only for an inode no other name shares: a hardlink planted
	// in the destination may point outside it, and a chown or chmod would reach the
	// file there too. Such a name is rewritten instead, which breaks the link; so is
	// a linked name whose source is no longer linked (a group broken since).
	linked := c.hardlinks && j.src.Nlink > 1
	if d := j.dst; d != nil && d.Mode.IsRegular() && d.Size == j.src.Size && c.sameTime(d.ModTime, j.src.ModTime) &&
		(d.Nlink <= 1 || linked && c.attrMatch(*d, want, false)) {
		if c.attrMatch(*d, want, false) {
			c.unchanged.Add(1)
			return true, false
		}
		err := c.retry(ctx, func() error { return dstErr(c.dst.Setattr(ctx, j.name, want, SetOwner|SetPerm)) })
		if err != nil {
			c.fail(ctx, j.name, "fixing owner and mode", err)
			return false, false
		}
		c.metaFixed.Add(1)
		return true, false
	}
	if d := j.dst; d != nil && d.Mode.IsDir() {
		if !c.removeAll(ctx, j.dir, j.name, *d) {
			return false, false
		}
	}
	var n int64
	src := j.src
	// A name the destination does not have is written in place where it can be.
	inPlace := c.inPlace != nil && j.dst == nil
	for attempt := 1; ; attempt++ {
		last := attempt >= changeAttempts
		var ch *changedError
		err := c.retry(ctx, func() (err error) {
			var tried bool
			n, ch, tried, err = c.writeFile(ctx, j.dir, j.name, src, want, last, inPlace)
			if tried {
				// What the attempt left at the final name (if its removal failed)
				// is rewritten by the next one with temp+rename.
				inPlace = false
			}
			return err
		})
		if err != nil {
			c.fail(ctx, j.name, "copying file", err)
			return false, false
		}
		if ch == nil {
			break
		}
		if last {
			// Kept, as it was read, with the mtime it had when opened: older than
			// the file's own now, so a rerun copies it again. Counted as failed.
			j.dir.changed.Store(true)
			c.copied.Add(1)
			c.copiedBytes.Add(n)
			c.changedN.Add(1)
			c.listPath(&c.rep.ChangedDuringCopyPaths, shortName(j.name))
			c.fail(ctx, j.name, "copying file", ch)
			return true, true
		}
		c.log.Debug("file changed while it was copied, copying it again", "path", shortName(j.name), "attempt", attempt, "change", ch.what)
		// Again, as the file is now.
		inf, err := c.src.Lstat(ctx, j.name)
		if err != nil {
			c.fail(ctx, j.name, "reading a file that changed during its copy", err)
			return false, false
		}
		if !inf.Mode.IsRegular() {
			c.fail(ctx, j.name, "copying file", fmt.Errorf("changed during its copy into a %s: %w", typeName(inf.Mode), ch))
			return false, false
		}
		src = inf
		want = c.want(j.name, src, false)
	}
	j.dir.changed.Store(true)
	c.copied.Add(1)
	c.copiedBytes.Add(n)
	return true, true
}

// changeAttempts bounds how many times a file that keeps changing while it is
// copied (a log being written, a dataset being rewritten) is copied.
const changeAttempts = 3

// changedError says that a file changed while it was copied.
type changedError struct{ what string }

func (e *changedError) Error() string {
	return fmt.Sprintf("changed while it was copied (%s), %d times in a row: kept as read, with its mtime from before the change, so the next run copies it again", e.what, changeAttempts)
}

// copyTestHook, set only by tests, runs after a file's data is copied and before
// the copier checks whether it changed meanwhile.
var copyTestHook func(point, name string)

// writeTestHook, set only by tests, runs before a file is created in the
// destination ("create") and after its data is copied ("copied"), so a test can
// kill the process or plant an entry at those points.
var writeTestHook func(point, name string)

// changed compares a file's state before and after its copy (and the count of
// bytes copied); it returns what differs, or "".
func (c *copier) changed(before, after FileState, n int64) string {
	switch {
	case after.Size != before.Size:
		return fmt.Sprintf("size %d -> %d", before.Size, after.Size)
	case n != before.Size:
		return fmt.Sprintf("%d of %d bytes read", n, before.Size)
	case !c.sameTime(after.ModTime, before.ModTime):
		return "mtime " + before.ModTime.Format(time.RFC3339Nano) + " -> " + after.ModTime.Format(time.RFC3339Nano)
	case !after.ChangeTime.Equal(before.ChangeTime):
		return "ctime " + before.ChangeTime.Format(time.RFC3339Nano) + " -> " + after.ChangeTime.Format(time.RFC3339Nano)
	}
	return ""
}

// writeFile copies name's data to the destination with attributes applied at
// Close: at its final name when inPlace (a new file on an InPlaceCreator, see
// there), otherwise to a temporary name beside it, renamed into place. A failed
// write removes what it made. It reports whether it wrote at the final name, so
// that the caller's next attempt (which may find that file, should its removal
// have failed) goes through temp+rename.
//
// It also tells whether the file changed while it was copied: the state at open
// against the state after the copy (fstat on both ends, ctime included, where the
// reader is a StatReader; otherwise the listing against an lstat after the copy).
// A change returns ch and, unless keep, no file (the caller copies it again). The
// mtime written is the one the file had when opened, so the data and the stamp
// describe the same file even when it changed between the listing and the open.
func (c *copier) writeFile(ctx context.Context, n *dirNode, name string, listed Info, attr Attr, keep, inPlace bool) (int64, *changedError, bool, error) {
	r, err := c.src.Open(ctx, name)
	if err != nil {
		return 0, nil, false, fmt.Errorf("opening source: %w", err)
	}
	defer r.Close()
	before := FileState{Size: listed.Size, ModTime: listed.ModTime}
	sr, _ := r.(StatReader)
	if sr != nil {
		before = sr.Opened()
		attr.ModTime = before.ModTime
	}
	var xs map[string][]byte
	if xr, ok := r.(XattrReader); ok {
		x, err := xr.Xattrs()
		if err != nil {
			return 0, nil, false, err
		}
		xs = c.xattrsFor(x)
	}
	if writeTestHook != nil {
		writeTestHook("create", name)
	}
	var w io.WriteCloser
	if inPlace {
		w, err = c.inPlace.CreateInPlace(ctx, name, attr)
		switch {
		case err == nil:
		case errors.Is(err, fs.ErrExist):
			// Made since the listing, or a symlink planted there: not followed, and
			// replaced by temp+rename like any existing file.
			inPlace = false
		default:
			if errors.Is(err, ErrConnectionLost) {
				c.removeInPlace(name)
			}
			return 0, nil, true, fmt.Errorf("creating file: %w", dstErr(err))
		}
	}
	tmp := name
	if !inPlace {
		tmp = tempName(name)
		w, err = c.dst.Create(ctx, tmp, attr)
		if err != nil {
			if errors.Is(err, ErrConnectionLost) {
				// The server may have made the file before the answer was lost.
				c.removeTemp(n, tmp)
			}
			return 0, nil, false, fmt.Errorf("creating temporary file: %w", dstErr(err))
		}
	}
	discard := func() {
		w.Close()
		if inPlace {
			c.removeInPlace(name)
		} else {
			c.removeTemp(n, tmp)
		}
	}
	xw, _ := w.(XattrWriter)
	if xs != nil {
		if xw != nil && c.dx != nil {
			xw.SetXattrs(xs)
		} else {
			c.limitation(limitNoXattrs)
		}
	}
	written, err := io.Copy(w, r)
	if err != nil {
		discard()
		return written, nil, inPlace, fmt.Errorf("copying data: %w", err)
	}
	if copyTestHook != nil {
		copyTestHook("copied", name)
	}
	if writeTestHook != nil {
		writeTestHook("copied", name)
	}
	var after FileState
	if sr != nil {
		after, err = sr.Stat()
	} else {
		var inf Info
		inf, err = c.src.Lstat(ctx, name)
		after = FileState{Size: inf.Size, ModTime: inf.ModTime}
	}
	if err != nil {
		discard()
		return written, nil, inPlace, fmt.Errorf("checking the source after its copy: %w", err)
	}
	var ch *changedError
	if what := c.changed(before, after, written); what != "" {
		ch = &changedError{what: what}
		if !keep {
			discard()
			return written, ch, inPlace, nil
		}
	}
	if err := w.Close(); err != nil {
		if inPlace {
			c.removeInPlace(name)
			return written, nil, true, fmt.Errorf("closing file: %w", dstErr(err))
		}
		c.removeTemp(n, tmp)
		return written, nil, false, fmt.Errorf("closing temporary file: %w", dstErr(err))
	}
	if xs != nil && xw != nil && !xw.XattrsKept() {
		c.limitation(limitNoXattrs)
	}
	if inPlace {
		return written, ch, true, nil
	}
	if err := c.dst.Rename(ctx, tmp, name); err != nil {
		c.removeTemp(n, tmp)
		return written, nil, false, fmt.Errorf("renaming into place: %w", dstErr(err))
	}
	return written, ch, false, nil
}

// removeTemp cleans up after a failed write, also when ctx is cancelled. When that
// fails too (the connection is still down), the directory tries again when it is
// finished, and the next run removes whatever is left.
func (c *copier) removeTemp(n *dirNode, tmp string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.dst.Remove(ctx, tmp)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return
	}
	n.mu.Lock()
	n.orphans = append(n.orphans, tmp)
	n.mu.Unlock()
}

// removeInPlace removes a file cut short at its final name, also when ctx is
// cancelled. It is not tried again later (unlike a temporary file, the name may
// hold the complete file by then): one left behind has the time of its last write,
// not the source's mtime, so the next run rewrites it and Verify reports it.
func (c *copier) removeInPlace(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.dst.Remove(ctx, name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Warn("could not remove a file cut short; the next run rewrites it", "path", shortName(name), "err", err)
	}
}

// copySymlink makes the destination a symlink with the source's target, stored
// verbatim and never followed. It is made under a temporary name and renamed over
// whatever was there, so the name is never missing.
func (c *copier) copySymlink(ctx context.Context, j job) {
	var target string
	if err := c.retry(ctx, func() (err error) {
		target, err = c.src.Readlink(ctx, j.name)
		return err
	}); err != nil {
		c.fail(ctx, j.name, "reading symlink", err)
		return
	}
	want := c.want(j.name, j.src, false)
	mask := c.symlinkMask()
	if d := j.dst; d != nil && d.Mode.Type() == fs.ModeSymlink {
		var have string
		if err := c.retry(ctx, func() (err error) {
			have, err = c.dst.Readlink(ctx, j.name)
			return err
		}); err != nil {
			c.fail(ctx, j.name, "reading destination symlink", err)
			return
		}
		// Re-owned in place only when no other name shares the inode (see copyRegular).
		if have == target && d.Nlink <= 1 {
			fix := SetMask(0)
			if mask&SetOwner != 0 && (d.UID != want.UID || d.GID != want.GID) {
				fix |= SetOwner
			}
			if mask&SetTimes != 0 && !c.sameTime(d.ModTime, want.ModTime) {
				fix |= SetTimes
			}
			if fix == 0 {
				c.unchanged.Add(1)
				return
			}
			if err := c.retry(ctx, func() error { return dstErr(c.dst.Setattr(ctx, j.name, want, fix)) }); err != nil {
				c.fail(ctx, j.name, "fixing symlink owner", err)
				return
			}
			c.metaFixed.Add(1)
			return
		}
	}
	if d := j.dst; d != nil && d.Mode.IsDir() {
		if !c.removeAll(ctx, j.dir, j.name, *d) {
			return
		}
	}
	// A new name on an InPlaceCreator: made at its final name (see there).
	inPlace := c.inPlace != nil && j.dst == nil
	err := c.retry(ctx, func() error {
		if inPlace {
			inPlace = false // a retry finds what this attempt made: temp+rename over it
			err := c.dst.Symlink(ctx, target, j.name)
			if err == nil {
				if mask != 0 {
					if err := c.dst.Setattr(ctx, j.name, want, mask); err != nil {
						// Left with the wrong owner or mtime, which a rerun fixes.
						return fmt.Errorf("setting symlink owner and mtime: %w", dstErr(err))
					}
				}
				return nil
			}
			if !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("making symlink: %w", dstErr(err))
			}
			// Made since the listing: replaced below, as an existing entry.
		}
		tmp := tempName(j.name)
		if err := c.dst.Symlink(ctx, target, tmp); err != nil {
			if errors.Is(err, ErrConnectionLost) {
				c.removeTemp(j.dir, tmp)
			}
			return fmt.Errorf("making symlink: %w", dstErr(err))
		}
		if mask != 0 {
			if err := c.dst.Setattr(ctx, tmp, want, mask); err != nil {
				c.removeTemp(j.dir, tmp)
				return fmt.Errorf("setting symlink owner and mtime: %w", dstErr(err))
			}
		}
		if err := c.dst.Rename(ctx, tmp, j.name); err != nil {
			c.removeTemp(j.dir, tmp)
			return fmt.Errorf("renaming into place: %w", dstErr(err))
		}
		return nil
	})
	if err != nil {
		c.fail(ctx, j.name, "copying symlink", err)
		return
	}
	j.dir.changed.Store(true)
	c.copied.Add(1)
}

func (c *copier) symlinkMask() SetMask {
	var m SetMask
	if c.df.SymlinkOwner {
		m |= SetOwner
	} else {
		c.limitation("symlinks keep the owner of the process that made them: the destination cannot chown a symlink itself")
	}
	if c.df.SymlinkTimes {
		m |= SetTimes
	}
	return m
}

// copyLinked handles one name of a hardlinked source file: the first name seen is
// copied; the others become hardlinks to it once it is in place.
func (c *copier) copyLinked(ctx context.Context, j job) {
	key := devIno{j.src.Dev, j.src.Ino}
	c.linksMu.Lock()
	g, ok := c.links[key]
	if !ok {
		g = &linkGroup{first: j.name}
		c.links[key] = g
	}
	c.linksMu.Unlock()
	if ok {
		g.mu.Lock()
		if !g.done {
			// Keep the hold on the directory until the link is made.
			j.dir.pending.Add(1)
			g.waiters = append(g.waiters, j)
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		c.linkTo(ctx, g, j)
		return
	}
	okFirst, written := c.copyRegular(ctx, j)
	var ino uint64
	switch {
	case !okFirst || !c.df.Inodes:
	case !written && j.dst != nil:
		ino = j.dst.Ino // unchanged: the listing has it, no lstat on a rerun
	default:
		if d, err := c.dst.Lstat(ctx, j.name); err == nil {
			ino = d.Ino
		}
	}
	g.mu.Lock()
	g.done, g.ok, g.written, g.dstIno = true, okFirst, written, ino
	waiters := g.waiters
	g.waiters = nil
	g.mu.Unlock()
	for _, w := range waiters {
		c.linkTo(ctx, g, w)
		c.release(ctx, w.dir)
	}
}

// linkTo makes j.name a hardlink to the group's first name, or copies it on its own
// when the first one failed.
func (c *copier) linkTo(ctx context.Context, g *linkGroup, j job) {
	if ctx.Err() != nil {
		return
	}
	if !g.ok {
		c.copyRegular(ctx, j)
		return
	}
	if d := j.dst; d != nil && d.Mode.IsRegular() {
		same := false
		if c.df.Inodes {
			same = g.dstIno != 0 && d.Ino == g.dstIno
		} else {
			// The destination cannot show inodes: trust a name that matches, unless
			// the first name was rewritten (its inode is new).
			same = !g.written && d.Size == j.src.Size && c.sameTime(d.ModTime, j.src.ModTime) &&
				c.attrMatch(*d, c.want(j.name, j.src, false), false)
		}
		if same {
			c.unchanged.Add(1)
			return
		}
	}
	err := c.retry(ctx, func() error {
		if j.dst != nil {
			if err := removeAll(ctx, c.dst, j.name, *j.dst); err != nil {
				return fmt.Errorf("removing old entry: %w", err)
			}
		}
		err := dstErr(c.dst.Link(ctx, g.first, j.name))
		if err != nil && errors.Is(err, ErrConnectionLost) {
			// The link may have been made before the connection dropped: the
			// next attempt removes it first.
			if d, lerr := c.dst.Lstat(ctx, j.name); lerr == nil {
				j.dst = &d
			}
		}
		return err
	})
	if err != nil {
		c.fail(ctx, j.name, "making hardlink to "+path.Base(g.first), err)
		return
	}
	j.dir.changed.Store(true)
	c.hardlinkN.Add(1)
}

// claim takes name's entry out of a directory's destination listing and returns it
// (nil when the destination has none), so that what is left once every source entry
// has claimed its own is what only the destination has.
func claim(dstEntries map[string]*Info, name string) *Info {
	d, ok := dstEntries[name]
	if !ok {
		return nil
	}
	delete(dstEntries, name)
	return d
}
