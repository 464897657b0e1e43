package demo

import (
	"fmt"
	"hash/fnv"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

// fillHome writes a home-like tree into dir (which exists), about n regular files
// from a generator seeded by seed and the owner's name (not its UID, whose order
// depends on which create finished first), everything owned by uid:HomeGID with fixed past mtimes.
// It returns the number of regular files (hardlinks counted once) and their bytes.
//
// The tree holds what makes home directories hard to move: many small files (a git
// object store), a conda environment with an executable, a hardlink and a relative
// symlink, a private file, empty directories, one larger file, and a symlink that
// points outside the home (the copy must keep it as a link, never follow it).
func fillHome(dir string, uid uint32, n int, seed int64, name string) (files int, bytes int64, err error) {
	h := fnv.New64a()
	h.Write([]byte(name))
	rng := rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
	gid := emulator.HomeGID
	epoch := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	var dirs []string // every directory made, parents after children, once each
	seen := map[string]bool{}

	mkdir := func(rel string) error {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		for d := rel; d != "." && d != "" && !seen[d]; d = filepath.Dir(d) {
			seen[d] = true
			dirs = append(dirs, d)
		}
		return nil
	}
	write := func(rel string, size int, perm fs.FileMode) error {
		if err := mkdir(filepath.Dir(rel)); err != nil {
			return err
		}
		data := make([]byte, size)
		for i := range data {
			data[i] = byte('a' + rng.IntN(26))
		}
		p := filepath.Join(dir, rel)
		if err := os.WriteFile(p, data, perm); err != nil {
			return err
		}
		if err := os.Chmod(p, perm); err != nil { // WriteFile's perm is masked by umask
			return err
		}
		files++
		bytes += int64(size)
		return touch(p, uid, gid, epoch.Add(time.Duration(rng.IntN(1e6))*time.Second))
	}
	// Log-normal sizes around 4 KiB, like most files in a home.
	smallSize := func() int { return int(math.Min(math.Exp(8.3+1.2*rng.NormFloat64()), 256<<10)) }

	nb := max(n/10, 3)
	for i := 0; i < nb; i++ {
		if err := write(fmt.Sprintf("notebooks/analysis-%03d.ipynb", i), smallSize(), 0o644); err != nil {
			return 0, 0, err
		}
	}
	for i := 0; files < n-12; i++ {
		rel := fmt.Sprintf(".git/objects/%02x/%038x", rng.IntN(256), rng.Uint64())
		if err := write(rel, smallSize()/4+16, 0o444); err != nil {
			return 0, 0, err
		}
	}
	env := ".conda/envs/demo"
	steps := []error{
		write(env+"/bin/python3.11", 64<<10, 0o755),
		write(env+"/lib/python3.11/site-packages/demo/__init__.py", 512, 0o644),
		write(".ssh/id_ed25519", 411, 0o600),
		write("data/model.bin", 2<<20, 0o644),
		mkdir("scratch/empty"),
		mkdir(".cache/pip"),
	}
	if err := firstErr(steps); err != nil {
		return 0, 0, err
	}
	links := []struct{ target, name string }{
		{"python3.11", env + "/bin/python"},
		{"notebooks/analysis-000.ipynb", "latest.ipynb"},
		{"/etc/passwd", "outside-link"}, // points out of the home: copied as a link, never followed
	}
	for _, l := range links {
		p := filepath.Join(dir, l.name)
		if err := os.Symlink(l.target, p); err != nil {
			return 0, 0, err
		}
		if err := os.Lchown(p, int(uid), gid); err != nil {
			return 0, 0, err
		}
	}
	if err := os.Link(filepath.Join(dir, env, "bin/python3.11"), filepath.Join(dir, env, "bin/python3")); err != nil {
		return 0, 0, err
	}
	// Directories last, so their mtimes are not moved by their children afterwards.
	for i := range dirs {
		if err := touch(filepath.Join(dir, dirs[i]), uid, gid, epoch); err != nil {
			return 0, 0, err
		}
	}
	return files, bytes, touch(dir, uid, gid, epoch)
}

func touch(p string, uid uint32, gid int, mtime time.Time) error {
	if err := os.Lchown(p, int(uid), gid); err != nil {
		return err
	}
	return os.Chtimes(p, mtime, mtime)
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
