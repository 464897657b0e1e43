//go:build linux

package jobs

import (
	"context"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/efs"
)

// TestGracefulShutdownHandsOver: a worker stopped (its Run context ends) in the
// middle of a home lets go of it at once, without waiting for a lease to expire, and
// another worker resumes the copy.
func TestGracefulShutdownHandsOver(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 1, 0, 5)
	m := w.old.UIDMap[0]
	uid, _ := strconv.Atoi(m.NewUID)
	addFiles(t, filepath.Join(w.efsRoot, w.old.Domain.HomeEfsFileSystemID, m.NewUID), uid, 3000)
	key := m.Kind + "/" + m.Name
	c := w.client(t)
	r, err := ParseRedisURL(w.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	// A long lease: a handover faster than it can only come from the shutdown.
	const lease = 60 * time.Second
	cfg := testWorkerConfig("first", lease, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	// 3,000 files at 2 ms each: the copy is still running when the poll sees it.
	cfg.wrapSource = func(f efs.FS) efs.FS { return slowOpenFS{FS: f, delay: 2 * time.Millisecond} }
	first, err := NewWorker(r, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = first.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	sp := w.spec()
	sp.Workers = 1
	id, err := c.Submit(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, id, 60*time.Second, "the copy to be under way", func(s *Status) bool {
		h := homeOf(s, key)
		return h.State == HomeRunning && h.Files > 0
	})
	stopped := time.Now()
	stop()
	<-done
	t.Logf("worker stopped in %v", time.Since(stopped).Round(time.Millisecond))
	if h := homeOf(mustGet(t, c, id), key); h.State != HomePending {
		t.Errorf("after the shutdown the home is %s (worker %s); want pending, let go", h.State, h.Worker)
	}
	w.startWorker(t, "second")
	waitFor(t, c, id, lease, "the second worker to take the home", func(s *Status) bool {
		return homeOf(s, key).Worker == "second"
	})
	handover := time.Since(stopped)
	t.Logf("the second worker took the home %v after the shutdown", handover.Round(time.Millisecond))
	if handover > lease/2 {
		t.Errorf("the handover took %v: it waited for something (the first worker's lease is %v)", handover, lease)
	}
	st := waitDone(t, c, id, 2*time.Minute)
	h := homeOf(st, key)
	if st.State != StateSucceeded || h.Copy == nil || h.Copy.Unchanged == 0 {
		t.Fatalf("job %s; home %s, copy %+v: want it resumed", st.State, h.State, h.Copy)
	}
}

func mustGet(t *testing.T, c *Client, id string) *Status {
	t.Helper()
	st, err := c.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
