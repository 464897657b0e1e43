//go:build linux

package testutil

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// BindMount mounts dir on a new temporary directory until the test ends and returns
// it: another mount of the same directory, as a second NFS mount of an EFS is (one
// superblock, unlike an NFS nosharecache mount, but the same files and inodes).
// Where bind mounts are not permitted, the test fails in strict mode and skips
// otherwise.
func BindMount(t testing.TB, dir string) string {
	t.Helper()
	RequireRoot(t)
	mnt := t.TempDir()
	if err := unix.Mount(dir, mnt, "", unix.MS_BIND, ""); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			missing(t, "bind mount not permitted here: "+err.Error())
		}
		t.Fatalf("bind-mounting %s on %s: %v", dir, mnt, err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	return mnt
}
