package efs

import (
	"fmt"
	"runtime"
)

// ErrUnsupportedPlatform is returned, on every platform but Linux, by everything
// that opens a home directory on a local file system (NewLocal, OpenLocal,
// CheckLocal, NewMultiMount, ServeSFTP). Local confines every name below its root
// with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS), re-owns with fchownat and
// holds O_PATH descriptors: Linux calls with no safe equivalent elsewhere, and a
// mover that might follow a symlink out of a home is not one we ship. Commands
// meet it before they open anything (location.CheckPlatform; a worker of the copy
// queue and the demo at start), and the CLI maps it to its exit code and advice
// (internal/cli).
var ErrUnsupportedPlatform = fmt.Errorf("home directories on a local file system can only be read or written on Linux (openat2 with RESOLVE_BENEATH, so that no symlink is followed out of a home); this is %s/%s", runtime.GOOS, runtime.GOARCH)

// OpenLocal is NewLocal as an FS, for code that needs no more than the FS
// interface (internal/location). Off Linux it fails with ErrUnsupportedPlatform,
// as NewLocal does.
func OpenLocal(root string) (FS, error) {
	l, err := NewLocal(root)
	if err != nil {
		// Not a nil *Local in a non-nil FS.
		return nil, err
	}
	return l, nil
}
