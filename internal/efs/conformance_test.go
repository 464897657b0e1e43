//go:build linux

package efs_test

import (
	"testing"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/efs/efstest"
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
	t.Run("SFTP", func(t *testing.T) {
		efstest.Run(t, func(t *testing.T) (efs.FS, string) {
			srv := newSFTPServer(t)
			return dialSFTP(t, sftpConfig(srv)), srv.Dir()
		})
	})
}
