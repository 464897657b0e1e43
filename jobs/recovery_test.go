package jobs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// stepsDone marks the steps of a migrate job before step as succeeded, and step
// and those after it as pending (attempt 1), as the workflow leaves them when step
// is next.
func stepsDone(t *testing.T, st *store, id, step string) {
	t.Helper()
	ctx := context.Background()
	state := unitSucceeded
	for _, s := range stepsOf(Spec{Kind: KindMigrate}) {
		if s == step {
			state = unitPending
		}
		if err := st.rdb.HSet(ctx, keyUnit(id, stepUnit(s)), "state", state, "attempt", 1).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

func pendingIDs(t *testing.T, w *worker, queue string) []string {
	t.Helper()
	tasks, err := w.ins.ListPendingTasks(queue)
	if err != nil && !strings.Contains(err.Error(), "not found") {
		t.Fatal(err)
	}
	return taskIDs(tasks)
}

// TestReaperRecoversLostJoin: two homes end at the same moment and the worker that
// completed the done-set dies before it enqueues verify. The reaper of any worker
// enqueues verify (once, however often it runs), and never before the set is
// complete.
func TestReaperRecoversLostJoin(t *testing.T) {
	for name, url := range redisURLs(t) {
		t.Run(name, func(t *testing.T) {
			const ttl = time.Second
			w := testWorker(t, url, "w1", ttl)
			ctx := context.Background()
			fakeJob(t, w.st, "j4")
			stepsDone(t, w.st, "j4", StepVerify)
			end := func(home string) {
				l, err := w.st.acquire(ctx, "j4", homeUnit(home), 0, 1, "w1", ttl, "")
				if err != nil {
					t.Fatal(err)
				}
				// The home ends and joins the done-set; then its worker dies.
				if ok, err := l.release(ctx, "state", HomeSucceeded, "finished", nowMS()); !ok || err != nil {
					t.Fatalf("release of %s: %v, %v", home, ok, err)
				}
				if _, _, err := w.st.homeDone(ctx, "j4", home); err != nil {
					t.Fatal(err)
				}
			}
			end("user-profile/a")
			if err := w.reapOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if ids := pendingIDs(t, w, QueueControl); len(ids) != 0 {
				t.Fatalf("with one of two homes done the reaper enqueued %v; want nothing", ids)
			}
			end("user-profile/b")
			if ids := pendingIDs(t, w, QueueControl); len(ids) != 0 {
				t.Fatalf("before the reaper ran: %v", ids)
			}
			for range 3 {
				if err := w.reapOnce(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if d := cmp.Diff([]string{"j4:verify"}, pendingIDs(t, w, QueueControl)); d != "" {
				t.Errorf("after the reaper, pending control tasks (-want +got):\n%s", d)
			}
		})
	}
}

// TestReaperRecoversLostStep: a step was recorded as succeeded and its worker died
// before enqueueing the next; the reaper enqueues that next step by its task ID. A
// job whose last step succeeded but that was not marked so ends succeeded; one
// whose step failed for good ends failed. Ended jobs leave the reaper's set.
func TestReaperRecoversLostStep(t *testing.T) {
	for name, url := range redisURLs(t) {
		t.Run(name, func(t *testing.T) {
			const ttl = time.Second
			w := testWorker(t, url, "w1", ttl)
			ctx := context.Background()
			for _, id := range []string{"j5", "j6", "j7"} {
				fakeJob(t, w.st, id)
			}
			// j5: create-spaces ended, assign-users never enqueued.
			stepsDone(t, w.st, "j5", StepCreateSpaces)
			l, err := w.st.acquire(ctx, "j5", stepUnit(StepCreateSpaces), 0, 1, "w1", ttl, StepCreateSpaces)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := l.release(ctx, "state", unitSucceeded, "finished", nowMS()); !ok || err != nil {
				t.Fatalf("release: %v, %v", ok, err)
			}
			// j6: verify (the last step) succeeded, the job was never marked so.
			stepsDone(t, w.st, "j6", StepVerify)
			l, err = w.st.acquire(ctx, "j6", stepUnit(StepVerify), 0, 1, "w1", ttl, StepVerify)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := l.release(ctx, "state", unitSucceeded, "finished", nowMS()); !ok || err != nil {
				t.Fatalf("release: %v, %v", ok, err)
			}
			// j7: preflight failed for good, the job was never marked so.
			stepsDone(t, w.st, "j7", StepPreflight)
			l, err = w.st.acquire(ctx, "j7", stepUnit(StepPreflight), 0, 1, "w1", ttl, StepPreflight)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := l.release(ctx, "state", unitFailed, "error", "the plan has 1 errors: bad VPC"); !ok || err != nil {
				t.Fatalf("release: %v, %v", ok, err)
			}

			for range 2 {
				if err := w.reapOnce(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if d := cmp.Diff([]string{"j5:assign-users"}, pendingIDs(t, w, QueueControl)); d != "" {
				t.Errorf("pending control tasks (-want +got):\n%s", d)
			}
			for id, want := range map[string]string{"j5": StateRunning, "j6": StateSucceeded, "j7": StateFailed} {
				j, err := w.st.job(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if j["state"] != want {
					t.Errorf("job %s: %s (%s); want %s", id, j["state"], j["error"], want)
				}
				if id == "j7" && !strings.Contains(j["error"], "preflight: the plan has 1 errors") {
					t.Errorf("job j7's error %q does not say which step failed and why", j["error"])
				}
			}
			running, err := w.st.rdb.SMembers(ctx, keyRunning()).Result()
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff([]string{"j5"}, running); d != "" {
				t.Errorf("jobs the reaper still scans (-want +got):\n%s", d)
			}
		})
	}
}

// TestStepDoneBeforeNext: a worker that dies while ending a step (here: it loses
// write access to the job record at that moment, so it cannot mark the step done)
// must not have enqueued the next step already, or the step, taken over, would run
// again beside the next one. After the takeover only the step itself is queued.
func TestStepDoneBeforeNext(t *testing.T) {
	srv := testutil.StartRedis(t)
	const ttl = time.Second
	admin := testWorker(t, srv.URL(), "admin", ttl)
	// A user that may use the queue but only read the job record.
	if _, err := srv.Do("ACL", "SETUSER", "crashy", "on", ">pw", "~asynq:*", "%R~migrator:*", "&*", "+@all"); err != nil {
		t.Fatal(err)
	}
	w := testWorker(t, "redis://crashy:pw@"+srv.Addr+"/0", "wa", ttl)
	ctx := context.Background()
	fakeJob(t, admin.st, "j8")
	stepsDone(t, admin.st, "j8", StepCreateSpaces)
	l, err := admin.st.acquire(ctx, "j8", stepUnit(StepCreateSpaces), 0, 1, "wa", ttl, StepCreateSpaces)
	if err != nil {
		t.Fatal(err)
	}
	l.s = w.st
	j, err := w.st.job(ctx, "j8")
	if err != nil {
		t.Fatal(err)
	}
	r := &unitRun{w: w, p: payload{Job: "j8", Step: StepCreateSpaces, Attempt: 1}, id: "j8", job: j,
		spec: Spec{Kind: KindMigrate}, log: w.log, lease: l}
	if err := w.succeed(ctx, r, time.Second); err == nil {
		t.Fatal("succeed without write access to the record: no error")
	}
	u, err := admin.st.unit(ctx, "j8", stepUnit(StepCreateSpaces))
	if err != nil {
		t.Fatal(err)
	}
	if ids := pendingIDs(t, admin, QueueControl); len(ids) > 0 && u["state"] != unitSucceeded {
		t.Fatalf("%v enqueued while create-spaces is still %s: both would run at once", ids, u["state"])
	}
	// The dead worker's lease expires; the reaper reruns create-spaces, alone.
	time.Sleep(ttl + 300*time.Millisecond)
	if err := admin.reapOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"j8:create-spaces:a2"}, pendingIDs(t, admin, QueueControl)); d != "" {
		t.Errorf("pending control tasks after the takeover (-want +got):\n%s", d)
	}
}

// TestRecordRetention: once a job has ended, every key of its record expires after
// RecordRetention and List stops showing it; a running job's record never expires;
// Retry of a failed job takes the expiry off again.
func TestRecordRetention(t *testing.T) {
	for name, url := range redisURLs(t) {
		t.Run(name, func(t *testing.T) {
			const retention = 3 * time.Second
			r, err := ParseRedisURL(url)
			if err != nil {
				t.Fatal(err)
			}
			wk, err := NewWorker(r, WorkerConfig{Name: "w1", LeaseTTL: time.Second, RecordRetention: retention})
			if err != nil {
				t.Fatal(err)
			}
			w := wk.w
			t.Cleanup(func() { _ = w.q.Close(); _ = w.ins.Close(); _ = w.st.rdb.Close() })
			c, err := NewClient(r)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			ctx := context.Background()
			for i, id := range []string{"j10", "j11", "j12"} {
				fakeJob(t, w.st, id)
				stepsDone(t, w.st, id, StepVerify)
				w.st.rdb.SAdd(ctx, keyDone(id), "user-profile/a")
				w.st.rdb.HSet(ctx, keyUIDMap(id), "user-profile/a", `{"kind":"user-profile","name":"a","oldUid":"200001","newUid":"300001"}`)
				w.st.rdb.SAdd(ctx, keyWorkers(id), "w1")
				w.st.rdb.SAdd(ctx, keyRunning(), id)
				w.st.rdb.ZAdd(ctx, keyJobs(), redis.Z{Score: float64(time.Now().UnixMilli() + int64(i)), Member: id})
			}
			if err := w.st.endJob(ctx, "j10", StateSucceeded, ""); err != nil {
				t.Fatal(err)
			}
			if err := w.st.endJob(ctx, "j11", StateFailed, "step verify: 1 of 2 homes failed"); err != nil {
				t.Fatal(err)
			}
			if err := w.reapOnce(ctx); err != nil {
				t.Fatal(err)
			}
			// Every key of the job, as Redis has them, not as the code lists them.
			keys, err := w.st.rdb.Keys(ctx, keyJob("j10")+"*").Result()
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 5+8+2 {
				t.Errorf("job keys: %v; want the job, 4 sets and hashes, 8 steps and 2 homes", keys)
			}
			for _, k := range keys {
				ttl, err := w.st.rdb.PTTL(ctx, k).Result()
				if err != nil {
					t.Fatal(err)
				}
				if ttl <= 0 || ttl > retention {
					t.Errorf("%s of the ended job: TTL %v; want (0, %v]", k, ttl, retention)
				}
				if ttl, _ := w.st.rdb.PTTL(ctx, strings.Replace(k, "j10", "j12", 1)).Result(); ttl != -1 {
					t.Errorf("%s of the running job: TTL %v; want none", k, ttl)
				}
			}
			if err := c.Retry(ctx, "j11"); err != nil {
				t.Fatal(err)
			}
			if ttl, _ := w.st.rdb.PTTL(ctx, keyJob("j11")).Result(); ttl != -1 {
				t.Errorf("the retried job: TTL %v; want none", ttl)
			}
			list := func() []string {
				l, err := c.List(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, s := range l {
					ids = append(ids, s.ID)
				}
				return ids
			}
			if d := cmp.Diff([]string{"j12", "j11", "j10"}, list()); d != "" {
				t.Errorf("List before the retention passed (-want +got):\n%s", d)
			}
			time.Sleep(retention + time.Second)
			if d := cmp.Diff([]string{"j12", "j11"}, list()); d != "" {
				t.Errorf("List after the retention passed (-want +got):\n%s", d)
			}
			if _, err := c.Get(ctx, "j10"); !errors.Is(err, ErrJobNotFound) {
				t.Errorf("Get of an expired job: %v; want ErrJobNotFound", err)
			}
			for _, k := range keys {
				if n, _ := w.st.rdb.Exists(ctx, k).Result(); n != 0 {
					t.Errorf("%s still exists after the retention", k)
				}
			}
			if n, _ := w.st.rdb.ZScore(ctx, keyJobs(), "j10").Result(); n != 0 {
				t.Errorf("j10 still listed in %s", keyJobs())
			}
		})
	}
}

// TestJoinAfterCopyHomes: homes that all end while copy-homes is still running do
// not start verify beside it; copy-homes, once marked succeeded, does. When
// copy-homes is done first, the home that completes the set enqueues verify. Either
// way verify is queued once, and only after the step before it is done.
func TestJoinAfterCopyHomes(t *testing.T) {
	for name, url := range redisURLs(t) {
		t.Run(name, func(t *testing.T) {
			const ttl = 2 * time.Second
			w := testWorker(t, url, "w1", ttl)
			ctx := context.Background()
			endHome := func(id, home string) {
				t.Helper()
				l, err := w.st.acquire(ctx, id, homeUnit(home), 0, 1, "w1", ttl, "")
				if err != nil {
					t.Fatal(err)
				}
				r := &unitRun{w: w, p: payload{Job: id, Home: home, Attempt: 1}, id: id, spec: Spec{Kind: KindMigrate}, log: w.log, lease: l}
				if err := w.homeSucceeded(ctx, r, time.Second); err != nil {
					t.Fatal(err)
				}
			}
			queued := func(want ...string) {
				t.Helper()
				if d := cmp.Diff(want, pendingIDs(t, w, QueueControl)); d != "" {
					t.Errorf("pending control tasks (-want +got):\n%s", d)
				}
			}

			// Homes first, copy-homes marked after.
			fakeJob(t, w.st, "j13")
			stepsDone(t, w.st, "j13", StepCopyHomes)
			l, err := w.st.acquire(ctx, "j13", stepUnit(StepCopyHomes), 0, 1, "w1", ttl, StepCopyHomes)
			if err != nil {
				t.Fatal(err)
			}
			endHome("j13", "user-profile/a")
			endHome("j13", "user-profile/b")
			queued()
			r := &unitRun{w: w, p: payload{Job: "j13", Step: StepCopyHomes, Attempt: 1}, id: "j13", spec: Spec{Kind: KindMigrate},
				log: w.log, lease: l, noNext: true}
			if err := w.succeed(ctx, r, time.Second); err != nil {
				t.Fatal(err)
			}
			queued("j13:verify")

			// copy-homes marked first: the last home starts verify.
			fakeJob(t, w.st, "j14")
			stepsDone(t, w.st, "j14", StepVerify)
			endHome("j14", "user-profile/a")
			queued("j13:verify")
			endHome("j14", "user-profile/b")
			queued("j13:verify", "j14:verify")
			if err := w.reapOnce(ctx); err != nil {
				t.Fatal(err)
			}
			queued("j13:verify", "j14:verify")
		})
	}
}
