package jobs

import (
	"context"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"
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
	cfg := testWorkerConfig("first", 30*time.Second, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
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
	st := waitDone(t, c, id, 60*time.Second)
	h := homeOf(st, key)
	if st.State != StateSucceeded || h.Worker != "second" || h.Copy == nil || h.Copy.Unchanged == 0 {
		t.Fatalf("job %s; home %s by %s, copy %+v: want it resumed by the second worker", st.State, h.State, h.Worker, h.Copy)
	}
	t.Logf("the second worker finished the home %v after the shutdown", h.Finished.Sub(stopped).Round(time.Millisecond))
	if took := h.Finished.Sub(stopped); took > 25*time.Second {
		t.Errorf("the home finished %v after the shutdown: the handover waited for something", took)
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
