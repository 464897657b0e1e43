package backup_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/studio-migrator/studio-migrator/internal/backup"
	"github.com/studio-migrator/studio-migrator/internal/backup/s3test"
	"github.com/studio-migrator/studio-migrator/internal/efs"
)

// invalidName is a file name that is not valid UTF-8 (Latin-1 "café").
const invalidName = "caf\xe9.txt"

// makeHome builds a home with every kind of entry a backup must keep.
func makeHome(t *testing.T, root string) {
	t.Helper()
	mt := time.Date(2024, 3, 1, 12, 0, 0, 123456789, time.UTC)
	file := func(name, content string, perm fs.FileMode) {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, perm); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mt, mt)
		mt = mt.Add(time.Minute + 7*time.Nanosecond)
	}
	file("notebook.ipynb", `{"cells": []}`, 0o644)
	file("envs/py/bin/python3", "#!/bin/sh\necho hi\n", 0o755)
	file("envs/py/bin/tool", "#!/bin/sh\n", 0o4750)
	file("with space/a file.txt", "spaces", 0o600)
	file("ünïcødé/日本語.txt", "utf-8", 0o644)
	file(invalidName, "latin-1 name", 0o644)
	file("tab\there.txt", "control character", 0o644)
	file("big.bin", strings.Repeat("0123456789abcdef", 6<<20/16+5), 0o644) // > 5 MiB: multipart
	file("empty.txt", "", 0o644)
	file(".cache/pip/junk", "cache", 0o644) // excluded by default
	for _, l := range [][2]string{{"envs/py/bin/python", "python3"}, {"dangling", "does/not/exist"}, {"abs-link", "/etc/passwd"}, {"dirlink", "envs"}} {
		if err := os.Symlink(l[1], filepath.Join(root, l[0])); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(root, "notebook.ipynb"), filepath.Join(root, "envs/hardlink.ipynb")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"empty-dir", "envs/empty", "private"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.Chmod(filepath.Join(root, "private"), 0o700)
	// Directory mtimes last (creating entries changed them).
	dt := time.Date(2023, 1, 2, 3, 4, 5, 600000000, time.UTC)
	var dirs []string
	filepath.Walk(root, func(p string, fi fs.FileInfo, err error) error {
		if err == nil && fi.IsDir() && p != root {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Chtimes(dirs[i], dt, dt)
	}
}

// desc is what a restore must give back for one entry.
type desc struct {
	Mode    string
	MTime   string
	Content string
	Target  string
	UID     uint32
	Link    string // first path of a hardlink group
}

// snapshot describes the tree at root (excluding the default excludes' .cache),
// mtimes at full precision, hardlinks by their first path.
func snapshot(t *testing.T, root string, withOwner bool) map[string]desc {
	t.Helper()
	out := map[string]desc{}
	inodes := map[uint64]string{}
	var paths []string
	filepath.Walk(root, func(p string, fi fs.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		return nil
	})
	sort.Strings(paths)
	for _, p := range paths {
		rel, _ := filepath.Rel(root, p)
		if rel == "." || rel == ".cache" || strings.HasPrefix(rel, ".cache/") {
			continue
		}
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		d := desc{Mode: fi.Mode().String()}
		if withOwner {
			d.UID = st.Uid
		}
		if fi.Mode().IsRegular() || fi.Mode()&fs.ModeSymlink != 0 {
			d.MTime = fi.ModTime().UTC().Format(time.RFC3339Nano)
		} else {
			d.MTime = fi.ModTime().UTC().Format(time.RFC3339) // directories: to the second
		}
		switch {
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			d.Content = fmt.Sprintf("%d bytes %x", len(b), b[:min(len(b), 32)])
			if len(b) > 64 {
				d.Content += fmt.Sprintf("...%x", b[len(b)-32:])
			}
			if st.Nlink > 1 {
				if first, ok := inodes[st.Ino]; ok {
					d.Link = first
				} else {
					inodes[st.Ino] = rel
				}
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			d.Target, _ = os.Readlink(p)
			d.MTime = "" // symlink mtimes: checked separately where the tool can set them
		}
		out[rel] = d
	}
	return out
}

func newStore(t *testing.T) (*s3test.Server, backup.Store) {
	srv := s3test.Start(t, "backups")
	return srv, backup.Store{Client: srv.Client(), Bucket: "backups", Prefix: "studio"}
}

func local(t *testing.T, dir string) *efs.Local {
	t.Helper()
	l, err := efs.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func diffTrees(t *testing.T, want, got map[string]desc) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("restored tree differs (-backed up +restored):\n%s", d)
	}
}

var ctxBG = context.Background()
