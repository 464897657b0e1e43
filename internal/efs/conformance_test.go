//go:build linux

package efs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/efs/efstest"
	"github.com/studio-migrator/studio-migrator/internal/efs/sftptest"
)

// TestConformance runs the efstest suite against every backend, on a fresh root per
// subtest whose files the suite inspects on disk.
func TestConformance(t *testing.T) {
	t.Run("Local", func(t *testing.T) {
		efstest.Run(t, func(t *testing.T) (efs.FS, string) {
			l := newLocal(t, t.TempDir())
			return l, l.Root()
		})
	})
	// The fallbacks for kernels without openat2 and fchmodat2 must keep every
	// guarantee too.
	t.Run("LocalOldKernel", func(t *testing.T) {
		efstest.Run(t, func(t *testing.T) (efs.FS, string) {
			l := newLocal(t, t.TempDir())
			efs.LocalOldKernel(t, l)
			return l, l.Root()
		})
	})
	// The in-process SSH server running OpenSSH's sftp-server (stock mode).
	t.Run("SFTP", func(t *testing.T) {
		efstest.Run(t, func(t *testing.T) (efs.FS, string) {
			srv := newSFTPServer(t)
			return dialSFTP(t, sftpConfig(srv)), srv.Dir()
		})
	})
	// A real sshd, with its default MaxSessions: the stock sftp-server subsystem
	// (explicit opt-in) and this program's own remote end (the default). One
	// connection set per backend (dials cost process starts on the host); each
	// subtest gets a fresh directory through Sub.
	for _, mode := range []string{efs.SFTPServerStock, efs.SFTPServerMigrator} {
		t.Run("SSHD-"+mode, func(t *testing.T) {
			sshd := sftptest.NewSSHD(t, sftptest.SSHDOptions{})
			base := t.TempDir()
			fsys := dialSFTP(t, sshdConfig(t, sshd, base, mode))
			n := 0
			efstest.Run(t, func(t *testing.T) (efs.FS, string) {
				n++
				name := fmt.Sprintf("t%d", n)
				if err := os.Mkdir(filepath.Join(base, name), 0o755); err != nil {
					t.Fatal(err)
				}
				sub, err := fsys.Sub(context.Background(), name)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { sub.Close() })
				return sub, filepath.Join(base, name)
			})
		})
	}
}
