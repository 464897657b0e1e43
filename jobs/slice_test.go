//go:build linux

package jobs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestMigrateInProcess is the vertical slice: submit -> snapshot -> preflight ->
// create domain, profiles, spaces -> copy every home -> verify -> succeeded, with
// two workers in this process, on miniredis (the demo's in-process Redis).
func TestMigrateInProcess(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 4, 1, 6)
	w.redisURL = startMiniredis(t)
	c := w.client(t)
	w.startWorker(t, "w1")
	w.startWorker(t, "w2")
	id, err := c.Submit(context.Background(), w.spec())
	if err != nil {
		t.Fatal(err)
	}
	st := waitDone(t, c, id, 60*time.Second)
	if st.State != StateSucceeded {
		t.Fatalf("job %s: %s (%s)", id, st.State, st.Error)
	}
	if len(st.Homes) != 5 || st.Totals.HomesDone != 5 {
		t.Fatalf("homes: %d, done %d; want 5", len(st.Homes), st.Totals.HomesDone)
	}
	for _, h := range st.Homes {
		if h.State != HomeSucceeded || h.Verify == nil || !h.Verify.OK() || h.Copy == nil || h.Copy.Files != 6 {
			t.Errorf("home %s: %+v", h.Key, h)
			continue
		}
		fi, err := os.Lstat(filepath.Join(w.efsRoot, st.NewDomain.HomeEfsFileSystemID, h.NewUID, "work"))
		if err != nil {
			t.Errorf("home %s: %v", h.Key, err)
		} else if uid := statUID(fi); uid != h.NewUID {
			t.Errorf("home %s: work/ owned by %s, want %s", h.Key, uid, h.NewUID)
		}
	}
	for _, s := range st.Steps {
		if s.State != "succeeded" {
			t.Errorf("step %s: %s %s", s.Name, s.State, s.Error)
		}
	}
}
