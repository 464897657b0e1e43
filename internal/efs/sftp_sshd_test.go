//go:build linux

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

// serverProcs counts the running `sftp-server --root root` processes on this host.
func serverProcs(t *testing.T, root string) int {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) >= 4 && args[1] == "sftp-server" && args[2] == "--root" && args[3] == root {
			n++
		}
	}
	return n
}

// waitProcs waits (30 s at most) until want server processes serve root.
func waitProcs(t *testing.T, root string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := serverProcs(t, root)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sftp-server processes serve %s after 30 s, want %d", n, root, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSFTPOursSessionsJoinAfterDial: in the recommended mode DialSFTP returns once
// each connection has one session, and the others (one server process each on the
// host) join while the copy runs: all of them start and serve, and closing the FS,
// even before they all started, leaves no server process behind.
func TestSFTPOursSessionsJoinAfterDial(t *testing.T) {
	sshd := sftptest.NewSSHD(t, sftptest.SSHDOptions{})
	root := t.TempDir()
	for i := range 60 {
		must(t, os.WriteFile(filepath.Join(root, fmt.Sprint("f", i)), []byte("x"), 0o644))
	}
	cfg := sshdConfig(t, sshd, root, efs.SFTPServerMigrator)
	cfg.Concurrency, cfg.Connections = 6, 2

	f, err := efs.DialSFTP(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitProcs(t, root, 6)
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if inf, err := f.Lstat(context.Background(), fmt.Sprint("f", i)); err != nil || inf.Size != 1 {
				t.Errorf("Lstat f%d: %+v, %v", i, inf, err)
			}
		}()
	}
	wg.Wait()
	f.Close()
	waitProcs(t, root, 0)

	// Closed at once, while sessions are still starting: none is left running.
	f, err = efs.DialSFTP(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	time.Sleep(500 * time.Millisecond) // let any late session finish starting
	waitProcs(t, root, 0)
}
