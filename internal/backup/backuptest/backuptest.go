//go:build linux

// Package backuptest holds what tests of several packages need around backups: a
// home with every kind of entry a backup must keep, a description of a tree to
// compare a restore against, and a runner for the real lifecycle scripts
// (scripts/lcc) with the real AWS CLI v2 against an s3test server.
package backuptest

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/studio-migrator/studio-migrator/internal/backup/s3test"
)

// InvalidName is a file name that is not valid UTF-8 (Latin-1 "café").
const InvalidName = "caf\xe9.txt"

// MakeHome builds a home with every kind of entry a backup must keep.
func MakeHome(t testing.TB, root string) {
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
	file(InvalidName, "latin-1 name", 0o644)
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

// Desc is what a restore must give back for one entry.
type Desc struct {
	Mode    string
	MTime   string
	Content string
	Target  string
	UID     uint32
	Link    string // first path of a hardlink group
}

// Describe describes the tree at root (excluding the default excludes' .cache),
// mtimes at full precision, hardlinks by their first path.
func Describe(t testing.TB, root string, withOwner bool) map[string]Desc {
	t.Helper()
	out := map[string]Desc{}
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
		d := Desc{Mode: fi.Mode().String()}
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

// DiffTrees fails the test when two descriptions differ.
func DiffTrees(t testing.TB, want, got map[string]Desc) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("restored tree differs (-backed up +restored):\n%s", d)
	}
}

// LCC runs scripts/lcc's scripts with bash and /usr/bin/aws (the caller checks it
// is installed: testutil.RequireBinary) against Server, in Bucket and Prefix.
type LCC struct {
	T       testing.TB
	Server  *s3test.Server
	Scripts string // the scripts/lcc directory
	Bucket  string
	Prefix  string
	Tmp     string
}

// Metadata writes a resource-metadata file like the one Studio gives an app: a
// JupyterLab space's when space is set, else a Studio Classic profile's.
func (l *LCC) Metadata(domain, space, profile string) string {
	l.T.Helper()
	f, err := os.CreateTemp(l.Tmp, "resource-metadata-*.json")
	if err != nil {
		l.T.Fatal(err)
	}
	defer f.Close()
	appType := "JupyterLab"
	if space == "" {
		appType = "JupyterServer"
	}
	b, _ := json.Marshal(map[string]string{"AppType": appType, "DomainId": domain, "UserProfileName": profile,
		"ResourceArn":  fmt.Sprintf("arn:aws:sagemaker:us-east-1:123456789012:app/%s/x/%s/default", domain, appType),
		"ResourceName": "default", "SpaceName": space, "ExecutionRoleArn": "arn:aws:iam::123456789012:role/r"})
	if _, err := f.Write(b); err != nil {
		l.T.Fatal(err)
	}
	return f.Name()
}

// Cmd builds the command running a script; env adds to the settings every run gets.
func (l *LCC) Cmd(script, home, metadata string, env ...string) *exec.Cmd {
	c := exec.Command("/bin/bash", filepath.Join(l.Scripts, script))
	c.Env = append(l.Server.Env(),
		"PATH=/usr/bin:/bin", // the CLI v2 from Debian first, like Studio's own aws
		"HOME="+l.Tmp,
		"BACKUP_BUCKET="+l.Bucket, "BACKUP_PREFIX="+l.Prefix,
		"HOME_DIR="+home, "RESOURCE_METADATA="+metadata,
		"S3_ENDPOINT_URL="+l.Server.URL, "BACKUP_FOREGROUND=1",
		"BACKUP_LOCK="+filepath.Join(l.Tmp, script+".lock"),
		"BACKUP_LOG="+filepath.Join(l.Tmp, script+".log"),
	)
	c.Env = append(c.Env, env...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return c
}

// Run runs a script to its end and fails the test when it fails.
func (l *LCC) Run(script, home, metadata string, env ...string) string {
	l.T.Helper()
	out, err := l.Cmd(script, home, metadata, env...).CombinedOutput()
	if err != nil {
		l.T.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}
