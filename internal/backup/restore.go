package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/studio-migrator/studio-migrator/internal/efs"
)

// Restore writes the newest complete backup of the home (domain, kind, name) (or
// opts.Run) into dst, every entry owned by uid:gid, with the manifest's modes, mtimes,
// symlinks, hardlinks and empty directories. It is resumable: a file already in dst
// with the manifest's size and mtime is not downloaded again. It never replaces a
// local entry newer than the backup's (counted in Marker.Kept). The manifest is
// checked whole before anything is written: an absolute path, a ".." component or an
// entry below a non-directory fails the restore with ErrBadManifest and writes nothing.
// dst should be an efs.Local or efs.SFTP rooted at the home: it never follows a
// symlink, so nothing is written outside the home.
func Restore(ctx context.Context, st Store, domain string, kind Kind, name string, dst efs.FS, uid, gid uint32, opts Options) (*Marker, error) {
	opts.defaults()
	if err := checkIdent(domain, kind, name); err != nil {
		return nil, err
	}
	base := Base(st.Prefix, domain, kind, name)
	run := opts.Run
	if run == "" {
		m, err := Latest(ctx, st, domain, kind, name)
		if err != nil {
			return nil, err
		}
		run = m.Run
	} else if !validRunID(run) {
		return nil, fmt.Errorf("run %q: not a run ID", run)
	}
	entries, err := readManifest(ctx, st, base, run)
	if err != nil {
		return nil, err
	}
	started := opts.Now().UTC()
	r := &restorer{st: st, base: base, dst: dst, uid: uid, gid: gid, opts: opts,
		gran: max(dst.Features().TimeGranularity, time.Nanosecond)}
	r.log = opts.Logger.With("home", string(kind)+"/"+name, "domain", domain, "run", run)
	stopProgress := r.prog.report(opts.Progress)
	err = r.run(ctx, entries)
	stopProgress()
	if err != nil {
		return nil, fmt.Errorf("restoring %s/%s (run %s) to %s: %w", kind, name, run, dst, err)
	}
	m := &Marker{Run: run, Writer: "migrator", Version: Version, Status: "complete", SourceDomain: domain,
		Started: started, Finished: opts.Now().UTC(), Errors: r.errors.Load(), Kept: r.kept.Load(),
		Downloaded: r.downloaded.Load(), UploadedBytes: 0}
	for _, e := range entries {
		switch e.Type {
		case 'f':
			m.Files++
			m.Bytes += e.Size
		case 'd':
			m.Dirs++
		case 'l':
			m.Symlinks++
		}
	}
	if m.Errors > 0 {
		m.Status = "partial"
	}
	r.log.Info("restore done", "files", m.Files, "downloaded", m.Downloaded, "kept", m.Kept, "errors", m.Errors)
	return m, nil
}

type restorer struct {
	st                       Store
	base                     string
	dst                      efs.FS
	uid, gid                 uint32
	opts                     Options
	gran                     time.Duration
	log                      *slog.Logger
	errors, kept, downloaded atomic.Int64
	prog                     counter
}

func (r *restorer) fail(name, what string, err error) {
	r.errors.Add(1)
	r.prog.errs.Add(1)
	r.log.Warn("not restored", "path", name, "op", what, "err", err)
}

// newer reports whether the local entry was modified after the backup's copy, so it
// must be kept.
func (r *restorer) newer(local efs.Info, e *Entry) bool {
	return local.ModTime.Truncate(r.gran).After(e.MTime.Truncate(r.gran))
}

func (r *restorer) attr(e *Entry) efs.Attr {
	return efs.Attr{UID: r.uid, GID: r.gid, Perm: e.Mode, ModTime: e.MTime}
}

func (r *restorer) run(ctx context.Context, entries []Entry) error {
	// Directories first, parents before children.
	var dirs, files, links, hard []*Entry
	first := map[string]string{} // inode group -> first path
	for i := range entries {
		e := &entries[i]
		switch e.Type {
		case 'd':
			dirs = append(dirs, e)
		case 'l':
			links = append(links, e)
		case 'f':
			if e.Inode != "" {
				if _, ok := first[e.Inode]; ok {
					hard = append(hard, e)
					continue
				}
				first[e.Inode] = e.Path
			}
			files = append(files, e)
		}
	}
	sort.SliceStable(dirs, func(i, j int) bool { return strings.Count(dirs[i].Path, "/") < strings.Count(dirs[j].Path, "/") })
	if err := r.dst.Setattr(ctx, ".", efs.Attr{UID: r.uid, GID: r.gid}, efs.SetOwner); err != nil {
		return fmt.Errorf("owning the home to %d:%d: %w", r.uid, r.gid, err)
	}
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.dst.Mkdir(ctx, d.Path, 0o700); err != nil {
			r.fail(d.Path, "mkdir", err)
		}
	}

	// Files, many in flight.
	jobs := make(chan *Entry)
	var wg sync.WaitGroup
	var fatalMu sync.Mutex
	var fatal error
	for range r.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range jobs {
				if err := r.file(ctx, e); err != nil {
					fatalMu.Lock()
					if fatal == nil {
						fatal = err
					}
					fatalMu.Unlock()
				}
			}
		}()
	}
	for _, e := range files {
		select {
		case jobs <- e:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if fatal != nil {
		return fatal
	}

	for _, e := range hard {
		r.hardlink(ctx, e, first[e.Inode])
	}
	for _, e := range links {
		r.symlink(ctx, e)
	}
	// Directory modes and mtimes last (writing into a directory changes its mtime),
	// deepest first.
	for i := len(dirs) - 1; i >= 0; i-- {
		d := dirs[i]
		if err := r.dst.Setattr(ctx, d.Path, r.attr(d), efs.SetAll); err != nil {
			r.fail(d.Path, "setattr", err)
		}
	}
	return ctx.Err()
}

// file restores one regular file; only an S3 error is returned (it would repeat for
// every file), local problems are counted and logged.
func (r *restorer) file(ctx context.Context, e *Entry) error {
	if cur, err := r.dst.Lstat(ctx, e.Path); err == nil {
		if cur.Mode.IsRegular() && cur.Size == e.Size && cur.ModTime.Truncate(r.gran).Equal(e.MTime.Truncate(r.gran)) &&
			cur.UID == r.uid && cur.GID == r.gid && cur.Mode.Perm() == e.Mode.Perm() {
			r.prog.done(e.Size, false)
			return nil // already restored (a resumed run)
		}
		if r.newer(cur, e) {
			r.prog.done(e.Size, false)
			r.kept.Add(1)
			r.log.Info("kept the newer local entry", "path", e.Path)
			return nil
		}
		if cur.Mode.IsDir() {
			r.fail(e.Path, "replace", fmt.Errorf("a local directory is in the way"))
			return nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		r.fail(e.Path, "lstat", err)
		return nil
	}
	key := r.base + DataKey(e.Run, e.Path)
	out, err := r.st.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.st.Bucket), Key: aws.String(key)})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("downloading s3://%s/%s: %w", r.st.Bucket, key, err)
	}
	defer out.Body.Close()
	tmp := tempName(e.Path)
	w, err := r.dst.Create(ctx, tmp, r.attr(e))
	if err != nil {
		r.fail(e.Path, "create", err)
		return nil
	}
	n, err := io.Copy(w, out.Body)
	cerr := w.Close()
	if err == nil && n != e.Size {
		err = fmt.Errorf("object has %d bytes, the manifest says %d", n, e.Size)
	}
	if err == nil {
		err = cerr
	}
	if err == nil {
		err = r.dst.Rename(ctx, tmp, e.Path)
	}
	if err != nil {
		r.dst.Remove(context.WithoutCancel(ctx), tmp)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.fail(e.Path, "write", err)
		return nil
	}
	r.downloaded.Add(1)
	r.prog.done(e.Size, true)
	return nil
}

// tempName has the shape efs uses, so its leftover clean-up recognises it.
func tempName(name string) string {
	dir, base := "", name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		dir, base = name[:i+1], name[i+1:]
	}
	var b [8]byte
	rand.Read(b[:])
	if len(base) > 200 {
		base = base[:100]
	}
	return dir + ".studio-migrator." + base + "." + hex.EncodeToString(b[:]) + ".tmp"
}

// clear removes a local non-directory entry at name unless it is newer than e;
// it reports whether the way is free.
func (r *restorer) clear(ctx context.Context, e *Entry) bool {
	cur, err := r.dst.Lstat(ctx, e.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	if err != nil {
		r.fail(e.Path, "lstat", err)
		return false
	}
	if r.newer(cur, e) {
		r.kept.Add(1)
		return false
	}
	if cur.Mode.IsDir() {
		r.fail(e.Path, "replace", fmt.Errorf("a local directory is in the way"))
		return false
	}
	if err := r.dst.Remove(ctx, e.Path); err != nil {
		r.fail(e.Path, "remove", err)
		return false
	}
	return true
}

func (r *restorer) hardlink(ctx context.Context, e *Entry, first string) {
	if a, err := r.dst.Lstat(ctx, e.Path); err == nil {
		if b, err := r.dst.Lstat(ctx, first); err == nil && a.Ino != 0 && a.Ino == b.Ino && a.Dev == b.Dev {
			return
		}
	}
	if !r.clear(ctx, e) {
		return
	}
	if err := r.dst.Link(ctx, first, e.Path); err != nil {
		r.fail(e.Path, "link", err)
	}
}

func (r *restorer) symlink(ctx context.Context, e *Entry) {
	done := false
	if cur, err := r.dst.Lstat(ctx, e.Path); err == nil && cur.Mode&fs.ModeSymlink != 0 {
		if t, err := r.dst.Readlink(ctx, e.Path); err == nil && t == e.Target {
			done = true
		}
	}
	if !done {
		if !r.clear(ctx, e) {
			return
		}
		if err := r.dst.Symlink(ctx, e.Target, e.Path); err != nil {
			r.fail(e.Path, "symlink", err)
			return
		}
	}
	f := r.dst.Features()
	mask := efs.SetMask(0)
	if f.SymlinkOwner {
		mask |= efs.SetOwner
	}
	if f.SymlinkTimes {
		mask |= efs.SetTimes
	}
	if mask != 0 {
		if err := r.dst.Setattr(ctx, e.Path, r.attr(e), mask); err != nil {
			r.fail(e.Path, "setattr", err)
		}
	}
}
