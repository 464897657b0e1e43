//go:build linux

package jobs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
	"github.com/studio-migrator/studio-migrator/internal/studio"
)

// TestApplyThenCleanup: an apply job builds the control plane from a snapshot (no
// copy-homes), then a cleanup job deletes the old domain.
func TestApplyThenCleanup(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3, 1, 1)
	c := w.client(t)
	w.startWorker(t, "w1")
	ctx := context.Background()
	snap, err := studio.TakeSnapshot(ctx, w.clients, w.old.Domain.ID, studio.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sp := w.spec()
	sp.Kind, sp.Snapshot, sp.CopyFrom, sp.CopyTo = KindApply, snap, "", ""
	id, err := c.Submit(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	st := waitDone(t, c, id, 60*time.Second)
	if st.State != StateSucceeded || st.NewDomain == nil || len(st.UIDMap) != 4 || len(st.Homes) != 0 {
		t.Fatalf("apply job: %s (%s), domain %+v, %d UID mappings, %d homes; want succeeded with 4 mappings, no homes",
			st.State, st.Error, st.NewDomain, len(st.UIDMap), len(st.Homes))
	}
	var names []string
	for _, s := range st.Steps {
		names = append(names, s.Name+"="+s.State)
	}
	if len(st.Steps) != 5 || st.Steps[0].Name != StepPreflight {
		t.Errorf("apply steps: %v", names)
	}
	newSnap, err := studio.TakeSnapshot(ctx, w.clients, st.NewDomain.ID, studio.SnapshotOptions{})
	if err != nil || len(newSnap.UserProfiles) != 3 || len(newSnap.Spaces) != 1 {
		t.Fatalf("the new domain: %v", err)
	}

	deletes := w.em.Calls("DeleteDomain")
	id, err = c.Submit(ctx, Spec{Kind: KindCleanup, Source: AWSTarget{Region: emulator.DefaultRegion, EndpointURL: w.url},
		SourceDomainID: w.old.Domain.ID})
	if err != nil {
		t.Fatal(err)
	}
	st = waitDone(t, c, id, 60*time.Second)
	if st.State != StateSucceeded {
		t.Fatalf("cleanup job: %s (%s)", st.State, st.Error)
	}
	if _, err := studio.TakeSnapshot(ctx, w.clients, w.old.Domain.ID, studio.SnapshotOptions{}); !errors.Is(err, studio.ErrNotFound) {
		t.Errorf("the old domain after cleanup: %v; want not found", err)
	}
	if n := w.em.Calls("DeleteDomain") - deletes; n != 1 {
		t.Errorf("DeleteDomain called %d times", n)
	}
}
