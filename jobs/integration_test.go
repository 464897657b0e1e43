//go:build linux

package jobs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/efs"
)

// checkNewHomes asserts that every home the job moved is in the new EFS folder
// under its new UID, owned by it, and verifies it again against the old one (types,
// sizes, modes, mtimes, owners, links; the job's own verify compared checksums).
func checkNewHomes(t *testing.T, w *world, st *Status) {
	t.Helper()
	newRoot := filepath.Join(w.efsRoot, st.NewDomain.HomeEfsFileSystemID)
	oldRoot := filepath.Join(w.efsRoot, w.old.Domain.HomeEfsFileSystemID)
	for _, h := range st.Homes {
		if h.State == HomeNotMoved {
			continue
		}
		if h.State != HomeSucceeded {
			t.Errorf("home %s: %s (%s)", h.Key, h.State, h.Reason)
			continue
		}
		dir := filepath.Join(newRoot, h.NewUID)
		fi, err := os.Lstat(dir)
		if err != nil {
			t.Errorf("home %s: %v", h.Key, err)
			continue
		}
		if got := statUID(fi); got != h.NewUID {
			t.Errorf("home %s: %s owned by %s, want %s", h.Key, dir, got, h.NewUID)
		}
		src, err := efs.NewLocal(filepath.Join(oldRoot, h.OldUID))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := efs.NewLocal(dir)
		if err != nil {
			t.Fatal(err)
		}
		var uid uint32
		for i := range h.NewUID {
			uid = uid*10 + uint32(h.NewUID[i]-'0')
		}
		rep, err := efs.Verify(context.Background(), src, dst, efs.VerifyOptions{UID: uid})
		src.Close()
		dst.Close()
		if err != nil || !rep.OK() || rep.Files == 0 {
			t.Errorf("home %s: verify %+v: %v", h.Key, rep, err)
		}
	}
}

// TestMigrateTwoWorkerProcesses: an emulated domain with 50 profiles and 5 spaces
// (one of them a JupyterLab space, whose home is on EBS) migrated end to end through
// a real redis-server by two worker processes.
func TestMigrateTwoWorkerProcesses(t *testing.T) {
	w := newWorld(t, 50, 5, 150)
	c := w.client(t)
	creates := w.em.Calls("CreateUserProfile")
	w.startProc(t, "proc-a", 5*time.Second)
	w.startProc(t, "proc-b", 5*time.Second)
	id, err := c.Submit(context.Background(), w.spec())
	if err != nil {
		t.Fatal(err)
	}
	st := waitDone(t, c, id, 90*time.Second)
	if st.State != StateSucceeded {
		t.Fatalf("job %s ended %s: %s", id, st.State, st.Error)
	}
	if len(st.Homes) != 55 || len(st.UIDMap) != 55 {
		t.Fatalf("%d homes and %d UID mappings, want 55", len(st.Homes), len(st.UIDMap))
	}
	checkNewHomes(t, w, st)
	for _, h := range st.Homes {
		if (h.State == HomeNotMoved) != (h.Key == "space/space4") || h.Key == "space/space4" && (h.Storage != "ebs" || h.Reason == "") {
			t.Errorf("home %s: %s on %s (%s); want only the JupyterLab space4 not moved, on EBS", h.Key, h.State, h.Storage, h.Reason)
		}
	}
	if n := w.em.Calls("CreateUserProfile") - creates; n != 50 {
		t.Errorf("CreateUserProfile called %d times, want 50", n)
	}
	byWorker := map[string]int{}
	for _, h := range st.Homes {
		byWorker[h.Worker]++
	}
	if byWorker["proc-a"] == 0 || byWorker["proc-b"] == 0 || len(st.Workers) != 2 {
		t.Errorf("homes copied per worker: %v (workers %v): want both workers to copy", byWorker, st.Workers)
	}
	t.Logf("homes per worker: %v; %d files, %d bytes; took %v", byWorker, st.Totals.Files, st.Totals.Bytes, st.Updated.Sub(st.Created))
}
