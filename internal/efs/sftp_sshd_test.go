package efs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/efs/sftptest"
)

// TestSFTPSessionsFitMaxSessions: against a real sshd with its default MaxSessions
// (10), many sessions are spread over more connections instead of more channels
// than sshd allows (the old default, 16 sessions of 2 channels on one connection,
// got "open failed"), in both server modes, and every session works.
func TestSFTPSessionsFitMaxSessions(t *testing.T) {
	sshd := sftptest.NewSSHD(t, sftptest.SSHDOptions{})
	for _, mode := range []string{efs.SFTPServerStock, efs.SFTPServerMigrator} {
		t.Run(mode, func(t *testing.T) {
			root := t.TempDir()
			for i := range 64 {
				must(t, os.WriteFile(filepath.Join(root, fmt.Sprint("f", i)), []byte("x"), 0o644))
			}
			cfg := sshdConfig(t, sshd, root, mode)
			cfg.Concurrency, cfg.Connections = 16, 1
			start := time.Now()
			f := dialSFTP(t, cfg)
			t.Logf("%s: 16 sessions in %v", mode, time.Since(start))
			var wg sync.WaitGroup
			for i := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := f.Lstat(context.Background(), fmt.Sprint("f", i)); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
		})
	}
	// A root that does not exist: the remote end says so, with no install advice.
	t.Run("missing-root", func(t *testing.T) {
		cfg := sshdConfig(t, sshd, filepath.Join(t.TempDir(), "missing"), efs.SFTPServerMigrator)
		_, err := efs.DialSFTP(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), "no such file") || strings.Contains(err.Error(), "scp ") {
			t.Errorf("missing root: %v", err)
		}
	})
}

// TestSFTPOursKeepsInodesAndNanoseconds: the recommended mode shows inodes (so a
// copy from an SFTP source keeps hardlinks) and stores nanosecond mtimes, which
// the stock server cannot.
func TestSFTPOursKeepsInodesAndNanoseconds(t *testing.T) {
	sshd := sftptest.NewSSHD(t, sftptest.SSHDOptions{})
	base := t.TempDir()
	srcDir := filepath.Join(base, "old", fmt.Sprint(oldUID))
	buildTree(t, srcDir)
	dstDir := filepath.Join(base, "new", fmt.Sprint(newUID))
	must(t, os.MkdirAll(dstDir, 0o755))
	src := dialSFTP(t, sshdConfig(t, sshd, srcDir, efs.SFTPServerMigrator))
	if f := src.Features(); !f.Inodes || f.TimeGranularity != time.Nanosecond {
		t.Fatalf("Features = %+v", f)
	}
	rep, err := efs.Copy(context.Background(), src, newLocalFS(t, dstDir), copyOpts())
	if err != nil {
		t.Fatalf("copy: %v %+v", err, rep.ErrorList)
	}
	checkTree(t, srcDir, dstDir, checkOpts{gran: time.Nanosecond, hardlinks: true, linkOwner: true, linkTimes: true})
	if rep.Hardlinks == 0 {
		t.Errorf("no hardlink kept from an SFTP source: %+v", rep)
	}
}
