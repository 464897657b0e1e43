//go:build linux

package efs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/efs/sftptest"
)

// The attack of issue 8, defect 1, against a real OpenSSH sshd running this
// program's sftp-server (the recommended mode): while a copy of a few thousand
// files runs, a user renames one of the home's directories away and puts a
// symlink to an outside folder in its place. The swap happens from a hook the
// first time the copier touches a file in that directory, so it always lands
// after the directory was listed (or made) and before its files are copied: the
// window the stock sftp-server leaves open.

const (
	attackDirs   = 30
	attackFiles  = 70 // per directory: 2,100 files
	attackVictim = "d07"
)

// attackTree writes dirs directories of files owned by oldUID.
func attackTree(t *testing.T, dir string) {
	t.Helper()
	for d := 0; d < attackDirs; d++ {
		sub := filepath.Join(dir, fmt.Sprintf("d%02d", d))
		must(t, os.MkdirAll(sub, 0o755))
		for f := 0; f < attackFiles; f++ {
			p := filepath.Join(sub, fmt.Sprintf("f%03d", f))
			must(t, os.WriteFile(p, []byte(fmt.Sprintf("home file %d/%d\n", d, f)), 0o644))
			must(t, os.Chown(p, oldUID, srcGID))
		}
		must(t, os.Chown(sub, oldUID, srcGID))
	}
	must(t, os.Chown(dir, oldUID, srcGID))
}

// outsideFolder is a folder outside any home, holding a secret under every name
// the victim directory has (so a followed symlink finds a file to read), with a
// distinctive owner, mode and mtime.
func outsideFolder(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "etc-secrets")
	must(t, os.Mkdir(out, 0o750))
	for f := 0; f < attackFiles; f++ {
		p := filepath.Join(out, fmt.Sprintf("f%03d", f))
		must(t, os.WriteFile(p, []byte(fmt.Sprintf("SECRET %d\n", f)), 0o600))
		must(t, os.Chown(p, 0, 0))
		must(t, os.Chtimes(p, time.Unix(1e9, 0), time.Unix(1e9, 0)))
	}
	must(t, os.Chtimes(out, time.Unix(1e9, 0), time.Unix(1e9, 0)))
	return out
}

// snapshotDir describes every entry below dir: name, type, mode, owner, mtime, content.
func snapshotDir(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		content := ""
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			content = string(b)
		}
		rel, _ := filepath.Rel(dir, p)
		lines = append(lines, fmt.Sprintf("%s %v %d:%d %d %q", rel, fi.Mode(), st.Uid, st.Gid, fi.ModTime().UnixNano(), content))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// swapDir renames dir/name away and puts a symlink to target in its place.
func swapDir(t *testing.T, dir, name, target string) {
	t.Helper()
	must(t, os.Rename(filepath.Join(dir, name), filepath.Join(dir, name+".moved")))
	must(t, os.Symlink(target, filepath.Join(dir, name)))
}

// hookFS runs hook once, before the first Open or Create of a name in dir.
type hookFS struct {
	efs.FS
	dir  string
	once sync.Once
	hook func()
}

func (h *hookFS) touch(name string) {
	if strings.HasPrefix(name, h.dir+"/") {
		h.once.Do(h.hook)
	}
}

func (h *hookFS) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	h.touch(name)
	return h.FS.Open(ctx, name)
}

func (h *hookFS) Create(ctx context.Context, name string, attr efs.Attr) (io.WriteCloser, error) {
	h.touch(name)
	return h.FS.Create(ctx, name, attr)
}

// attackSSHD is the real sshd serving this program's remote end over the test's dirs.
func attackFS(t *testing.T, sshd *sftptest.SSHD, root, mode string) *efs.SFTP {
	t.Helper()
	return dialSFTP(t, sshdConfig(t, sshd, root, mode))
}

// TestSFTPAttackSourceSwap: the source side. The secret must not reach the
// destination, the outside folder must not change, and the copy must not pass
// for a success.
func TestSFTPAttackSourceSwap(t *testing.T) {
	sshd := sftptest.NewSSHD(t, sftptest.SSHDOptions{})
	base := t.TempDir()
	srcDir := filepath.Join(base, "old", fmt.Sprint(oldUID))
	attackTree(t, srcDir)
	outside := outsideFolder(t)
	before := snapshotDir(t, outside)
	dstDir := filepath.Join(base, "new", fmt.Sprint(newUID))
	must(t, os.MkdirAll(dstDir, 0o755))

	src := &hookFS{FS: attackFS(t, sshd, srcDir, efs.SFTPServerMigrator), dir: attackVictim,
		hook: func() { swapDir(t, srcDir, attackVictim, outside) }}
	dst := newLocalFS(t, dstDir)
	rep, err := efs.Copy(context.Background(), src, dst, copyOpts())
	t.Logf("copy: err %v, files %d, errors %d", err, rep.Files, rep.Errors)
	if _, lerr := os.Lstat(filepath.Join(srcDir, attackVictim+".moved")); lerr != nil {
		t.Fatalf("the swap did not happen: %v", lerr)
	}
	if err == nil && rep.Errors == 0 {
		t.Error("the copy passed for a success although a directory was swapped for a symlink under it")
	}
	if after := snapshotDir(t, outside); after != before {
		t.Errorf("the outside folder changed:\nbefore %s\nafter  %s", before, after)
	}
	assertNoSecret(t, dstDir)
	// Everything else arrived.
	if got := countFiles(t, dstDir); got < (attackDirs-1)*attackFiles {
		t.Errorf("%d files copied, want at least %d", got, (attackDirs-1)*attackFiles)
	}
}

// TestSFTPAttackDestinationSwap: the destination side. Nothing may be written or
// re-owned in the outside folder.
func TestSFTPAttackDestinationSwap(t *testing.T) {
	sshd := sftptest.NewSSHD(t, sftptest.SSHDOptions{})
	base := t.TempDir()
	srcDir := filepath.Join(base, "old", fmt.Sprint(oldUID))
	attackTree(t, srcDir)
	outside := outsideFolder(t)
	before := snapshotDir(t, outside)
	dstDir := filepath.Join(base, "new", fmt.Sprint(newUID))
	must(t, os.MkdirAll(dstDir, 0o755))

	dst := &hookFS{FS: attackFS(t, sshd, dstDir, efs.SFTPServerMigrator), dir: attackVictim,
		hook: func() { swapDir(t, dstDir, attackVictim, outside) }}
	rep, err := efs.Copy(context.Background(), newLocalFS(t, srcDir), dst, copyOpts())
	t.Logf("copy: err %v, files %d, errors %d", err, rep.Files, rep.Errors)
	if _, lerr := os.Lstat(filepath.Join(dstDir, attackVictim+".moved")); lerr != nil {
		t.Fatalf("the swap did not happen: %v", lerr)
	}
	if err == nil && rep.Errors == 0 {
		t.Error("the copy passed for a success although a destination directory was swapped for a symlink")
	}
	if after := snapshotDir(t, outside); after != before {
		t.Errorf("the outside folder changed (written or re-owned through the symlink):\nbefore %s\nafter  %s", before, after)
	}
	if got := countFiles(t, dstDir); got < (attackDirs-1)*attackFiles {
		t.Errorf("%d files copied, want at least %d", got, (attackDirs-1)*attackFiles)
	}
}

// TestSFTPStockReportsLimitation: the stock sftp-server is an explicit opt-in, and
// then the limitation is said (the copy report's limitations); the recommended
// mode has none to report.
func TestSFTPStockReportsLimitation(t *testing.T) {
	sshd := sftptest.NewSSHD(t, sftptest.SSHDOptions{})
	root := t.TempDir()
	stock := attackFS(t, sshd, root, efs.SFTPServerStock)
	ours := attackFS(t, sshd, root, efs.SFTPServerMigrator)
	if stock.SafeServer() || !ours.SafeServer() {
		t.Errorf("SafeServer: stock %v, ours %v", stock.SafeServer(), ours.SafeServer())
	}
	got := efs.SFTPLimitations(newLocalFS(t, t.TempDir()), stock)
	if len(got) != 1 || !strings.Contains(got[0], "symlink") || !strings.Contains(got[0], "stock sftp-server") {
		t.Errorf("stock limitations = %q", got)
	}
	if got := efs.SFTPLimitations(ours); len(got) != 0 {
		t.Errorf("recommended mode limitations = %q", got)
	}
}

func assertNoSecret(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err == nil && de.Type().IsRegular() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte("SECRET")) {
				t.Errorf("a secret from outside the home reached the destination: %s", p)
			}
		}
		return nil
	})
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err == nil && de.Type().IsRegular() && !strings.HasPrefix(de.Name(), ".studio-migrator.") {
			n++
		}
		return nil
	})
	return n
}
