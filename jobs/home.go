package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/location"
)

// handleCopyHome copies one home from <copy-from>/<oldUID> to
// <copy-to>/<newUID>, re-owned to the new UID, and verifies it. A rerun (retry,
// takeover, jobs retry) resumes: efs.Copy moves only what differs.
func (w *worker) handleCopyHome(ctx context.Context, t *asynq.Task) error {
	return w.runUnit(ctx, t, moveHome)
}

// moveHome is the body of one home's task: the fan-out, leases and join are the
// same for every kind of job, the move itself is one of these.
func moveHome(ctx context.Context, r *unitRun) error {
	switch {
	case r.spec.Kind == KindBackup:
		return backupHome(ctx, r)
	case r.spec.Kind == KindRestore, r.spec.Kind == KindMigrate && r.spec.CopyFromBackup != nil:
		return restoreHome(ctx, r)
	default:
		return copyHome(ctx, r)
	}
}

func copyHome(ctx context.Context, r *unitRun) error {
	u, err := r.w.st.unit(ctx, r.id, homeUnit(r.p.Home))
	if err != nil {
		return err
	}
	uid64, err := strconv.ParseUint(u["newUid"], 10, 32)
	if err != nil || uid64 == 0 {
		return permanent(fmt.Errorf("new UID %q is not a positive number", u["newUid"]))
	}
	uid := uint32(uid64)
	if u["oldUid"] == "" {
		return permanent(errors.New("no old UID"))
	}
	to, err := location.Parse(r.job["copyTo"])
	if err != nil {
		return permanent(fmt.Errorf("copy-to %q: %w", r.job["copyTo"], err))
	}
	src, srcLoc, err := r.openOldHome(ctx, u["oldUid"])
	if err != nil {
		return err
	}
	defer src.Close()
	gid := r.spec.GID
	if gid == nil {
		root, err := src.Lstat(ctx, ".")
		if err != nil {
			return fmt.Errorf("reading the old home %s: %w", srcLoc, err)
		}
		g := root.GID
		gid = &g
	}
	dst, dstLoc, err := r.openNewHome(ctx, to, u["newUid"], uid, func(efs.FS) uint32 { return *gid })
	if err != nil {
		return err
	}
	if dst, err = r.withCopyToMounts(ctx, dst, u["newUid"]); err != nil {
		return err
	}
	defer dst.Close()

	rdb := r.w.st.rdb
	uk := keyUnit(r.id, homeUnit(r.p.Home))
	stopCount := r.countBeside(ctx, src, uk)
	defer stopCount()
	progress := efs.ReporterFunc(func(p efs.Progress) {
		// Best effort: a missed update only delays the display.
		_ = rdb.HSet(ctx, uk, "files", p.Files, "bytes", p.Bytes, "rate", p.BytesPerSec, "errors", p.Errors).Err()
	})
	log := r.log.With("from", srcLoc.String(), "to", dstLoc.String(), "uid", uid)
	rep, err := efs.Copy(ctx, src, dst, efs.CopyOptions{UID: uid, GID: r.spec.GID, Workers: r.spec.Workers,
		KeepSetID: r.spec.KeepSetID, Progress: progress, Logger: log})
	if rep != nil {
		b, _ := json.Marshal(rep)
		r.fields = append(r.fields, "copy", string(b), "files", rep.Files, "bytes", rep.Bytes, "errors", rep.Errors)
	}
	if err != nil {
		return fmt.Errorf("copying %s to %s: %w", srcLoc, dstLoc, err)
	}
	vrep, err := efs.Verify(ctx, src, dst, efs.VerifyOptions{UID: uid, GID: r.spec.GID, KeepSetID: r.spec.KeepSetID,
		Checksum: r.spec.Checksum, MaxDifferences: 100, Logger: log})
	if vrep != nil {
		b, _ := json.Marshal(vrep)
		r.fields = append(r.fields, "verify", string(b))
	}
	if err != nil {
		return fmt.Errorf("verifying %s against %s: %w", dstLoc, srcLoc, err)
	}
	log.Info("home copied and verified", "files", rep.Files, "bytes", rep.Bytes, "copied_bytes", rep.CopiedBytes,
		"unchanged", rep.Unchanged, "took", rep.Elapsed)
	return nil
}

// homeSucceeded records a verified home and joins: the home whose completion fills
// the done-set enqueues verify.
func (w *worker) homeSucceeded(ctx context.Context, r *unitRun, took time.Duration) error {
	fields := append([]any{"state", HomeSucceeded, "finished", nowMS(), "error", "", "reason", "", "rate", 0}, r.fields...)
	return w.homeEnded(ctx, r, fields, nil, took)
}

// homeFailed records a home that failed for good; the job goes on with the others
// and verify reports it.
func (w *worker) homeFailed(ctx context.Context, r *unitRun, msg string, cause error) error {
	fields := append([]any{"state", HomeFailed, "finished", nowMS(), "error", msg, "reason", msg, "rate", 0}, r.fields...)
	if err := w.homeEnded(ctx, r, fields, cause, 0); err != nil {
		return err
	}
	if errors.Is(cause, asynq.SkipRetry) {
		return cause
	}
	return fmt.Errorf("%w: %w", cause, asynq.SkipRetry)
}

// homeEnded records a home's final state and joins the done-set in one script,
// then, when that completed the set, enqueues verify. A worker that dies in
// between (or two homes ending together) loses nothing: the reaper enqueues verify
// for a complete set, and the task ID makes a second enqueue a no-op.
func (w *worker) homeEnded(ctx context.Context, r *unitRun, fields []any, cause error, took time.Duration) error {
	ok, complete, err := r.lease.releaseHome(ctx, r.p.Home, fields...)
	if err != nil {
		return err
	}
	if !ok {
		r.log.Warn("ended, but the lease was taken over meanwhile")
		return nil
	}
	if cause == nil {
		r.log.Info("home done", "took", took.Round(time.Millisecond))
	}
	if complete {
		if err := w.enqueueStep(ctx, r.id, StepVerify, r.p.Gen); err != nil {
			r.log.Warn("enqueueing verify; the reaper retries it", "error", err)
		}
	}
	return nil
}

// openNewHome makes <to>/<newUID> owned by uid (efs.PrepareDest) and opens it. The
// group is gidFor's, asked once the new EFS is open. A home in use by another owner,
// or an unsafe one, fails for good; anything else may be retried.
func (r *unitRun) openNewHome(ctx context.Context, to location.Location, newUID string, uid uint32, gidFor func(parent efs.FS) uint32) (efs.FS, location.Location, error) {
	opts := r.w.cfg.Location
	opts.Log = r.log
	parent, err := location.Open(ctx, to, opts)
	if err != nil {
		return nil, location.Location{}, fmt.Errorf("opening the new EFS %s: %w", to, err)
	}
	defer parent.Close()
	if err := efs.PrepareDest(ctx, parent, newUID, uid, gidFor(parent), r.spec.Merge); err != nil {
		if errors.Is(err, efs.ErrDestinationInUse) || errors.Is(err, efs.ErrUnsafePath) {
			return nil, location.Location{}, permanent(err)
		}
		return nil, location.Location{}, err
	}
	dstLoc := to.Join(newUID)
	dst, err := location.Open(ctx, dstLoc, opts)
	if err != nil {
		return nil, dstLoc, fmt.Errorf("opening the new home %s: %w", dstLoc, err)
	}
	return dst, dstLoc, nil
}

// withCopyToMounts spreads the new home dst (a Local, opened through copy-to) over
// the job's other mounts of the new EFS, when it has any. It takes dst over: on error
// dst is closed. The mounts are opened only now, after PrepareDest made the home
// through copy-to, so no mount has cached the home as missing; NewMultiMount then
// checks, with a probe file, that each is the same directory of the same volume.
func (r *unitRun) withCopyToMounts(ctx context.Context, dst efs.FS, newUID string) (efs.FS, error) {
	raw := r.job["copyToMounts"]
	if raw == "" {
		return dst, nil
	}
	var roots []string
	if err := json.Unmarshal([]byte(raw), &roots); err != nil {
		dst.Close()
		return nil, permanent(fmt.Errorf("the job's destination mounts %q: %w", raw, err))
	}
	first, ok := dst.(*efs.Local)
	if !ok {
		dst.Close()
		return nil, permanent(fmt.Errorf("copy-to-mount needs a local copy-to, not %s", dst))
	}
	ls := []*efs.Local{first}
	closeAll := func() {
		for _, l := range ls {
			l.Close()
		}
	}
	for _, root := range roots {
		l, err := efs.NewLocal(filepath.Join(root, newUID))
		if err != nil {
			closeAll()
			if errors.Is(err, fs.ErrNotExist) {
				return nil, permanent(fmt.Errorf("the new home %s through copy-to-mount %s does not exist: is %s a mount of the new EFS? %w", newUID, root, root, err))
			}
			return nil, fmt.Errorf("opening the new home %s through copy-to-mount %s: %w", newUID, root, err)
		}
		ls = append(ls, l)
	}
	mm, err := efs.NewMultiMount(ctx, ls, r.log)
	if err != nil {
		closeAll()
		if errors.Is(err, efs.ErrNotSameVolume) {
			return nil, permanent(fmt.Errorf("copy-to-mount: %w", err))
		}
		return nil, fmt.Errorf("checking the new EFS's mounts: %w", err)
	}
	return mm, nil
}

// countBeside counts the old home src for the progress totals while the home is
// moved, and records them in the home's unit uk when the count ends. It does not
// delay the move: on EFS a count is a listing and a stat of every entry, minutes
// for a big home, and the display only needs the totals for its percentage and
// ETA. The returned func stops the count (if still running) and waits for it;
// call it before the home's final state is written.
func (r *unitRun) countBeside(ctx context.Context, src efs.FS, uk string) (stop func()) {
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tot, err := efs.Count(cctx, src, 0)
		if err != nil {
			if cctx.Err() == nil {
				r.log.Warn("counting the old home (progress shows no totals)", "error", err)
			}
			return
		}
		// Best effort, like every progress field.
		_ = r.w.st.rdb.HSet(cctx, uk, "totalFiles", tot.Files, "totalBytes", tot.Bytes).Err()
	}()
	return func() {
		cancel()
		<-done
	}
}

// openOldHome opens <copy-from>/<uid>, the home a copy or a backup reads; a local
// home that does not exist is not retried.
func (r *unitRun) openOldHome(ctx context.Context, uid string) (efs.FS, location.Location, error) {
	from, err := location.Parse(r.spec.CopyFrom)
	if err != nil {
		return nil, location.Location{}, permanent(fmt.Errorf("copy-from: %w", err))
	}
	opts := r.w.cfg.Location
	opts.Log = r.log
	srcLoc := from.Join(uid)
	src, err := location.Open(ctx, srcLoc, opts)
	if err != nil {
		if !srcLoc.IsSFTP() && errors.Is(err, fs.ErrNotExist) {
			return nil, srcLoc, permanent(fmt.Errorf("the old home %s does not exist: %w", srcLoc, err))
		}
		return nil, srcLoc, fmt.Errorf("opening the old home %s: %w", srcLoc, err)
	}
	if r.w.cfg.wrapSource != nil {
		src = r.w.cfg.wrapSource(src)
	}
	return src, srcLoc, nil
}
