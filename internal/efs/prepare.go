package efs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// ErrDestinationInUse is returned by PrepareDest when the destination home already
// holds someone else's files.
var ErrDestinationInUse = errors.New("destination is owned by another user and not empty")

// PrepareDest makes sure parent/name (the new home directory, e.g. "200007" in the
// new EFS root) is a directory ready for Copy. When missing it is created, mode 0700
// and owned by uid:gid, so no other user can see a home being filled; Copy later
// gives it the source root's mode and mtime. An existing directory is accepted when
// it is owned by uid (an earlier run, or the home Studio made), when it is empty (an
// administrator's mkdir), or when merge is set. A non-empty one owned by anyone else
// is refused with ErrDestinationInUse: owned by another UID it is most likely another
// profile's home, owned by root most likely the EFS root itself, given by mistake. A
// symlink or any other non-directory at that name is refused. name must be a single
// component.
func PrepareDest(ctx context.Context, parent FS, name string, uid, gid uint32, merge bool) error {
	if err := checkOwner(uid, &gid); err != nil {
		return fmt.Errorf("preparing destination %s: %w", name, err)
	}
	if !validFSName(name) || name == "." || strings.IndexByte(name, '/') >= 0 {
		return fmt.Errorf("preparing destination %q in %s: %w", name, parent, ErrUnsafePath)
	}
	inf, err := parent.Lstat(ctx, name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := parent.Mkdir(ctx, name, 0o700); err != nil {
			return fmt.Errorf("creating destination %s in %s: %w", name, parent, err)
		}
		if err := parent.Setattr(ctx, name, Attr{UID: uid, GID: gid, Perm: 0o700}, SetOwner|SetPerm); err != nil {
			return fmt.Errorf("giving destination %s in %s to uid %d: %w", name, parent, uid, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("checking destination %s in %s: %w", name, parent, err)
	case !inf.Mode.IsDir():
		return fmt.Errorf("destination %s in %s is not a directory (%v)", name, parent, inf.Mode.Type())
	}
	// An existing home owned by the new UID is ours (an earlier run, or Studio made it
	// at CreateUserProfile). Anything else must be empty: a non-empty one owned by root
	// is most likely the EFS root itself, passed by mistake, whose other homes a copy
	// would re-own (and, with Delete, remove).
	if inf.UID == uid || merge {
		return nil
	}
	list, err := parent.ReadDir(ctx, name)
	if err != nil {
		return fmt.Errorf("checking destination %s in %s: %w", name, parent, err)
	}
	if len(list) > 0 && inf.UID == 0 {
		return fmt.Errorf("destination %s in %s is owned by root and holds %d entries: is it the EFS root rather than the home directory /<newUID>? (use merge to copy into it anyway): %w",
			name, parent, len(list), ErrDestinationInUse)
	}
	if len(list) > 0 {
		return fmt.Errorf("destination %s in %s is owned by uid %d, not %d, and holds %d entries (use merge to copy into it anyway): %w",
			name, parent, inf.UID, uid, len(list), ErrDestinationInUse)
	}
	return nil
}
