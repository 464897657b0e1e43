package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/semaphore"

	"github.com/studio-migrator/studio-migrator/internal/efs"
)

// Version is written into the markers the Go side writes (writer "migrator").
const Version = "1"

// DefaultExcludes are the paths a backup leaves out unless told otherwise: caches
// that rebuild themselves, the trash, and a restore's staging folder. They are the
// same in scripts/lcc/backup-home.sh (a test checks it). A pattern is matched against
// the whole relative path, "*" matching any run of characters ("/" included) and "?"
// one character, like find -path; an excluded directory is left out with all it holds.
var DefaultExcludes = []string{".cache", ".conda/pkgs", ".local/share/Trash", ".npm/_cacache", "lost+found", RestoreStaging}

// RestoreStaging is the folder in the home where restore-home.sh stages downloads.
const RestoreStaging = ".studio-migrator-restore.tmp"

// Options tune Backup and Restore.
type Options struct {
	// Workers is how many objects are in flight at once (default 64).
	Workers int
	// PartSize: files larger than this are sent in parts of this size (default 8 MiB).
	PartSize int64
	// Excludes: patterns left out of a backup; nil means DefaultExcludes.
	Excludes []string
	// Logger for per-entry problems (default slog.Default()).
	Logger *slog.Logger
	// Run restores this run instead of the newest complete one (Restore only).
	Run string
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// Progress, when set, is called about once a second while a Backup or Restore
	// runs, and once at its end, from one goroutine at a time.
	Progress func(Progress)
}

// Progress counts the regular files a Backup or Restore has handled so far: sent or
// fetched, or found already there (unchanged since the last backup, or already
// restored), and their bytes; Transferred is what actually crossed the network.
type Progress struct {
	Files            int64 `json:"files"`
	Bytes            int64 `json:"bytes"`
	TransferredBytes int64 `json:"transferredBytes"`
	Errors           int64 `json:"errors"`
}

// counter keeps a Progress and reports it every second until stop.
type counter struct {
	files, bytes, moved, errs atomic.Int64
}

func (c *counter) done(size int64, transferred bool) {
	c.files.Add(1)
	c.bytes.Add(size)
	if transferred {
		c.moved.Add(size)
	}
}

func (c *counter) snapshot() Progress {
	return Progress{Files: c.files.Load(), Bytes: c.bytes.Load(), TransferredBytes: c.moved.Load(), Errors: c.errs.Load()}
}

// report calls fn every second until the returned stop, which reports a last time.
func (c *counter) report(fn func(Progress)) (stop func()) {
	if fn == nil {
		return func() {}
	}
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-quit:
				fn(c.snapshot())
				return
			case <-t.C:
				fn(c.snapshot())
			}
		}
	}()
	return func() { close(quit); <-finished }
}

func (o *Options) defaults() {
	if o.Workers <= 0 {
		o.Workers = 64
	}
	if o.PartSize <= 0 {
		o.PartSize = 8 << 20
	}
	if o.PartSize < 5<<20 {
		o.PartSize = 5 << 20 // S3's minimum part size
	}
	if o.Excludes == nil {
		o.Excludes = DefaultExcludes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// compileExcludes turns find -path patterns into one regexp.
func compileExcludes(pats []string) (*regexp.Regexp, error) {
	if len(pats) == 0 {
		return nil, nil
	}
	var alts []string
	for _, p := range pats {
		p = strings.Trim(p, "/")
		if p == "" {
			continue
		}
		var b strings.Builder
		for _, r := range p {
			switch r {
			case '*':
				b.WriteString(".*")
			case '?':
				b.WriteString(".")
			default:
				b.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		alts = append(alts, b.String())
	}
	if len(alts) == 0 {
		return nil, nil
	}
	re, err := regexp.Compile(`^(?s:` + strings.Join(alts, "|") + `)$`)
	if err != nil {
		return nil, fmt.Errorf("exclude patterns: %w", err)
	}
	return re, nil
}

// Backup uploads the tree src into the layout (see the package comment) as a new run
// of the home (domain, kind, name), sending only the files that are new or changed
// since the newest complete backup, then the manifest, then the completion marker.
// It returns the marker. A cancelled or failed Backup writes no marker, so the
// previous complete backup stays the newest; entries that cannot be read are left out,
// counted in Marker.Errors and logged, without failing the run.
func Backup(ctx context.Context, src efs.FS, st Store, domain string, kind Kind, name string, opts Options) (*Marker, error) {
	opts.defaults()
	if err := checkIdent(domain, kind, name); err != nil {
		return nil, err
	}
	excl, err := compileExcludes(opts.Excludes)
	if err != nil {
		return nil, err
	}
	base := Base(st.Prefix, domain, kind, name)
	log := opts.Logger.With("home", string(kind)+"/"+name, "domain", domain)

	// The newest complete manifest says what is already in S3.
	prev := map[string]*Entry{}
	prevRun := ""
	if runs, err := CompleteRuns(ctx, st, domain, kind, name); err != nil {
		return nil, err
	} else if len(runs) > 0 {
		prevRun = runs[len(runs)-1]
		old, err := readManifest(ctx, st, base, prevRun)
		if err != nil {
			return nil, fmt.Errorf("reading the previous backup: %w", err)
		}
		for i := range old {
			if old[i].Type == 'f' {
				prev[old[i].Path] = &old[i]
			}
		}
	}

	// Resume: objects an unfinished run (newer than the newest complete one, no
	// marker) already uploaded are reused rather than sent again.
	partial, err := unfinishedObjects(ctx, st, base, prevRun)
	if err != nil {
		return nil, err
	}

	started := opts.Now().UTC()
	b := &backuper{
		src: src, st: st, base: base, run: nextRunID(NewRunID(started), prevRun), opts: opts, log: log,
		mem:  semaphore.NewWeighted(4 * int64(opts.Workers) * (1 << 20)),
		gran: src.Features().TimeGranularity,
	}
	if b.gran < time.Nanosecond {
		b.gran = time.Nanosecond
	}
	b.m = Marker{Run: b.run, Writer: "migrator", Version: Version, Started: started}

	stopProgress := b.prog.report(opts.Progress)
	defer stopProgress()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int, opts.Workers)
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				b.upload(ctx, i)
			}
		}()
	}
	walkErr := b.walk(ctx, ".", excl, prev, partial, jobs)
	close(jobs)
	wg.Wait()
	if walkErr == nil {
		walkErr = ctx.Err()
	}
	if walkErr == nil {
		walkErr = b.fatal()
	}
	if walkErr != nil {
		return nil, fmt.Errorf("backing up %s to %s (run %s, no marker written): %w", src, st, b.run, walkErr)
	}

	entries := make([]Entry, 0, len(b.entries))
	for i := range b.entries {
		if !b.failed[i] {
			entries = append(entries, b.entries[i])
		}
	}
	for _, e := range entries {
		switch e.Type {
		case 'f':
			b.m.Files++
			b.m.Bytes += e.Size
		case 'd':
			b.m.Dirs++
		case 'l':
			b.m.Symlinks++
		}
		if e.Encoded() {
			b.m.Encoded++
		}
	}
	b.m.Uploaded, b.m.UploadedBytes = b.uploaded.Load(), b.uploadedBytes.Load()
	b.m.Errors = b.errors.Load()
	if err := st.put(ctx, base+"manifests/"+b.run+".tsv", manifestBytes(entries), "text/tab-separated-values; charset=utf-8"); err != nil {
		return nil, err
	}
	b.m.Status = "complete"
	b.m.Finished = opts.Now().UTC()
	mj, _ := json.MarshalIndent(&b.m, "", "  ")
	if err := st.put(ctx, base+"complete/"+b.run+".json", mj, "application/json"); err != nil {
		return nil, err
	}
	log.Info("backup complete", "run", b.run, "files", b.m.Files, "bytes", b.m.Bytes, "uploaded", b.m.Uploaded, "errors", b.m.Errors)
	return &b.m, nil
}

type backuper struct {
	src  efs.FS
	st   Store
	base string
	run  string
	opts Options
	log  *slog.Logger
	mem  *semaphore.Weighted
	gran time.Duration

	mu      sync.Mutex
	entries []Entry
	failed  map[int]bool
	fatalE  error

	m                       Marker
	uploaded, uploadedBytes atomic.Int64
	errors                  atomic.Int64
	prog                    counter
}

func (b *backuper) fatal() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fatalE
}

// entryErr records an entry that could not be backed up; an S3 error (not a local
// one) fails the whole run, because the next entries would fail the same way.
func (b *backuper) entryErr(i int, name string, err error, remote bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if remote {
		if b.fatalE == nil {
			b.fatalE = err
		}
		return
	}
	if i >= 0 {
		if b.failed == nil {
			b.failed = map[int]bool{}
		}
		b.failed[i] = true
	}
	b.errors.Add(1)
	b.prog.errs.Add(1)
	b.log.Warn("left out of the backup", "path", name, "err", err)
}

func (b *backuper) sameTime(x, y time.Time) bool {
	return x.Truncate(b.gran).Equal(y.Truncate(b.gran))
}

// walk lists dir (pre-order, sorted) and queues each changed file's upload.
func (b *backuper) walk(ctx context.Context, dir string, excl *regexp.Regexp, prev map[string]*Entry, partial unfinished, jobs chan<- int) error {
	list, err := b.src.ReadDir(ctx, dir)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if dir == "." {
			return fmt.Errorf("reading the home: %w", err)
		}
		b.entryErr(-1, dir+"/", err, false)
		return nil
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	inodes := b.src.Features().Inodes
	for _, fi := range list {
		if err := b.fatal(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		name := fi.Name
		if dir != "." {
			name = dir + "/" + fi.Name
		}
		if excl != nil && excl.MatchString(name) {
			continue
		}
		e := Entry{Path: name, Mode: fi.Mode, MTime: fi.ModTime}
		switch {
		case fi.Mode.IsDir():
			e.Type = 'd'
		case fi.Mode.IsRegular():
			e.Type, e.Size = 'f', fi.Size
			if inodes && fi.Nlink > 1 {
				e.Inode = fmt.Sprintf("%d:%d", fi.Dev, fi.Ino)
			}
			if p := prev[name]; p != nil && p.Size == fi.Size && b.sameTime(p.MTime, fi.ModTime) {
				e.Run = p.Run
			} else if o, ok := partial.objects[DataKey(partial.run, name)]; ok && o.size == fi.Size && !o.modified.Before(fi.ModTime) {
				e.Run = partial.run // uploaded by the unfinished run after its last change
			} else {
				e.Run = b.run
			}
		case fi.Mode&fs.ModeSymlink != 0:
			t, err := b.src.Readlink(ctx, name)
			if err != nil {
				b.entryErr(-1, name, err, false)
				continue
			}
			e.Type, e.Target, e.Size = 'l', t, int64(len(t))
		default:
			continue // sockets, FIFOs, devices: not kept
		}
		b.mu.Lock()
		b.entries = append(b.entries, e)
		i := len(b.entries) - 1
		b.mu.Unlock()
		if e.Type == 'f' && e.Run != b.run {
			b.prog.done(e.Size, false)
		}
		if e.Type == 'f' && e.Run == b.run {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if e.Type == 'd' {
			if err := b.walk(ctx, name, excl, prev, partial, jobs); err != nil {
				return err
			}
		}
	}
	return nil
}

// entry returns a copy of entry i (the slice may grow under the walker).
func (b *backuper) entry(i int) Entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.entries[i]
}

func (b *backuper) upload(ctx context.Context, i int) {
	if ctx.Err() != nil || b.fatal() != nil {
		return
	}
	e := b.entry(i)
	key := b.base + DataKey(b.run, e.Path)
	r, err := b.src.Open(ctx, e.Path)
	if err != nil {
		b.entryErr(i, e.Path, err, false)
		return
	}
	defer r.Close()
	var n int64
	if e.Size <= b.opts.PartSize {
		n, err = b.putSmall(ctx, key, r, e.Size)
	} else {
		n, err = b.putMultipart(ctx, key, r, e.Size)
	}
	if err != nil {
		var le localErr
		if errors.As(err, &le) {
			b.entryErr(i, e.Path, le.error, false)
		} else if ctx.Err() == nil {
			b.entryErr(i, e.Path, err, true)
		}
		return
	}
	if n != e.Size {
		// The file changed size while we read it: record what was sent.
		b.mu.Lock()
		b.entries[i].Size = n
		b.mu.Unlock()
	}
	b.uploaded.Add(1)
	b.uploadedBytes.Add(n)
	b.prog.done(n, true)
}

// localErr marks an error reading the source (the entry is left out) as opposed to
// an S3 error (the run fails).
type localErr struct{ error }

func (e localErr) Unwrap() error { return e.error }

// readAll reads up to max bytes of r; more than max is a changed file (localErr).
func readAll(r io.Reader, size, max int64) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, size))
	n, err := io.Copy(buf, io.LimitReader(r, max+1))
	if err != nil {
		return nil, localErr{err}
	}
	if n > max {
		return nil, localErr{fmt.Errorf("grew past %d bytes while being read", max)}
	}
	return buf.Bytes(), nil
}

func (b *backuper) putSmall(ctx context.Context, key string, r io.Reader, size int64) (int64, error) {
	w := max(size, 1)
	if err := b.mem.Acquire(ctx, w); err != nil {
		return 0, err
	}
	defer b.mem.Release(w)
	data, err := readAll(r, size, b.opts.PartSize)
	if err != nil {
		return 0, err
	}
	_, err = b.st.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b.st.Bucket), Key: aws.String(key), Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	})
	if err != nil {
		return 0, fmt.Errorf("uploading s3://%s/%s: %w", b.st.Bucket, key, err)
	}
	return int64(len(data)), nil
}

// putMultipart sends a large file in parts, up to 4 of them in flight.
func (b *backuper) putMultipart(ctx context.Context, key string, r io.Reader, size int64) (int64, error) {
	up, err := b.st.Client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b.st.Bucket), Key: aws.String(key)})
	if err != nil {
		return 0, fmt.Errorf("starting the upload of s3://%s/%s: %w", b.st.Bucket, key, err)
	}
	abort := func() {
		b.st.Client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: aws.String(b.st.Bucket), Key: aws.String(key), UploadId: up.UploadId})
	}
	var (
		mu    sync.Mutex
		parts []types.CompletedPart
		first error
		wg    sync.WaitGroup
		total int64
	)
	sem := make(chan struct{}, 4)
	for num := int32(1); ; num++ {
		if err := b.mem.Acquire(ctx, b.opts.PartSize); err != nil {
			first = err
			break
		}
		buf := make([]byte, b.opts.PartSize)
		n, rerr := io.ReadFull(r, buf)
		if rerr != nil && rerr != io.ErrUnexpectedEOF && rerr != io.EOF {
			b.mem.Release(b.opts.PartSize)
			first = localErr{rerr}
			break
		}
		if n == 0 {
			b.mem.Release(b.opts.PartSize)
			break
		}
		total += int64(n)
		sem <- struct{}{}
		wg.Add(1)
		go func(num int32, data []byte) {
			defer func() { <-sem; b.mem.Release(b.opts.PartSize); wg.Done() }()
			out, err := b.st.Client.UploadPart(ctx, &s3.UploadPartInput{
				Bucket: aws.String(b.st.Bucket), Key: aws.String(key), UploadId: up.UploadId,
				PartNumber: aws.Int32(num), Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = fmt.Errorf("uploading part %d of s3://%s/%s: %w", num, b.st.Bucket, key, err)
				}
				return
			}
			parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
		}(num, buf[:n])
		if n < len(buf) {
			break
		}
	}
	wg.Wait()
	if first != nil {
		abort()
		return 0, first
	}
	sort.Slice(parts, func(i, j int) bool { return *parts[i].PartNumber < *parts[j].PartNumber })
	_, err = b.st.Client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(b.st.Bucket), Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		abort()
		return 0, fmt.Errorf("completing the upload of s3://%s/%s: %w", b.st.Bucket, key, err)
	}
	return total, nil
}

// unfinished is what the newest unfinished run uploaded: key (relative to the base)
// -> size and upload time.
type unfinished struct {
	run     string
	objects map[string]object
}

type object struct {
	size     int64
	modified time.Time
}

// unfinishedObjects finds the newest run after prevRun that has data but no marker
// and lists its objects. A file whose object has its size and was uploaded after the
// file's mtime needs no new upload (the heuristic of aws s3 sync and rclone, applied
// only to a run that was interrupted).
func unfinishedObjects(ctx context.Context, st Store, base, prevRun string) (unfinished, error) {
	var u unfinished
	var newest string
	for _, dir := range []string{"data/", "xdata/"} {
		p := s3.NewListObjectsV2Paginator(st.Client, &s3.ListObjectsV2Input{
			Bucket: aws.String(st.Bucket), Prefix: aws.String(base + dir), Delimiter: aws.String("/"),
			StartAfter: aws.String(base + dir + prevRun + "/\xff"),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return u, fmt.Errorf("listing unfinished runs in s3://%s/%s: %w", st.Bucket, base, err)
			}
			for _, cp := range page.CommonPrefixes {
				run := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), base+dir), "/")
				if validRunID(run) && run > prevRun && run > newest {
					newest = run
				}
			}
		}
	}
	if newest == "" {
		return u, nil
	}
	u.run, u.objects = newest, map[string]object{}
	for _, dir := range []string{"data/", "xdata/"} {
		err := st.list(ctx, base+dir+newest+"/", func(o types.Object) {
			u.objects[strings.TrimPrefix(aws.ToString(o.Key), base)] = object{aws.ToInt64(o.Size), aws.ToTime(o.LastModified)}
		})
		if err != nil {
			return u, err
		}
	}
	return u, nil
}
