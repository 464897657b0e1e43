package jobs

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hibiken/asynq"

	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

func TestParseRedisURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want asynq.RedisConnOpt
		err  string
	}{
		{in: "redis://127.0.0.1:6379/0", want: asynq.RedisClientOpt{Addr: "127.0.0.1:6379"}},
		{in: "redis://redis", want: asynq.RedisClientOpt{Addr: "redis:6379"}},
		{in: "redis://:s3cret@redis:6380/2", want: asynq.RedisClientOpt{Addr: "redis:6380", Password: "s3cret", DB: 2}},
		{in: "redis://app:s3cret@redis:6380?db=3", want: asynq.RedisClientOpt{Addr: "redis:6380", Username: "app", Password: "s3cret", DB: 3}},
		{in: "rediss://:pw@cache.example.com:6380/1", want: asynq.RedisClientOpt{Addr: "cache.example.com:6380", Password: "pw", DB: 1,
			TLSConfig: &tls.Config{ServerName: "cache.example.com", MinVersion: tls.VersionTLS12}}},
		{in: "redis-sentinel://:pw@s1:26379,s2:26379,s3/4?master=mymaster", want: asynq.RedisFailoverClientOpt{
			MasterName: "mymaster", SentinelAddrs: []string{"s1:26379", "s2:26379", "s3:6379"}, Password: "pw", DB: 4}},
		{in: "", err: "no Redis URL"},
		{in: "redis-sentinel://s1:26379", err: "needs ?master=NAME"},
		{in: "redis://:hunter2@redis/x", err: "database number"},
		{in: "http://:hunter2@redis/0", err: "unsupported scheme"},
		{in: "redis://:hunter2@a:1,b:2/0", err: "redis-sentinel://"},
		{in: "redis://:hunter2@[::1/0", err: "unbalanced brackets"},
		{in: "redis:/:hunter2@x/0", err: "not a URL"},
		{in: "redis://[::1]:7000/1", want: asynq.RedisClientOpt{Addr: "[::1]:7000", DB: 1}},
	} {
		got, err := ParseRedisURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseRedisURL(%q) = %v, %v; want error with %q", tc.in, got, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("ParseRedisURL(%q): the error shows the password: %v", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRedisURL(%q): %v", tc.in, err)
			continue
		}
		if d := cmp.Diff(tc.want, got, cmpopts.IgnoreUnexported(tls.Config{})); d != "" {
			t.Errorf("ParseRedisURL(%q) (-want +got):\n%s", tc.in, d)
		}
	}
}

// redisURLs are the servers the record tests run against: redis-server and
// miniredis (the demo's), whose Lua and TTLs must behave the same for our scripts.
func redisURLs(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"redis-server": testutil.StartRedis(t).URL(),
		"miniredis":    startMiniredis(t),
	}
}

// startMiniredis runs an in-process miniredis whose clock a goroutine moves
// forward, as the demo does (ClockTTL would sort every key on every command).
func startMiniredis(t *testing.T) string {
	t.Helper()
	mr := miniredis.RunT(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		// miniredis's clock stands still unless moved: move it as the demo does.
		defer close(done)
		tk := time.NewTicker(50 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				mr.FastForward(50 * time.Millisecond)
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return "redis://" + mr.Addr() + "/0"
}

func testWorker(t *testing.T, url, name string, ttl time.Duration) *worker {
	t.Helper()
	r, err := ParseRedisURL(url)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWorker(r, WorkerConfig{Name: name, LeaseTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.w.q.Close(); _ = w.w.ins.Close(); _ = w.w.st.rdb.Close() })
	return w.w
}

// fakeJob stores a running job with two homes, as copy-homes leaves it.
func fakeJob(t *testing.T, st *store, id string) {
	t.Helper()
	ctx := context.Background()
	if err := st.rdb.HSet(ctx, keyJob(id), "spec", `{"kind":"migrate"}`, "kind", KindMigrate, "state", StateRunning,
		"gen", 0, "homes", 2, "created", nowMS()).Err(); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"user-profile/a", "user-profile/b"} {
		if err := st.rdb.HSet(ctx, keyUnit(id, homeUnit(h)), "state", HomePending, "attempt", 1).Err(); err != nil {
			t.Fatal(err)
		}
		st.rdb.SAdd(ctx, keyHomes(id), h)
	}
	st.rdb.HSet(ctx, keyUnit(id, stepUnit(StepVerify)), "state", unitPending, "attempt", 1)
}

// TestDoneSetJoinOnce: a home that ends twice (a retry or an orphaned task that
// got through) joins the done-set once, and verify is enqueued exactly once however
// many homes see the set complete.
func TestDoneSetJoinOnce(t *testing.T) {
	for name, url := range redisURLs(t) {
		t.Run(name, func(t *testing.T) {
			w := testWorker(t, url, "w1", 2*time.Second)
			ctx := context.Background()
			fakeJob(t, w.st, "j1")
			for i, step := range []struct {
				home            string
				added, complete bool
			}{
				{"user-profile/a", true, false},
				{"user-profile/a", false, false}, // retried: not counted again
				{"user-profile/b", true, true},
				{"user-profile/b", false, true},
			} {
				added, complete, err := w.st.homeDone(ctx, "j1", step.home)
				if err != nil {
					t.Fatal(err)
				}
				if added != step.added || complete != step.complete {
					t.Errorf("%d: homeDone(%s) = added %v, complete %v; want %v, %v", i, step.home, added, complete, step.added, step.complete)
				}
				if complete {
					if err := w.enqueueStep(ctx, "j1", StepVerify, 0); err != nil {
						t.Fatal(err)
					}
				}
			}
			tasks, err := w.ins.ListPendingTasks(QueueControl)
			if err != nil {
				t.Fatal(err)
			}
			if len(tasks) != 1 || tasks[0].ID != "j1:verify" {
				t.Errorf("pending control tasks: %v; want j1:verify once", taskIDs(tasks))
			}
		})
	}
}

func taskIDs(ts []*asynq.TaskInfo) []string {
	var ids []string
	for _, t := range ts {
		ids = append(ids, t.ID)
	}
	return ids
}

// TestLeaseAndReaper walks the lease protocol: one holder at a time; an expired
// lease is taken over by a reaper exactly once, as a new task with a new attempt;
// the old holder and the old task stand down; a task of an attempt not committed
// yet waits.
func TestLeaseAndReaper(t *testing.T) {
	for name, url := range redisURLs(t) {
		t.Run(name, func(t *testing.T) {
			const ttl = time.Second
			a := testWorker(t, url, "wa", ttl)
			b := testWorker(t, url, "wb", ttl)
			ctx := context.Background()
			fakeJob(t, a.st, "j2")
			unit := homeUnit("user-profile/a")

			la, err := a.st.acquire(ctx, "j2", unit, 0, 1, "wa", ttl, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.st.acquire(ctx, "j2", unit, 0, 1, "wb", ttl, ""); !errors.Is(err, errUnitBusy) {
				t.Fatalf("second acquire: %v; want busy", err)
			}
			if state, err := la.renew(ctx); err != nil || state != StateRunning {
				t.Fatalf("renew: %q, %v", state, err)
			}
			// Nobody renews: the lease expires, and both reapers race for it.
			time.Sleep(ttl + 300*time.Millisecond)
			errA, errB := make(chan error), make(chan error)
			go func() { errA <- a.reapOnce(ctx) }()
			go func() { errB <- b.reapOnce(ctx) }()
			if err := errors.Join(<-errA, <-errB); err != nil {
				t.Fatal(err)
			}
			u, err := a.st.unit(ctx, "j2", unit)
			if err != nil {
				t.Fatal(err)
			}
			if u["attempt"] != "2" || u["state"] != HomeRunning {
				t.Fatalf("after the takeover: %v; want attempt 2, still running", u)
			}
			tasks, err := a.ins.ListPendingTasks(QueueCopy)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff([]string{"j2:home:user-profile/a:a2"}, taskIDs(tasks)); d != "" {
				t.Errorf("takeover tasks (-want +got):\n%s", d)
			}
			if _, err := la.renew(ctx); !errors.Is(err, errLeaseLost) {
				t.Errorf("old holder's renew: %v; want lease lost", err)
			}
			if ok, err := la.release(ctx, "state", HomeSucceeded); ok || err != nil {
				t.Errorf("old holder's release: %v, %v; want refused", ok, err)
			}
			if _, err := b.st.acquire(ctx, "j2", unit, 0, 1, "wb", ttl, ""); !errors.Is(err, errUnitStale) {
				t.Errorf("the orphaned attempt 1 task: %v; want stale", err)
			}
			if _, err := b.st.acquire(ctx, "j2", unit, 0, 3, "wb", ttl, ""); !errors.Is(err, errUnitEarly) {
				t.Errorf("an attempt 3 task: %v; want early", err)
			}
			lb, err := b.st.acquire(ctx, "j2", unit, 0, 2, "wb", ttl, "")
			if err != nil {
				t.Fatalf("the takeover task: %v", err)
			}
			if err := a.reapOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if u, _ := a.st.unit(ctx, "j2", unit); u["attempt"] != "2" || u["worker"] != "wb" {
				t.Errorf("a held unit was reaped: %v", u)
			}
			if ok, err := lb.release(ctx, "state", HomeSucceeded); !ok || err != nil {
				t.Fatalf("release: %v, %v", ok, err)
			}
			if _, err := a.st.acquire(ctx, "j2", unit, 0, 2, "wa", ttl, ""); !errors.Is(err, errUnitDone) {
				t.Errorf("acquire of a finished unit: %v; want done", err)
			}
			if n, _ := a.st.rdb.SCard(ctx, keyActive()).Result(); n != 0 {
				t.Errorf("%d units still listed active", n)
			}
		})
	}
}

// TestHeartbeatFencesWithoutRedis: a holder that cannot reach Redis stops its work
// before its lease can expire, so it never works on while a reaper elsewhere hands
// the unit to another worker.
func TestHeartbeatFencesWithoutRedis(t *testing.T) {
	srv := testutil.StartRedis(t)
	const ttl = 3 * time.Second
	w := testWorker(t, srv.URL(), "wa", ttl)
	ctx := context.Background()
	fakeJob(t, w.st, "j3")
	l, err := w.st.acquire(ctx, "j3", homeUnit("user-profile/a"), 0, 1, "wa", ttl, "")
	if err != nil {
		t.Fatal(err)
	}
	acquired := time.Now()
	work, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go w.heartbeat(work, l, cancel, w.log)
	time.Sleep(ttl / 2) // at least one renewal
	down := time.Now()
	_, _ = srv.Do("SHUTDOWN", "NOSAVE") // the connection drops: no answer

	select {
	case <-work.Done():
	case <-time.After(3 * ttl):
		t.Fatal("the work went on without Redis")
	}
	if cause := context.Cause(work); !errors.Is(cause, errLeaseLost) {
		t.Errorf("work stopped with %v; want lease lost", cause)
	}
	// The last renewal was before Redis went down, so the lease expires before
	// down+TTL at the latest: the work must have stopped by then.
	if d := time.Since(down); d >= ttl {
		t.Errorf("work stopped %v after Redis went down; its lease (TTL %v) may have expired first", d, ttl)
	}
	t.Logf("work stopped %v after the lease was taken, %v after Redis went down (TTL %v)",
		time.Since(acquired).Round(time.Millisecond), time.Since(down).Round(time.Millisecond), ttl)
}
