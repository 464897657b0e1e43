package efs

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Totals is what a tree holds, counted ahead of a copy so progress displays can show
// a percentage and an ETA.
type Totals struct {
	Entries  int64 `json:"entries"`
	Files    int64 `json:"files"`
	Dirs     int64 `json:"dirs"`
	Symlinks int64 `json:"symlinks"`
	// Bytes is the size of every regular file; a file with several hardlinks counts
	// once per name (the copier writes it once, but a display cannot tell).
	Bytes int64 `json:"bytes"`
}

// DefaultCountWorkers is how many directories Count lists at once: like the copy,
// a listing on EFS costs milliseconds, so many in flight hide it.
const DefaultCountWorkers = 32

// Count walks the tree at f's root, listing directories concurrently (workers <= 0:
// DefaultCountWorkers), never following a symlink, and returns its totals. Temporary
// files left by an interrupted copy are not counted. Entries that vanish while it
// runs are skipped: the totals are an estimate for progress, never used to decide
// what to copy.
func Count(ctx context.Context, f FS, workers int) (Totals, error) {
	if workers <= 0 {
		workers = DefaultCountWorkers
	}
	var (
		mu  sync.Mutex
		tot = Totals{Entries: 1, Dirs: 1}
	)
	g, ctx := errgroup.WithContext(ctx)
	sem := make(chan struct{}, workers)
	var walk func(dir string)
	walk = func(dir string) {
		g.Go(func() error {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			entries, err := f.ReadDir(ctx, dir)
			<-sem
			if err != nil {
				if dir != "." && errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			var t Totals
			for _, e := range entries {
				if isTempName(e.Name) {
					continue
				}
				t.Entries++
				switch {
				case e.Mode.IsDir():
					t.Dirs++
					walk(path.Join(dir, e.Name))
				case e.Mode.IsRegular():
					t.Files++
					t.Bytes += e.Size
				case e.Mode.Type() == fs.ModeSymlink:
					t.Symlinks++
				}
			}
			mu.Lock()
			tot.Entries += t.Entries
			tot.Files += t.Files
			tot.Dirs += t.Dirs
			tot.Symlinks += t.Symlinks
			tot.Bytes += t.Bytes
			mu.Unlock()
			return nil
		})
	}
	walk(".")
	if err := g.Wait(); err != nil {
		return Totals{}, err
	}
	return tot, nil
}
