//go:build linux

package harness

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
)

// entry is one name of a tree as the verifier sees it.
type entry struct {
	typ    byte // 'f' regular file, 'd' directory, 'l' symlink, '?' other
	perm   fs.FileMode
	uid    uint32
	gid    uint32
	mtime  int64 // unix ns
	size   int64
	target string
	ino    uint64
	sum    uint32
}

// manifest is every entry of a tree by slash-separated relative name ("." is the root).
type manifest struct {
	entries map[string]*entry
	files   int   // regular-file inodes
	bytes   int64 // their bytes
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// scan walks root without following symlinks and checksums every regular file's
// contents with workers goroutines.
func scan(root string, workers int) (*manifest, error) {
	m := &manifest{entries: map[string]*entry{}}
	var files []string
	seen := map[uint64]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		e := &entry{
			perm:  fs.FileMode(st.Mode & 0o7777),
			uid:   st.Uid,
			gid:   st.Gid,
			mtime: st.Mtim.Nano(),
			size:  st.Size,
			ino:   st.Ino,
		}
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFREG:
			e.typ = 'f'
			files = append(files, rel)
			if !seen[st.Ino] {
				seen[st.Ino] = true
				m.files++
				m.bytes += st.Size
			}
		case syscall.S_IFDIR:
			e.typ = 'd'
			e.size = 0
		case syscall.S_IFLNK:
			e.typ = 'l'
			if e.target, err = os.Readlink(p); err != nil {
				return err
			}
		default:
			e.typ = '?'
		}
		m.entries[rel] = e
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scanning %s: %w", root, err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		work = make(chan string)
	)
	for w := 0; w < max(1, workers); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rel := range work {
				sum, err := checksum(filepath.Join(root, filepath.FromSlash(rel)))
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					m.entries[rel].sum = sum
				}
				mu.Unlock()
			}
		}()
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	return m, errors.Join(errs...)
}

func checksum(name string) (uint32, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	_, err = io.Copy(h, f)
	return h.Sum32(), err
}

// ownerRule says what owner a copy must carry.
type ownerRule int

const (
	ownerNew    ownerRule = iota // the new UID, GID kept from the source
	ownerSource                  // the source's UID and GID (cp -a: no re-own)
	ownerAny                     // not checked (scp, sftp cannot chown)
)

// contract is what a tool's output is checked against.
type contract struct {
	Name      string
	owner     ownerRule
	hardlinks bool // source hardlink groups must stay single inodes
	exact     bool // same names and types (symlinks as links, empty dirs), modes, mtimes, no extras
}

var (
	contractFull      = contract{Name: "full", owner: ownerNew, hardlinks: true, exact: true}
	contractReference = contract{Name: "reference: owners kept", owner: ownerSource, hardlinks: true, exact: true}
	contractNoLinks   = contract{Name: "hardlinks split", owner: ownerNew, exact: true}
	contractContent   = contract{Name: "content only: no chown, links followed", owner: ownerAny}
)

// problems collects the first few differences and counts the rest.
type problems struct {
	n     int
	first []string
}

func (p *problems) add(format string, args ...any) {
	p.n++
	if len(p.first) < 5 {
		p.first = append(p.first, fmt.Sprintf(format, args...))
	}
}

func (p *problems) err() error {
	if p.n == 0 {
		return nil
	}
	return fmt.Errorf("%d problems: %s", p.n, strings.Join(p.first, "; "))
}

// verify checks dst (a copy of src) against contract c; newUID is the UID a
// re-owning tool must have given every entry.
func verify(src, dst *manifest, c contract, newUID uint32) error {
	var p problems
	names := make([]string, 0, len(src.entries))
	for n := range src.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	dstInoOf := map[uint64]uint64{} // source inode -> destination inode
	srcInoOf := map[uint64]uint64{} // destination inode -> source inode
	for _, name := range names {
		s := src.entries[name]
		d, ok := dst.entries[name]
		if !c.exact && s.typ != 'f' {
			continue // links may be followed and directories recreated: only file contents count
		}
		if !ok {
			p.add("%s: missing", name)
			continue
		}
		if s.typ != d.typ {
			p.add("%s: type %c, want %c", name, d.typ, s.typ)
			continue
		}
		switch c.owner {
		case ownerNew:
			if d.uid != newUID || d.gid != s.gid {
				p.add("%s: owner %d:%d, want %d:%d", name, d.uid, d.gid, newUID, s.gid)
			}
		case ownerSource:
			if d.uid != s.uid || d.gid != s.gid {
				p.add("%s: owner %d:%d, want %d:%d", name, d.uid, d.gid, s.uid, s.gid)
			}
		}
		if c.exact && s.typ != 'l' {
			if d.perm != s.perm {
				p.add("%s: mode %o, want %o", name, d.perm, s.perm)
			}
			if d.mtime != s.mtime {
				p.add("%s: mtime %d, want %d", name, d.mtime, s.mtime)
			}
		}
		switch s.typ {
		case 'l':
			if d.target != s.target {
				p.add("%s: symlink to %q, want %q", name, d.target, s.target)
			}
		case 'f':
			if d.size != s.size || d.sum != s.sum {
				p.add("%s: contents differ (size %d, want %d)", name, d.size, s.size)
			}
			if c.hardlinks {
				if di, ok := dstInoOf[s.ino]; ok && di != d.ino {
					p.add("%s: hardlink to the same source inode became a separate file", name)
				}
				if si, ok := srcInoOf[d.ino]; ok && si != s.ino {
					p.add("%s: shares an inode with an unrelated file", name)
				}
				dstInoOf[s.ino], srcInoOf[d.ino] = d.ino, s.ino
			}
		}
	}
	if c.exact {
		for name := range dst.entries {
			if _, ok := src.entries[name]; !ok {
				p.add("%s: not in the source (left-over temporary?)", name)
			}
		}
	}
	return p.err()
}
