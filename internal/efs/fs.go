package efs

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"time"
)

// ErrNotSupported is returned by an FS that cannot do an operation at all (for
// example SFTP cannot chown a symlink without following it). Callers check it with
// errors.Is and report what was skipped; it is never a reason to follow a link.
var ErrNotSupported = errors.New("not supported by this file system")

// ErrConnectionLost wraps an error caused by a dropped connection to a remote backend.
// The backend reconnects on its next call; the copier retries the entry that failed.
var ErrConnectionLost = errors.New("connection lost")

// ErrUnsafePath is returned for a name that is absolute, contains "..", a NUL byte,
// or an empty component: names must stay below the FS root.
var ErrUnsafePath = errors.New("unsafe path")

// ErrNotSameVolume is returned by NewMultiMount when the roots are not one directory
// of one volume.
var ErrNotSameVolume = errors.New("not mounts of the same directory")

// Info describes one directory entry, never following a symlink (lstat semantics).
type Info struct {
	// Name is the entry's base name (from ReadDir) or the name asked for (Lstat).
	Name string
	// Mode holds the type bits and the permission bits, including setuid, setgid and
	// sticky (fs.ModeSetuid etc.).
	Mode    fs.FileMode
	Size    int64
	ModTime time.Time
	UID     uint32
	GID     uint32
	// Dev, Ino and Nlink identify hardlinks. A backend that cannot see inodes
	// (SFTP) leaves them 0, and Features().Inodes is false.
	Dev   uint64
	Ino   uint64
	Nlink uint64
}

// Attr is the metadata the mover writes on an entry.
type Attr struct {
	UID, GID uint32
	// Perm is the permission bits including setuid, setgid and sticky; type bits are ignored.
	Perm    fs.FileMode
	ModTime time.Time
}

// SetMask says which parts of an Attr Setattr applies.
type SetMask uint8

const (
	SetOwner SetMask = 1 << iota // UID and GID
	SetPerm                      // permission bits (never applied to symlinks)
	SetTimes                     // mtime (atime is set to the same value)
	SetAll   = SetOwner | SetPerm | SetTimes
)

// Features says what a backend can and cannot do, so the copier and the verifier know
// what to expect instead of discovering it per file.
type Features struct {
	// Inodes: Info.Dev/Ino/Nlink are real, so hardlinks can be detected on this FS as a source.
	Inodes bool
	// Hardlinks: Link works (as a destination).
	Hardlinks bool
	// SymlinkOwner: Setattr(SetOwner) works on a symlink itself.
	SymlinkOwner bool
	// SymlinkTimes: Setattr(SetTimes) works on a symlink itself.
	SymlinkTimes bool
	// TimeGranularity is the finest mtime the backend stores and reports (1ns local,
	// 1s over SFTP v3); comparisons truncate to the coarser of source and destination.
	TimeGranularity time.Duration
}

// FS is a directory tree the mover reads from or writes to: a mounted EFS (Local) or a
// host that mounts one, reached over SFTP. All names are slash-separated and relative
// to the FS root ("." is the root); a name that would leave the root is ErrUnsafePath.
// No operation follows a symlink in the final component, and Local refuses to follow
// one in any component, so nothing is ever read, written or chowned outside the root.
//
// Errors wrap fs.ErrNotExist, fs.ErrExist and ErrNotSupported where those apply, so
// callers can use errors.Is whatever the backend. Every method is safe for
// concurrent use.
type FS interface {
	// String names the FS for logs and errors; it never contains credentials.
	String() string
	// Features reports the backend's abilities; it does no I/O.
	Features() Features

	// Lstat describes name without following a symlink.
	Lstat(ctx context.Context, name string) (Info, error)
	// ReadDir lists a directory's entries (not "." or ".."), each described as by
	// Lstat, in no particular order.
	ReadDir(ctx context.Context, name string) ([]Info, error)
	// Readlink returns a symlink's target exactly as stored (relative targets stay relative).
	Readlink(ctx context.Context, name string) (string, error)
	// Open opens a regular file for reading; it fails on anything else (a symlink included).
	Open(ctx context.Context, name string) (io.ReadCloser, error)

	// Create makes a new regular file, which must not exist (fs.ErrExist otherwise),
	// and returns it open for writing. Close applies attr (owner, permission bits and
	// mtime, in whichever order the backend needs so that the result is exact) after
	// the last write: a file whose Close returned nil holds every byte written and
	// exactly attr. Callers create under a temporary name and Rename into place.
	Create(ctx context.Context, name string, attr Attr) (io.WriteCloser, error)
	// Mkdir makes a directory with permission bits perm. It must not fail if name
	// is already a directory (the existing one's attributes are left alone).
	Mkdir(ctx context.Context, name string, perm fs.FileMode) error
	// Symlink makes name a symlink to target, stored verbatim.
	Symlink(ctx context.Context, target, name string) error
	// Link makes newname a hardlink to oldname (ErrNotSupported where impossible).
	Link(ctx context.Context, oldname, newname string) error
	// Rename moves oldname to newname, atomically replacing a non-directory newname.
	Rename(ctx context.Context, oldname, newname string) error
	// Remove deletes a file, a symlink (not its target) or an empty directory.
	Remove(ctx context.Context, name string) error
	// Setattr applies the parts of attr selected by mask to name itself, never to a
	// symlink's target. On a symlink SetPerm is ignored, and SetOwner / SetTimes
	// return ErrNotSupported where Features says so (and change nothing). Local
	// refuses (ErrUnsafePath) a non-directory that has other hardlinks: one of them
	// may be outside the root, and the change would reach it too.
	Setattr(ctx context.Context, name string, attr Attr, mask SetMask) error

	// Close releases the backend's resources (connections, cached handles).
	Close() error
}

// InPlaceCreator is implemented by an FS (Local) on which the copier writes a new
// file directly at its final name instead of a temporary name renamed into place:
// one operation that takes the directory's lock per file instead of two (Linux
// serializes creations and renames in a directory, NFS included, so on EFS that
// halves what a directory can take). Others (SFTP) keep temp+rename.
//
// What makes it safe: CreateInPlace never follows a symlink at name and fails with
// an error wrapping fs.ErrExist for any existing entry, a symlink included
// (O_CREAT|O_EXCL|O_NOFOLLOW); the copier then rewrites the name with temp+rename,
// as for any existing file. Its writer's Close sets the mtime last, after the data,
// the owner, the mode and the extended attributes, so a file cut short (the process
// killed, a failed write that could not even be removed) keeps the time of its last
// write, never the mtime asked for, and fails both the resume quick check (size and
// mtime) and Verify. The mtime asked for is the source's, which is in the past: only
// a source file modified in the same time granule as its copy could match, and then
// only with every byte written. On such an FS the copier also makes a new symlink at
// its final name, then sets its owner and mtime: its target is whole from the start,
// and a rerun fixes an owner or mtime a kill left unset.
type InPlaceCreator interface {
	// CreateInPlace is Create for a name that is the file's final one, with the
	// guarantees above.
	CreateInPlace(ctx context.Context, name string, attr Attr) (io.WriteCloser, error)
}

// FileState is what a change to a file alters: its size, its mtime and, where the
// backend sees it, its ctime (zero otherwise).
type FileState struct {
	Size       int64
	ModTime    time.Time
	ChangeTime time.Time
}

// StatReader is implemented by the readers Open returns where the backend can
// describe the open file itself (Local: fstat). The copier compares the file as it
// was opened with the file once copied, to tell a file that changed during its
// copy, without another lookup by name; where a reader lacks it, the copier lstats
// the name after the copy instead.
type StatReader interface {
	// Opened describes the file as it was when Open opened it.
	Opened() FileState
	// Stat describes it now.
	Stat() (FileState, error)
}
