package efs

import (
	"bytes"
	"context"
	"crypto/sha256"
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
)

// VerifyOptions configure Verify. UID, GID and KeepSetID mean what they mean in
// CopyOptions: they say what the destination should look like.
type VerifyOptions struct {
	UID       uint32
	GID       *uint32
	KeepSetID bool
	// Checksum also compares the SHA-256 of every file's content (reads both trees).
	Checksum bool
	// Workers is the number of files hashed at once (default DefaultWorkers).
	Workers int
	// MaxDifferences caps the listed differences (0: list every one); Differences
	// in the report counts them all.
	MaxDifferences int
	Logger         *slog.Logger
}

// Difference is one way the destination differs from what the source says it should be.
type Difference struct {
	Path string `json:"path"`
	// What is one of: missing, type, size, mode, mtime, owner, target, hardlink,
	// xattr (extended attributes or POSIX ACLs), content, leftover-temp, error.
	What string `json:"what"`
	Want string `json:"want,omitempty"`
	Got  string `json:"got,omitempty"`
}

// VerifyReport lists every difference found and counts what the source holds.
type VerifyReport struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Files       int64  `json:"files"`
	Dirs        int64  `json:"dirs"`
	Symlinks    int64  `json:"symlinks"`
	Bytes       int64  `json:"bytes"`
	// Checksummed counts files whose content was compared.
	Checksummed int64 `json:"checksummed"`
	// Specials in the source (sockets, FIFOs, devices) are not expected in the
	// destination and are only counted.
	Specials int64 `json:"specials"`
	// Extra counts destination entries the source does not have (Copy leaves them
	// unless told to delete them); they are listed but are not differences.
	Extra       int64        `json:"extra"`
	ExtraPaths  []string     `json:"extraPaths,omitempty"`
	Differences int64        `json:"differences"`
	List        []Difference `json:"list,omitempty"`
	// Limitations say what could not be compared (e.g. hardlinks without inodes).
	Limitations []string      `json:"limitations,omitempty"`
	Elapsed     time.Duration `json:"elapsed"`
}

// OK reports whether no difference was found.
func (r *VerifyReport) OK() bool { return r.Differences == 0 }

// ErrDifferences is returned (wrapped) by Verify when the trees differ.
var ErrDifferences = errors.New("destination differs from source")

// Verify compares the tree at dst "." with the one at src "." as Copy with the same
// UID, GID and KeepSetID would have left it: type, size, permission bits, mtime (at
// the coarser granularity of the two), owner, symlink targets, hardlink grouping
// (when both sides show inodes) and, with Checksum, content. Symlink owners and
// times are compared only where the destination can set them. It returns the report
// and an error wrapping ErrDifferences when anything differs.
func Verify(ctx context.Context, src, dst FS, opts VerifyOptions) (*VerifyReport, error) {
	if err := checkOwner(opts.UID, opts.GID); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	sf, df := src.Features(), dst.Features()
	v := &verifier{
		src: src, dst: dst, opts: opts, sf: sf, df: df,
		gran:  max(sf.TimeGranularity, df.TimeGranularity, time.Nanosecond),
		start: time.Now(),
		fwd:   map[devIno]devIno{}, back: map[devIno]devIno{},
		rep: VerifyReport{Source: src.String(), Destination: dst.String()},
	}
	if !(sf.Inodes && df.Inodes) {
		v.rep.Limitations = append(v.rep.Limitations, "hardlink grouping not compared: one side cannot show inodes")
	}
	if !df.SymlinkOwner {
		v.rep.Limitations = append(v.rep.Limitations, "symlink owners not compared: the destination cannot set them")
	}
	v.sx, _ = src.(XattrFS)
	v.dx, _ = dst.(XattrFS)
	if v.sx != nil && v.dx == nil {
		v.rep.Limitations = append(v.rep.Limitations, "extended attributes and POSIX ACLs not compared: the destination cannot show them")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	rs, err := src.Lstat(ctx, ".")
	if err != nil {
		return nil, fmt.Errorf("verify: reading source root %s: %w", src, err)
	}
	v.xp = xattrPolicy{keepSetID: opts.KeepSetID, oldUID: rs.UID, newUID: opts.UID}
	rd, err := dst.Lstat(ctx, ".")
	if err != nil {
		return nil, fmt.Errorf("verify: reading destination root %s: %w", dst, err)
	}
	v.hashes = make(chan hashJob, opts.Workers*2)
	v.walkers = make(chan struct{}, max(2, opts.Workers/4))
	// Hashers start as files to hash appear (see queueHash): none without
	// Checksum, a few for a small tree.
	var hashWG sync.WaitGroup
	v.startHasher = func() {
		hashWG.Add(1)
		go func() {
			defer hashWG.Done()
			for {
				v.hashIdle.Add(1)
				j, ok := <-v.hashes
				v.hashIdle.Add(-1)
				if !ok {
					return
				}
				v.compareContent(ctx, j)
			}
		}()
	}
	v.compareEntry(ctx, ".", rs, rd)
	if rs.Mode.IsDir() && rd.Mode.IsDir() {
		v.walkWG.Add(1)
		v.walkDir(ctx, ".")
	}
	v.walkWG.Wait()
	close(v.hashes)
	hashWG.Wait()

	v.mu.Lock()
	rep := v.rep
	v.mu.Unlock()
	rep.Files, rep.Dirs, rep.Symlinks, rep.Bytes = v.files.Load(), v.dirs.Load(), v.symlinks.Load(), v.bytes.Load()
	rep.Checksummed, rep.Specials, rep.Extra, rep.Differences = v.checksummed.Load(), v.specials.Load(), v.extra.Load(), v.diffs.Load()
	rep.Elapsed = time.Since(v.start)
	if err := ctx.Err(); err != nil {
		return &rep, fmt.Errorf("verify %s -> %s: %w", src, dst, err)
	}
	if rep.Differences > 0 {
		return &rep, fmt.Errorf("verify %s -> %s: %d differences: %w", src, dst, rep.Differences, ErrDifferences)
	}
	return &rep, nil
}

type hashJob struct{ name string }

// queueHash hands j to a hasher, starting one more when none is waiting (up to
// Workers); false when ctx is done first. Called by walks only, before Verify
// waits for the hashers.
func (v *verifier) queueHash(ctx context.Context, j hashJob) bool {
	if v.hashIdle.Load() == 0 {
		if n := v.hashersUp.Add(1); n <= int64(v.opts.Workers) {
			v.startHasher()
		} else {
			v.hashersUp.Add(-1)
		}
	}
	select {
	case v.hashes <- j:
		return true
	case <-ctx.Done():
		return false
	}
}

type verifier struct {
	src, dst FS
	opts     VerifyOptions
	sf, df   Features
	sx, dx   XattrFS // both set: extended attributes are compared
	xp       xattrPolicy
	gran     time.Duration
	start    time.Time

	walkers chan struct{}
	walkWG  sync.WaitGroup
	hashes  chan hashJob
	// startHasher starts one more goroutine hashing from hashes; hashersUp count
	// them, hashIdle those waiting for a file.
	startHasher         func()
	hashersUp, hashIdle atomic.Int64

	mu        sync.Mutex // guards rep's lists and the hardlink maps
	rep       VerifyReport
	fwd, back map[devIno]devIno

	files, dirs, symlinks, bytes, checksummed, specials, extra, diffs atomic.Int64
}

func (v *verifier) diff(name, what, want, got string) {
	v.diffs.Add(1)
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.opts.MaxDifferences == 0 || len(v.rep.List) < v.opts.MaxDifferences {
		v.rep.List = append(v.rep.List, Difference{Path: name, What: what, Want: want, Got: got})
	}
}

func (v *verifier) walkDir(ctx context.Context, name string) {
	defer v.walkWG.Done()
	if ctx.Err() != nil {
		return
	}
	sl, err := v.src.ReadDir(ctx, name)
	if err != nil {
		v.diff(name, "error", "", "reading source directory: "+err.Error())
		return
	}
	dl, err := v.dst.ReadDir(ctx, name)
	if err != nil {
		v.diff(name, "error", "", "reading destination directory: "+err.Error())
		return
	}
	dm := make(map[string]Info, len(dl))
	for _, d := range dl {
		dm[d.Name] = d
	}
	for _, s := range sl {
		if ctx.Err() != nil {
			return
		}
		p := join(name, s.Name)
		d, ok := dm[s.Name]
		delete(dm, s.Name)
		switch t := s.Mode.Type(); {
		case t == fs.ModeDir:
			v.dirs.Add(1)
		case t == fs.ModeSymlink:
			v.symlinks.Add(1)
		case t == 0:
			v.files.Add(1)
			v.bytes.Add(s.Size)
		default:
			v.specials.Add(1)
			continue
		}
		if !ok {
			v.diff(p, "missing", typeName(s.Mode), "")
			continue
		}
		if !v.compareEntry(ctx, p, s, d) {
			continue
		}
		if s.Mode.IsDir() {
			v.walkWG.Add(1)
			select {
			case v.walkers <- struct{}{}:
				go func() {
					defer func() { <-v.walkers }()
					v.walkDir(ctx, p)
				}()
			default:
				v.walkDir(ctx, p)
			}
		} else if s.Mode.IsRegular() && v.opts.Checksum && s.Size == d.Size {
			if !v.queueHash(ctx, hashJob{name: p}) {
				return
			}
		}
	}
	for _, d := range dm {
		p := join(name, d.Name)
		if isTempName(d.Name) {
			v.diff(p, "leftover-temp", "", typeName(d.Mode))
			continue
		}
		v.extra.Add(1)
		v.mu.Lock()
		if len(v.rep.ExtraPaths) < 100 {
			v.rep.ExtraPaths = append(v.rep.ExtraPaths, p)
		}
		v.mu.Unlock()
	}
}

// compareEntry compares one entry's metadata; it reports whether the types match
// (so the caller may descend or hash).
func (v *verifier) compareEntry(ctx context.Context, p string, s, d Info) bool {
	if s.Mode.Type() != d.Mode.Type() {
		v.diff(p, "type", typeName(s.Mode), typeName(d.Mode))
		return false
	}
	gid := s.GID
	if v.opts.GID != nil {
		gid = *v.opts.GID
	}
	perm := permBits(s.Mode)
	if s.Mode.IsRegular() && !v.opts.KeepSetID {
		perm &^= fs.ModeSetuid | fs.ModeSetgid
	}
	isLink := s.Mode.Type() == fs.ModeSymlink
	if !isLink || v.df.SymlinkOwner {
		if d.UID != v.opts.UID || d.GID != gid {
			v.diff(p, "owner", fmt.Sprintf("%d:%d", v.opts.UID, gid), fmt.Sprintf("%d:%d", d.UID, d.GID))
		}
	}
	if !isLink && permBits(d.Mode) != perm {
		v.diff(p, "mode", perm.String(), permBits(d.Mode).String())
	}
	if (!isLink || v.df.SymlinkTimes) && !s.ModTime.Truncate(v.gran).Equal(d.ModTime.Truncate(v.gran)) {
		v.diff(p, "mtime", s.ModTime.Truncate(v.gran).Format(time.RFC3339Nano), d.ModTime.Truncate(v.gran).Format(time.RFC3339Nano))
	}
	if (s.Mode.IsRegular() || s.Mode.IsDir()) && v.sx != nil && v.dx != nil {
		v.compareXattrs(ctx, p)
	}
	switch {
	case s.Mode.IsRegular():
		if s.Size != d.Size {
			v.diff(p, "size", fmt.Sprint(s.Size), fmt.Sprint(d.Size))
		}
		if v.sf.Inodes && v.df.Inodes {
			v.compareLinks(p, s, d)
		}
	case isLink:
		st, err := v.src.Readlink(ctx, p)
		if err != nil {
			v.diff(p, "error", "", "reading source symlink: "+err.Error())
			break
		}
		dt, err := v.dst.Readlink(ctx, p)
		if err != nil {
			v.diff(p, "error", "", "reading destination symlink: "+err.Error())
			break
		}
		if st != dt {
			v.diff(p, "target", st, dt)
		}
	}
	return true
}

// compareXattrs compares the attributes a copy keeps (see keptXattr): the
// source's, filtered as Copy filters them, with the destination's of the same
// namespaces (an SELinux label the destination gave itself is not a difference).
func (v *verifier) compareXattrs(ctx context.Context, p string) {
	sx, err := v.sx.Xattrs(ctx, p)
	if err != nil {
		v.diff(p, "error", "", "reading source extended attributes: "+err.Error())
		return
	}
	dx, err := v.dx.Xattrs(ctx, p)
	if err != nil {
		v.diff(p, "error", "", "reading destination extended attributes: "+err.Error())
		return
	}
	want, _ := v.xp.filter(sx)
	got := map[string][]byte{}
	for n, val := range dx {
		if keptXattr(n) {
			got[n] = val
		}
	}
	if !sameXattrs(want, got) {
		v.diff(p, "xattr", xattrNames(want), xattrNames(got))
	}
}

// xattrNames lists attribute names with a short digest of each value, sorted.
func xattrNames(x map[string][]byte) string {
	out := make([]string, 0, len(x))
	for n, val := range x {
		out = append(out, fmt.Sprintf("%s(%x)", n, sha256.Sum224(val))[:len(n)+10]+")")
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// compareLinks checks that names sharing an inode in the source share one in the
// destination, and the other way round. Only linked files are remembered.
func (v *verifier) compareLinks(p string, s, d Info) {
	if s.Nlink <= 1 && d.Nlink <= 1 {
		return
	}
	sk, dk := devIno{s.Dev, s.Ino}, devIno{d.Dev, d.Ino}
	v.mu.Lock()
	f, fok := v.fwd[sk]
	b, bok := v.back[dk]
	if !fok {
		v.fwd[sk] = dk
	}
	if !bok {
		v.back[dk] = sk
	}
	v.mu.Unlock()
	switch {
	case fok && f != dk:
		v.diff(p, "hardlink", "linked to another name", "a separate file")
	case bok && b != sk:
		v.diff(p, "hardlink", "a separate file", "linked to another name")
	}
}

func (v *verifier) compareContent(ctx context.Context, j hashJob) {
	if ctx.Err() != nil {
		return
	}
	sh, err := hashFile(ctx, v.src, j.name)
	if err != nil {
		v.diff(j.name, "error", "", "hashing source: "+err.Error())
		return
	}
	dh, err := hashFile(ctx, v.dst, j.name)
	if err != nil {
		v.diff(j.name, "error", "", "hashing destination: "+err.Error())
		return
	}
	v.checksummed.Add(1)
	if !bytes.Equal(sh, dh) {
		v.diff(j.name, "content", fmt.Sprintf("sha256:%x", sh), fmt.Sprintf("sha256:%x", dh))
	}
}

func hashFile(ctx context.Context, f FS, name string) ([]byte, error) {
	r, err := f.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

func typeName(m fs.FileMode) string {
	switch m.Type() {
	case 0:
		return "file"
	case fs.ModeDir:
		return "dir"
	case fs.ModeSymlink:
		return "symlink"
	default:
		return m.Type().String()
	}
}
