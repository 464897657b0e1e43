//go:build linux

package jobs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// TestMigrateThroughCopyToMounts migrates with the new EFS given through copy-to
// and two more mounts of it: every home is copied, verified with checksums and
// owned by its new UID, with no temporary file left. A copy-to-mount that is not
// a mount of the new EFS fails every home at once, naming it, with nothing copied:
// the mounts are used, not ignored.
func TestMigrateThroughCopyToMounts(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3, 0, 8)
	m2, m3 := testutil.BindMount(t, w.efsRoot), testutil.BindMount(t, w.efsRoot)
	c := w.client(t)
	w.startWorker(t, "w1")

	sp := w.spec()
	sp.CopyToMounts = []string{filepath.Join(m2, "{fs}"), filepath.Join(m3, "{fs}")}
	id, err := c.Submit(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	st := waitDone(t, c, id, 60*time.Second)
	if st.State != StateSucceeded {
		t.Fatalf("job %s: %s (%s)", id, st.State, st.Error)
	}
	if len(st.Homes) != 3 {
		t.Fatalf("homes: %d, want 3", len(st.Homes))
	}
	newEFS := filepath.Join(w.efsRoot, st.NewDomain.HomeEfsFileSystemID)
	for _, h := range st.Homes {
		if h.State != HomeSucceeded || h.Verify == nil || !h.Verify.OK() || h.Copy == nil || h.Copy.Files != 8 {
			t.Errorf("home %s: %+v", h.Key, h)
			continue
		}
		home := filepath.Join(newEFS, h.NewUID)
		b, err := os.ReadFile(filepath.Join(home, "work", "n001.py"))
		if err != nil || !strings.HasPrefix(string(b), "user") {
			t.Errorf("home %s: work/n001.py = %.20q, %v", h.Key, b, err)
		}
		err = filepath.Walk(home, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			if uid := statUID(fi); uid != h.NewUID {
				t.Errorf("%s owned by %s, want %s", p, uid, h.NewUID)
			}
			if strings.Contains(fi.Name(), ".studio-migrator.") {
				t.Errorf("leftover %s", p)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}

	// A mount that is not the new EFS: refused for every home, nothing copied.
	bad := t.TempDir()
	sp = w.spec()
	sp.Overrides.DomainName = "research-v3"
	sp.CopyToMounts = []string{filepath.Join(bad, "{fs}")}
	id, err = c.Submit(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	st = waitDone(t, c, id, 60*time.Second)
	if st.State != StateFailed {
		t.Fatalf("job with a wrong copy-to-mount: %s (%s); want failed", st.State, st.Error)
	}
	newEFS = filepath.Join(w.efsRoot, st.NewDomain.HomeEfsFileSystemID)
	for _, h := range st.Homes {
		if h.State != HomeFailed || !strings.Contains(h.Reason, "copy-to-mount "+bad) || h.Attempts != 1 {
			t.Errorf("home %s: %s, %d attempts (%s); want failed at once naming the mount", h.Key, h.State, h.Attempts, h.Reason)
		}
		entries, err := os.ReadDir(filepath.Join(newEFS, h.NewUID))
		if err != nil || len(entries) != 0 {
			t.Errorf("home %s: %d entries (%v); want an empty home", h.Key, len(entries), err)
		}
	}
}
