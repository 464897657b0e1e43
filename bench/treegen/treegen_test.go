//go:build linux

package treegen_test

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/studio-migrator/studio-migrator/bench/treegen"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// describe lists every entry with its type, mode, owner, mtime, size, link target
// and content hash, so two trees compare as two strings.
func describe(t *testing.T, root string) (string, treegen.Stats) {
	t.Helper()
	var b strings.Builder
	var st treegen.Stats
	inodes := map[uint64]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		sys := fi.Sys().(*syscall.Stat_t)
		rel, _ := filepath.Rel(root, p)
		extra := ""
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			st.Symlinks++
			extra, _ = os.Readlink(p)
			if _, err := os.Stat(p); err != nil {
				t.Errorf("dangling symlink %s -> %s", rel, extra)
			}
		case fi.IsDir():
			st.Dirs++
			if ents, _ := os.ReadDir(p); len(ents) == 0 {
				st.EmptyDirs++
			}
		default:
			if inodes[sys.Ino] {
				st.Hardlinks++
			} else {
				inodes[sys.Ino] = true
				st.Files++
				st.Bytes += fi.Size()
				if fi.Mode()&0o111 != 0 {
					st.Execs++
				}
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			io.Copy(h, f)
			f.Close()
			extra = fmt.Sprintf("%x nlink=%d", h.Sum(nil)[:8], sys.Nlink)
		}
		fmt.Fprintf(&b, "%s %v %d:%d %d %d %s\n", rel, fi.Mode(), sys.Uid, sys.Gid, fi.ModTime().UnixNano(), fi.Size(), extra)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), st
}

func TestGenerateDeterministic(t *testing.T) {
	testutil.RequireRoot(t)
	cfg := treegen.Config{Seed: 7, Files: 2000, LargeFiles: 2, LargeSize: 3 << 20}
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	sa, err := treegen.Generate(a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := treegen.Generate(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	da, walked := describe(t, a)
	db, _ := describe(t, b)
	if da != db {
		t.Fatal("same seed gave different trees")
	}
	if sa != sb || sa != walked {
		t.Fatalf("stats: generate %+v, again %+v, walked %+v", sa, sb, walked)
	}
	if sa.Files != cfg.Files+cfg.LargeFiles {
		t.Errorf("files = %d, want %d", sa.Files, cfg.Files+cfg.LargeFiles)
	}
	if sa.Hardlinks == 0 || sa.Symlinks == 0 || sa.EmptyDirs == 0 || sa.Execs == 0 {
		t.Errorf("tree lacks a feature: %v", sa)
	}
	for _, line := range strings.Split(da, "\n") {
		if line != "" && !strings.Contains(line, " 200001:1001 ") {
			t.Fatalf("entry not owned by the old UID: %s", line)
		}
	}
	other, _ := describe(t, mustGen(t, treegen.Config{Seed: 8, Files: 2000, LargeFiles: 2, LargeSize: 3 << 20}))
	if other == da {
		t.Error("different seeds gave the same tree")
	}
	t.Log(sa)
}

func mustGen(t *testing.T, cfg treegen.Config) string {
	root := filepath.Join(t.TempDir(), "h")
	if _, err := treegen.Generate(root, cfg); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestShapes checks the layout of each non-home shape on disk: how many files sit
// in each directory, their sizes, their owner.
func TestShapes(t *testing.T) {
	testutil.RequireRoot(t)
	for _, tc := range []struct {
		shape    string
		files    int
		dirFiles map[string]int // files per directory (relative), exactly
		maxSize  int64
	}{
		{treegen.ShapeFlat, 250, map[string]int{"train": 250}, 1 << 20},
		{treegen.ShapeDirs100, 250, map[string]int{"data/d000": 100, "data/d001": 100, "data/d002": 50}, 1 << 20},
		{treegen.ShapeTiny, 300, map[string]int{"data/d000": 100, "data/d001": 100, "data/d002": 100}, 64},
	} {
		t.Run(tc.shape, func(t *testing.T) {
			root := mustGen(t, treegen.Config{Shape: tc.shape, Seed: 3, Files: tc.files})
			desc, st := describe(t, root)
			if st.Files != tc.files || st.Hardlinks != 0 || st.Symlinks != 0 {
				t.Errorf("stats %+v, want %d plain files", st, tc.files)
			}
			got := map[string]int{}
			filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					fi, _ := d.Info()
					if fi.Size() > tc.maxSize || fi.Size() < 0 {
						t.Errorf("%s: size %d > %d", p, fi.Size(), tc.maxSize)
					}
					rel, _ := filepath.Rel(root, filepath.Dir(p))
					got[rel]++
				}
				return nil
			})
			if fmt.Sprint(got) != fmt.Sprint(tc.dirFiles) {
				t.Errorf("files per directory %v, want %v", got, tc.dirFiles)
			}
			if n := strings.Count(desc, " 200001:1001 "); n != st.Entries() {
				t.Errorf("%d of %d entries owned by the old UID", n, st.Entries())
			}
		})
	}
	if _, err := treegen.Generate(filepath.Join(t.TempDir(), "x"), treegen.Config{Shape: "round"}); err == nil || !strings.Contains(err.Error(), "unknown shape") {
		t.Errorf("unknown shape: %v", err)
	}
}
