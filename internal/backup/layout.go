package backup

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind says whether a home belongs to a user profile or to a space.
type Kind string

const (
	Profile Kind = "profile"
	Space   Kind = "space"
)

// ManifestHeader is the first line of every manifest.
const ManifestHeader = "#studio-migrator-manifest v1"

// ErrBadManifest is returned for a manifest that cannot be applied safely or parsed.
var ErrBadManifest = errors.New("bad manifest")

// ErrNoBackup is returned when a home has no complete backup.
var ErrNoBackup = errors.New("no complete backup")

// Base returns the key prefix of one home's backups, ending in "/".
func Base(prefix, domain string, kind Kind, name string) string {
	p := strings.Trim(prefix, "/")
	if p != "" {
		p += "/"
	}
	return p + domain + "/" + string(kind) + "/" + name + "/"
}

// checkIdent refuses a domain, kind or name that would change the layout's shape.
func checkIdent(domain string, kind Kind, name string) error {
	if kind != Profile && kind != Space {
		return fmt.Errorf("backup kind %q: want %q or %q", kind, Profile, Space)
	}
	for what, v := range map[string]string{"domain": domain, "name": name} {
		if v == "" || v == "." || v == ".." || strings.ContainsAny(v, "/\x00") || !plain(v) {
			return fmt.Errorf("backup %s %q: empty, or has a slash or a character S3 keys cannot hold", what, v)
		}
	}
	return nil
}

// runLayout is the time part of a run ID; IDs sort by it, then by the suffix.
const runLayout = "20060102T150405.000000000Z"

// NewRunID returns a run ID for a run starting at t.
func NewRunID(t time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return t.UTC().Format(runLayout) + "-" + hex.EncodeToString(b[:])
}

// nextRunID returns run, or an ID that sorts after prev when run does not (a clock
// that went back): runs must sort in the order they were made.
func nextRunID(run, prev string) string {
	if prev == "" || run > prev {
		return run
	}
	return prev + "x"
}

// runTime reads the start time back from a run ID.
func runTime(run string) (time.Time, bool) {
	i := strings.IndexByte(run, '-')
	if i < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(runLayout, run[:i])
	return t, err == nil
}

func validRunID(run string) bool {
	_, ok := runTime(run)
	return ok && !strings.ContainsAny(run, "/\t\n") && plain(run)
}

// plain reports whether s can be written as it is in a manifest and an S3 key: valid
// UTF-8 without control characters.
func plain(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Entry is one line of a manifest.
type Entry struct {
	Type   byte // 'd', 'f' or 'l'
	Mode   fs.FileMode
	MTime  time.Time
	Size   int64
	Inode  string // "" or "<dev>:<ino>" for files with several links
	Run    string // run holding a file's content
	Path   string // real name, relative to the home
	Target string // symlink target
}

// Encoded reports whether the entry's names are hex in the manifest and its content
// key is under xdata/.
func (e *Entry) Encoded() bool { return !plain(e.Path) || (e.Type == 'l' && !plain(e.Target)) }

// DataKey returns the key (relative to the home's base) holding a file's content
// when run uploaded it.
func DataKey(run, path string) string {
	if plain(path) {
		return "data/" + run + "/" + path
	}
	return "xdata/" + run + "/" + hex.EncodeToString([]byte(path))
}

// FormatMTime writes t as the manifest does: seconds, a dot, 9 digits.
func FormatMTime(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

func parseMTime(s string) (time.Time, error) {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	var ns int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		frac += strings.Repeat("0", 9-len(frac))
		if ns, err = strconv.ParseInt(frac, 10, 64); err != nil || ns < 0 {
			return time.Time{}, fmt.Errorf("bad fraction %q", s)
		}
	}
	return time.Unix(n, ns), nil
}

// WriteManifest writes entries in the manifest format.
func WriteManifest(w io.Writer, entries []Entry) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	fmt.Fprintln(bw, ManifestHeader)
	for i := range entries {
		e := &entries[i]
		enc, p, t := "p", e.Path, e.Target
		if e.Encoded() {
			enc, p, t = "x", hex.EncodeToString([]byte(p)), hex.EncodeToString([]byte(t))
		}
		inode, run := e.Inode, e.Run
		if inode == "" {
			inode = "-"
		}
		if run == "" {
			run = "-"
		}
		fmt.Fprintf(bw, "%c\t%o\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", e.Type, modeBits(e.Mode), FormatMTime(e.MTime), e.Size, inode, run, enc, p, t)
	}
	return bw.Flush()
}

// ParseManifest reads a manifest and checks that applying it can only write below the
// home: it refuses (ErrBadManifest, naming the line) an absolute path, a ".." or
// empty component, a duplicate, or an entry below one that is not a directory.
func ParseManifest(r io.Reader) ([]Entry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var entries []Entry
	types := map[string]byte{}
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			if text != ManifestHeader {
				return nil, fmt.Errorf("%w: line 1: want %q, got %q", ErrBadManifest, ManifestHeader, text)
			}
			continue
		}
		if text == "" || text[0] == '#' {
			continue
		}
		e, err := parseEntry(text)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrBadManifest, line, err)
		}
		if err := checkPath(e.Path); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrBadManifest, line, err)
		}
		if _, dup := types[e.Path]; dup {
			return nil, fmt.Errorf("%w: line %d: %q listed twice", ErrBadManifest, line, e.Path)
		}
		// Every parent must be a directory listed before, or not listed at all (an
		// excluded or unreadable directory): never a file or a symlink, which a
		// restore would otherwise write through.
		for dir := parentOf(e.Path); dir != ""; dir = parentOf(dir) {
			if t, ok := types[dir]; ok && t != 'd' {
				return nil, fmt.Errorf("%w: line %d: %q is below %q, which is not a directory", ErrBadManifest, line, e.Path, dir)
			}
		}
		types[e.Path] = e.Type
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	if line == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadManifest)
	}
	return entries, nil
}

func parentOf(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	return p[:i]
}

// checkPath refuses a path that could leave the home.
func checkPath(p string) error {
	if p == "" || p == "." {
		return fmt.Errorf("empty path")
	}
	if p[0] == '/' {
		return fmt.Errorf("absolute path %q refused", p)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("path %q has a NUL byte", p)
	}
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "..":
			return fmt.Errorf("path %q has a \"..\" component, refused", p)
		case "", ".":
			return fmt.Errorf("path %q has an empty or \".\" component", p)
		}
	}
	return nil
}

func parseEntry(text string) (Entry, error) {
	f := strings.Split(text, "\t")
	if len(f) != 9 {
		return Entry{}, fmt.Errorf("want 9 tab-separated fields, got %d", len(f))
	}
	var e Entry
	if len(f[0]) != 1 || !strings.Contains("dfl", f[0]) {
		return e, fmt.Errorf("type %q: want d, f or l", f[0])
	}
	e.Type = f[0][0]
	m, err := strconv.ParseUint(f[1], 8, 32)
	if err != nil || m > 0o7777 {
		return e, fmt.Errorf("mode %q: want octal permission bits", f[1])
	}
	e.Mode = fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		e.Mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		e.Mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		e.Mode |= fs.ModeSticky
	}
	if e.MTime, err = parseMTime(f[2]); err != nil {
		return e, fmt.Errorf("mtime %q: %v", f[2], err)
	}
	if e.Size, err = strconv.ParseInt(f[3], 10, 64); err != nil || e.Size < 0 {
		return e, fmt.Errorf("size %q", f[3])
	}
	if f[4] != "-" {
		e.Inode = f[4]
	}
	if f[5] != "-" {
		e.Run = f[5]
	}
	if e.Type == 'f' && !validRunID(e.Run) {
		return e, fmt.Errorf("file without a valid run %q", f[5])
	}
	switch f[6] {
	case "p":
		e.Path, e.Target = f[7], f[8]
	case "x":
		p, err1 := hex.DecodeString(f[7])
		t, err2 := hex.DecodeString(f[8])
		if err1 != nil || err2 != nil {
			return e, fmt.Errorf("enc x with a path or target that is not hex")
		}
		e.Path, e.Target = string(p), string(t)
	default:
		return e, fmt.Errorf("enc %q: want p or x", f[6])
	}
	if e.Type == 'l' && e.Target == "" {
		return e, fmt.Errorf("symlink %q without a target", e.Path)
	}
	return e, nil
}

// modeBits returns the manifest's octal mode of m (permission bits and
// setuid/setgid/sticky in their Unix positions).
func modeBits(m fs.FileMode) uint32 {
	b := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

// manifestBytes is WriteManifest into memory.
func manifestBytes(entries []Entry) []byte {
	var b bytes.Buffer
	WriteManifest(&b, entries)
	return b.Bytes()
}
