//go:build linux

package treegen

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Config describes the tree. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// Shape is the layout: ShapeHome (the default), ShapeFlat, ShapeDirs100 or
	// ShapeTiny (see Shapes).
	Shape string
	// Seed selects the tree; the same seed gives the same tree.
	Seed int64
	// Files is the number of small regular files (inodes; hardlink names are extra).
	Files int
	// MedianSize and Sigma shape the log-normal size distribution of small files:
	// size = MedianSize * exp(Sigma * N(0,1)), capped at MaxSize.
	MedianSize int64
	Sigma      float64
	MaxSize    int64
	// LargeFiles files of LargeSize bytes each go under data/.
	LargeFiles int
	LargeSize  int64
	// UID and GID own every entry, the root included (the "old" Studio UID).
	UID, GID uint32
	// Workers write file contents in parallel; it changes speed, never the result.
	Workers int
}

// Tree shapes. The per-directory lock of Linux (one create at a time in one
// directory) makes the number of files per directory what bounds a copy on EFS, so
// the benchmark copies each of these.
const (
	// ShapeHome is a Studio home: many small directories (.git/objects fan-out,
	// a conda env, projects, a pip cache), hardlinks, symlinks, large files.
	ShapeHome = "home"
	// ShapeFlat is every file in one directory (train/), like a dataset of images.
	ShapeFlat = "flat"
	// ShapeDirs100 is files in directories of 100 (data/d000/...), like a
	// node_modules or a sharded dataset.
	ShapeDirs100 = "dirs100"
	// ShapeTiny is files of 1-64 bytes in directories of 100: per-file cost only.
	ShapeTiny = "tiny"
)

// Shapes is every shape.
var Shapes = []string{ShapeHome, ShapeFlat, ShapeDirs100, ShapeTiny}

// DefaultConfig is a 100k-file home of about 0.8 GB like a long-used Studio home.
func DefaultConfig() Config {
	return Config{
		Seed:       1,
		Files:      100_000,
		MedianSize: 4096,
		Sigma:      1.0,
		MaxSize:    1 << 20,
		LargeFiles: 3,
		LargeSize:  50 << 20,
		UID:        200001,
		GID:        1001,
		Workers:    4,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Seed == 0 {
		c.Seed = d.Seed
	}
	if c.Files == 0 {
		c.Files = d.Files
	}
	if c.MedianSize == 0 {
		c.MedianSize = d.MedianSize
	}
	if c.Sigma == 0 {
		c.Sigma = d.Sigma
	}
	if c.MaxSize == 0 {
		c.MaxSize = d.MaxSize
	}
	if c.UID == 0 {
		c.UID = d.UID
	}
	if c.GID == 0 {
		c.GID = d.GID
	}
	if c.Workers <= 0 {
		c.Workers = d.Workers
	}
	if c.Shape == "" {
		c.Shape = ShapeHome
	}
	// LargeFiles/LargeSize: zero means none, so a smoke test can ask for none.
	return c
}

// Stats counts what Generate wrote.
type Stats struct {
	Files     int   // regular-file inodes
	Hardlinks int   // extra names for those inodes (Nlink-1 summed)
	Symlinks  int   // symlinks, all relative and pointing inside the tree
	Dirs      int   // directories, the root included
	EmptyDirs int   // directories with no entries
	Execs     int   // regular files with mode 0755
	Bytes     int64 // sum of regular-file sizes, each inode counted once
}

// Entries is the number of names in the tree (the root included).
func (s Stats) Entries() int { return s.Files + s.Hardlinks + s.Symlinks + s.Dirs }

func (s Stats) String() string {
	return fmt.Sprintf("%d entries: %d files (%d executable, %.1f MiB), %d extra hardlink names, %d symlinks, %d dirs (%d empty)",
		s.Entries(), s.Files, s.Execs, float64(s.Bytes)/(1<<20), s.Hardlinks, s.Symlinks, s.Dirs, s.EmptyDirs)
}

type fileSpec struct {
	name  string
	size  int64
	perm  fs.FileMode
	mtime time.Time
	off   int // offset into the content pool
}

type linkSpec struct {
	oldname, name string // hardlink: oldname is a file; symlink: oldname is the target
	mtime         time.Time
}

type dirSpec struct {
	perm  fs.FileMode
	mtime time.Time
}

// plan is the whole tree, computed before anything is written so the random
// stream (and with it the tree) does not depend on write order or errors.
type plan struct {
	files    []fileSpec
	hard     []linkSpec
	sym      []linkSpec
	dirs     map[string]*dirSpec
	nonEmpty map[string]bool
}

const poolSize = 4 << 20

var epoch = time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)

// Generate writes the tree for cfg under root, which must not exist or be an empty
// directory; root itself becomes the home directory (owned by cfg.UID). Generate
// must run as root to give entries another owner.
func Generate(root string, cfg Config) (Stats, error) {
	cfg = cfg.withDefaults()
	if !slices.Contains(Shapes, cfg.Shape) {
		return Stats{}, fmt.Errorf("treegen: unknown shape %q (want one of %s)", cfg.Shape, strings.Join(Shapes, ", "))
	}
	if ents, err := os.ReadDir(root); err == nil && len(ents) > 0 {
		return Stats{}, fmt.Errorf("treegen: %s is not empty", root)
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed))
	p := buildPlan(rng, cfg)
	pool := make([]byte, poolSize)
	for i := 0; i < len(pool); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			pool[i+j] = byte(v >> (8 * j))
		}
	}
	st := p.stats()
	if err := p.write(root, pool, cfg); err != nil {
		return Stats{}, err
	}
	return st, nil
}

func (p *plan) stats() Stats {
	var s Stats
	for _, f := range p.files {
		s.Files++
		s.Bytes += f.size
		if f.perm&0o111 != 0 {
			s.Execs++
		}
	}
	s.Hardlinks = len(p.hard)
	s.Symlinks = len(p.sym)
	s.Dirs = len(p.dirs)
	for d := range p.dirs {
		if !p.nonEmpty[d] {
			s.EmptyDirs++
		}
	}
	return s
}

func buildPlan(rng *rand.Rand, cfg Config) *plan {
	p := &plan{dirs: map[string]*dirSpec{}, nonEmpty: map[string]bool{}}
	when := func() time.Time { return epoch.Add(time.Duration(rng.Int64N(365*86400)) * time.Second) }
	dir := func(name string, perm fs.FileMode) {
		for d := name; ; d = path.Dir(d) {
			if _, ok := p.dirs[d]; !ok {
				p.dirs[d] = &dirSpec{perm: 0o755, mtime: when()}
			}
			if d != "." {
				p.nonEmpty[path.Dir(d)] = true
			}
			if d == "." {
				break
			}
		}
		if perm != 0 {
			p.dirs[name].perm = perm
		}
	}
	size := func() int64 {
		s := int64(float64(cfg.MedianSize) * math.Exp(cfg.Sigma*rng.NormFloat64()))
		return min(max(s, 0), cfg.MaxSize)
	}
	file := func(name string, sz int64, perm fs.FileMode) {
		dir(path.Dir(name), 0)
		p.nonEmpty[path.Dir(name)] = true
		p.files = append(p.files, fileSpec{name: name, size: sz, perm: perm, mtime: when(), off: rng.IntN(poolSize)})
	}
	hardlink := func(oldname, name string) {
		dir(path.Dir(name), 0)
		p.nonEmpty[path.Dir(name)] = true
		p.hard = append(p.hard, linkSpec{oldname: oldname, name: name})
	}
	symlink := func(target, name string) {
		dir(path.Dir(name), 0)
		p.nonEmpty[path.Dir(name)] = true
		p.sym = append(p.sym, linkSpec{oldname: target, name: name, mtime: when()})
	}
	hex := func(n int) string {
		const digits = "0123456789abcdef"
		b := make([]byte, n)
		for i := range b {
			b[i] = digits[rng.IntN(16)]
		}
		return string(b)
	}

	dir(".", 0o755)
	switch cfg.Shape {
	case ShapeFlat:
		for i := 0; i < cfg.Files; i++ {
			file(fmt.Sprintf("train/img_%06d.jpg", i), size(), 0o644)
		}
		p.addLarge(cfg, file)
		return p
	case ShapeDirs100, ShapeTiny:
		for i := 0; i < cfg.Files; i++ {
			sz := size()
			if cfg.Shape == ShapeTiny {
				sz = 1 + rng.Int64N(64)
			}
			file(fmt.Sprintf("data/d%03d/f%03d.bin", i/100, i%100), sz, 0o644)
		}
		p.addLarge(cfg, file)
		return p
	}

	// Fixed dotfiles and empty directories every Studio home has.
	file(".bashrc", 3771, 0o644)
	file(".profile", 807, 0o644)
	dir(".ssh", 0o700)
	file(".ssh/id_ed25519", 411, 0o600)
	file(".ssh/authorized_keys", 98, 0o600)
	for _, d := range []string{".ipython/profile_default/startup", ".local/share/Trash", ".jupyter/lab/workspaces", ".cache/empty"} {
		dir(d, 0)
	}

	n := max(0, cfg.Files-len(p.files)-1) // -1: the interpreter added below
	nGit := n * 15 / 100
	nConda := n * 35 / 100
	nProj := n * 30 / 100
	nCache := n - nGit - nConda - nProj

	// .git: HEAD, refs, and loose objects spread over the 256 fan-out directories,
	// read-only as git writes them.
	dir(".git/refs/heads", 0)
	for i := 0; i < 256; i++ {
		dir(fmt.Sprintf(".git/objects/%02x", i), 0o755)
	}
	for i := 0; i < nGit; i++ {
		file(fmt.Sprintf(".git/objects/%02x/%s", i%256, hex(38)), size()/4+20, 0o444)
	}

	// A conda env: packages extracted once under .conda/pkgs and hardlinked into the
	// env (conda's default), a bin/ of executables and interpreter symlinks, and
	// versioned shared libraries behind relative symlink chains.
	env := ".conda/envs/x"
	site := env + "/lib/python3.11/site-packages"
	nPkgs := max(1, nConda/150)
	for i := 0; i < nConda; i++ {
		pkg := fmt.Sprintf("pkg%03d", i%nPkgs)
		sub := fmt.Sprintf("%s/sub%d", pkg, (i/nPkgs)%4)
		rel := fmt.Sprintf("%s/mod_%d.py", sub, i)
		switch {
		case i%50 == 7:
			// Executable entry point in bin/, and a relative symlink to it from the package.
			name := fmt.Sprintf("%s/bin/tool%d", env, i)
			file(name, size(), 0o755)
			symlink(fmt.Sprintf("../../../../bin/tool%d", i), fmt.Sprintf("%s/%s/tool%d", site, pkg, i))
		case i%50 == 13:
			// libfooN.so -> libfooN.so.1 -> libfooN.so.1.2.3, as conda ships them.
			real := fmt.Sprintf("%s/lib/libfoo%d.so.1.2.3", env, i)
			file(real, size()*4, 0o755)
			symlink(fmt.Sprintf("libfoo%d.so.1.2.3", i), fmt.Sprintf("%s/lib/libfoo%d.so.1", env, i))
			symlink(fmt.Sprintf("libfoo%d.so.1", i), fmt.Sprintf("%s/lib/libfoo%d.so", env, i))
		case i%2 == 0:
			// Extracted package file, hardlinked into the env; every 10th is also
			// linked into a second env (three names, one inode).
			src := fmt.Sprintf(".conda/pkgs/%s-1.0/site-packages/%s", pkg, rel)
			file(src, size(), 0o644)
			hardlink(src, site+"/"+rel)
			if i%10 == 0 {
				hardlink(src, fmt.Sprintf(".conda/envs/y/lib/python3.11/site-packages/%s", rel))
			}
		default:
			file(site+"/"+rel, size(), 0o644)
		}
	}
	file(env+"/bin/python3.11", 6<<20, 0o755)
	symlink("python3.11", env+"/bin/python3")
	symlink("python3", env+"/bin/python")
	dir(env+"/conda-meta/history.d", 0)

	// Projects: sources, notebooks, data, scripts, scratch directories left empty.
	nProjects := max(1, nProj/400)
	for i := 0; i < nProj; i++ {
		pr := fmt.Sprintf("projects/p%02d", i%nProjects)
		k := i / nProjects
		switch k % 10 {
		case 0:
			file(fmt.Sprintf("%s/run%d.sh", pr, k), size()/2, 0o755)
		case 1, 2:
			file(fmt.Sprintf("%s/notebooks/nb%d.ipynb", pr, k), size()*2, 0o644)
		case 3, 4, 5:
			file(fmt.Sprintf("%s/data/d%d/part-%05d.csv", pr, k%7, k), size(), 0o664)
		default:
			file(fmt.Sprintf("%s/src/m%d/f%d.py", pr, k%13, k), size(), 0o644)
		}
		if k == 0 {
			dir(pr+"/data", 0)
			dir(pr+"/tmp", 0o775)
			dir(pr+"/out/empty", 0)
			symlink("../data", pr+"/notebooks/data")
		}
	}

	// Caches: pip's three-level hashed layout.
	for i := 0; i < nCache; i++ {
		file(fmt.Sprintf(".cache/pip/http/%s/%s/%s/%s", hex(1), hex(1), hex(1), hex(40)), size(), 0o600)
	}

	p.addLarge(cfg, file)
	return p
}

// addLarge adds cfg.LargeFiles files of cfg.LargeSize bytes under data/.
func (p *plan) addLarge(cfg Config, file func(name string, sz int64, perm fs.FileMode)) {
	for i := 0; i < cfg.LargeFiles; i++ {
		file(fmt.Sprintf("data/large-%d.bin", i), cfg.LargeSize, 0o644)
	}
}

func (p *plan) write(root string, pool []byte, cfg Config) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(p.dirs))
	for d := range p.dirs {
		names = append(names, d)
	}
	sort.Strings(names)
	for _, d := range names {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		work = make(chan fileSpec)
	)
	for w := 0; w < cfg.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				if err := writeFile(filepath.Join(root, f.name), f, pool, cfg); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, f := range p.files {
		work <- f
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	for _, l := range p.hard {
		if err := os.Link(filepath.Join(root, l.oldname), filepath.Join(root, l.name)); err != nil {
			return err
		}
	}
	for _, l := range p.sym {
		name := filepath.Join(root, l.name)
		if err := os.Symlink(l.oldname, name); err != nil {
			return err
		}
		if err := os.Lchown(name, int(cfg.UID), int(cfg.GID)); err != nil {
			return err
		}
		if err := lutimes(name, l.mtime); err != nil {
			return err
		}
	}
	// Directories last and deepest first: creating entries changes a directory's mtime.
	sort.Slice(names, func(i, j int) bool {
		return strings.Count(names[i], "/") > strings.Count(names[j], "/") || (strings.Count(names[i], "/") == strings.Count(names[j], "/") && names[i] > names[j])
	})
	for _, d := range names {
		if d == "." {
			continue
		}
		if err := finishDir(filepath.Join(root, d), p.dirs[d], cfg); err != nil {
			return err
		}
	}
	return finishDir(root, p.dirs["."], cfg)
}

func finishDir(name string, d *dirSpec, cfg Config) error {
	if err := os.Lchown(name, int(cfg.UID), int(cfg.GID)); err != nil {
		return err
	}
	if err := os.Chmod(name, d.perm); err != nil {
		return err
	}
	return os.Chtimes(name, d.mtime, d.mtime)
}

func writeFile(name string, f fileSpec, pool []byte, cfg Config) error {
	fh, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	off := f.off
	for left := f.size; left > 0; {
		chunk := min(left, int64(len(pool)-off), 1<<20)
		if _, err := fh.Write(pool[off : off+int(chunk)]); err != nil {
			fh.Close()
			return err
		}
		left -= chunk
		off = (off + int(chunk)) % len(pool)
	}
	// Owner before mode: chown clears setuid/setgid bits, so the mode goes last.
	if err := fh.Chown(int(cfg.UID), int(cfg.GID)); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Chmod(f.perm); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return err
	}
	return os.Chtimes(name, f.mtime, f.mtime)
}

func lutimes(name string, t time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}
