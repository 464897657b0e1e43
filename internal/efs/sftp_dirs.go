package efs

import (
	"fmt"
	"path"
	"strings"
	"sync"
	"syscall"
)

// dirCache remembers names this FS has seen to be real directories (not symlinks),
// so that the check that no intermediate component of a name is a symlink (the
// server would follow it) costs one lstat per directory, not one per operation.
// Names this FS removes or renames are forgotten with everything below them.
type dirCache struct {
	mu sync.Mutex
	m  map[string]struct{}
}

func (d *dirCache) has(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.m[name]
	return ok
}

func (d *dirCache) add(name string) {
	if name == "." {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string]struct{}{}
	}
	d.m[name] = struct{}{}
}

func (d *dirCache) forget(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.m[name]; !ok {
		return
	}
	prefix := name + "/"
	for k := range d.m {
		if k == name || strings.HasPrefix(k, prefix) {
			delete(d.m, k)
		}
	}
}

// checkParents refuses a name whose parent directories include a symlink (or a
// non-directory): SFTP servers resolve every component, so following one could
// lead out of the root.
func (f *SFTP) checkParents(s *sftpSlot, name string) error {
	for i := 0; i < len(name); i++ {
		if name[i] != '/' {
			continue
		}
		dir := name[:i]
		if f.dirs.has(dir) {
			continue
		}
		fi, err := s.c.Lstat(path.Join(f.root, dir))
		if err != nil {
			return err
		}
		switch {
		case fi.Mode().IsDir():
			f.dirs.add(dir)
		case fi.Mode().Type() == 0:
			return fmt.Errorf("parent %q: %w", dir, syscall.ENOTDIR)
		default:
			return fmt.Errorf("parent %q is a %v, not followed: %w", dir, fi.Mode().Type(), ErrUnsafePath)
		}
	}
	return nil
}
