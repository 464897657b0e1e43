//go:build linux

package jobs

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/efs"
)

// TestCancelAndRetry: Cancel stops a home in the middle of its copy (its worker
// lets go of it, nothing runs on), a cancelled job cannot be cancelled again,
// and Retry resumes it to the end, the interrupted home without starting over.
func TestCancelAndRetry(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 2, 0, 5)
	m := w.old.UIDMap[0]
	uid, _ := strconv.Atoi(m.NewUID)
	addFiles(t, filepath.Join(w.efsRoot, w.old.Domain.HomeEfsFileSystemID, m.NewUID), uid, 3000)
	bigKey := m.Kind + "/" + m.Name
	c := w.client(t)
	// Every file read waits a little, so the 3,000-file home takes seconds however
	// fast the machine: the cancel below always lands while it is being copied.
	w.startWorker(t, "w1", func(cfg *WorkerConfig) {
		cfg.wrapSource = func(f efs.FS) efs.FS { return slowOpenFS{FS: f, delay: 2 * time.Millisecond} }
	})
	ctx := context.Background()
	if _, err := c.Get(ctx, "migrate-nosuchjob"); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("Get of an unknown job: %v; want ErrJobNotFound", err)
	}
	sp := w.spec()
	sp.Workers = 1
	id, err := c.Submit(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, id, 60*time.Second, "the big home's copy to be under way", func(s *Status) bool {
		h := homeOf(s, bigKey)
		return h.State == HomeRunning && h.Files > 0
	})
	if err := c.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, c, id, 20*time.Second, "the big home to be let go", func(s *Status) bool {
		return homeOf(s, bigKey).State == HomePending
	})
	if st.State != StateCancelled {
		t.Fatalf("job: %s; want cancelled", st.State)
	}
	h := homeOf(st, bigKey)
	if !strings.Contains(h.Error, "cancel") {
		t.Errorf("home after Cancel: %+v; want its error to say the job was cancelled", h)
	}
	if n, _ := c.c.st.rdb.Exists(ctx, keyLease(id, homeUnit(bigKey))).Result(); n != 0 {
		t.Errorf("the cancelled home's lease is still held")
	}
	if err := c.Cancel(ctx, id); !errors.Is(err, ErrJobFinished) {
		t.Errorf("second Cancel: %v; want ErrJobFinished", err)
	}
	list, err := c.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].State != StateCancelled || list[0].NewDomainID == "" {
		t.Errorf("List: %+v, %v", list, err)
	}

	if err := c.Retry(ctx, id); err != nil {
		t.Fatal(err)
	}
	st = waitDone(t, c, id, 60*time.Second)
	if st.State != StateSucceeded {
		t.Fatalf("after Retry: %s: %s", st.State, st.Error)
	}
	h = homeOf(st, bigKey)
	if h.Copy == nil || h.Copy.Unchanged == 0 || h.Verify == nil || !h.Verify.OK() {
		t.Errorf("the resumed home: copy %+v, verify %+v; want a resumed, verified copy", h.Copy, h.Verify)
	}
	checkNewHomes(t, w, st)
	if err := c.Retry(ctx, id); err == nil || !strings.Contains(err.Error(), "only a failed or cancelled job") {
		t.Errorf("Retry of a succeeded job: %v", err)
	}
}

// slowOpenFS delays every Open: a copy through it takes at least delay per file.
type slowOpenFS struct {
	efs.FS
	delay time.Duration
}

func (f slowOpenFS) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	time.Sleep(f.delay)
	return f.FS.Open(ctx, name)
}
