//go:build !linux

package efs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// What the portable code (the SFTP client, the CLI, the worker's job code) names
// from local.go, multimount.go and sftp_server.go, which are Linux only. Each
// constructor returns ErrUnsupportedPlatform, so no Local or MultiMount ever
// exists here: the types embed FS only to have FS's method set (for
// dst.(*efs.Local) and assignments to FS), and none of those methods can run.

// CheckLocal reports whether this platform can open a home directory on a local
// file system: not on this one.
func CheckLocal() error { return ErrUnsupportedPlatform }

// Local is a home on a local file system; see NewLocal.
type Local struct{ FS }

// NewLocal fails with ErrUnsupportedPlatform.
func NewLocal(root string) (*Local, error) {
	return nil, errLocal(root)
}

// Root is never called: no Local exists on this platform.
func (l *Local) Root() string { return "" }

// MultiMount is one home through several mounts; see NewMultiMount.
type MultiMount struct{ FS }

// NewMultiMount fails with ErrUnsupportedPlatform.
func NewMultiMount(ctx context.Context, mounts []*Local, log *slog.Logger) (*MultiMount, error) {
	return nil, errLocal("(several mounts)")
}

// Mounts is never called: no MultiMount exists on this platform.
func (m *MultiMount) Mounts() int { return 0 }

// ServeSFTP fails with ErrUnsupportedPlatform.
func ServeSFTP(rw io.ReadWriteCloser, l *Local) error {
	return ErrUnsupportedPlatform
}

func errLocal(root string) error {
	return fmt.Errorf("opening local directory %s: %w", root, ErrUnsupportedPlatform)
}
