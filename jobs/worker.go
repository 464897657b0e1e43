package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/studio-migrator/studio-migrator/internal/awsconfig"
	"github.com/studio-migrator/studio-migrator/internal/studio"
)

// DefaultLeaseTTL is WorkerConfig.LeaseTTL's default.
const DefaultLeaseTTL = 15 * time.Second

// DefaultRecordRetention is WorkerConfig.RecordRetention's default.
const DefaultRecordRetention = 30 * 24 * time.Hour

// placeholderTTL is how long a taken-over unit waits for its new task to start
// before another reaper may take it over again (only when every worker is busy
// that long, or the reaper died between enqueueing and committing).
const placeholderTTL = 10 * time.Minute

type worker struct {
	cfg  WorkerConfig
	name string
	st   *store
	q    *asynq.Client
	ins  *asynq.Inspector
	r    asynq.RedisConnOpt
	log  *slog.Logger
}

func newWorker(r asynq.RedisConnOpt, cfg WorkerConfig) (*Worker, error) {
	rdb, err := redisClient(r)
	if err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		h, _ := os.Hostname()
		cfg.Name = h + ":" + strconv.Itoa(os.Getpid())
	}
	if strings.Contains(cfg.Name, "|") {
		return nil, fmt.Errorf("worker name %q: '|' is reserved", cfg.Name)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if len(cfg.Queues) == 0 {
		cfg.Queues = DefaultQueues
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.RecordRetention == 0 {
		cfg.RecordRetention = DefaultRecordRetention
	}
	if cfg.LeaseTTL < time.Second {
		return nil, fmt.Errorf("lease TTL %v: must be at least 1s", cfg.LeaseTTL)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.AWSConfig == nil {
		cfg.AWSConfig = func(ctx context.Context, t AWSTarget) (aws.Config, error) {
			return awsconfig.Load(ctx, awsconfig.Options{Region: t.Region, Profile: t.Profile, EndpointURL: t.EndpointURL})
		}
	}
	w := &worker{cfg: cfg, name: cfg.Name, st: &store{rdb: rdb}, q: asynq.NewClient(r), ins: asynq.NewInspector(r), r: r,
		log: cfg.Log.With("worker", cfg.Name)}
	return &Worker{w: w}, nil
}

// errShutdown is returned by a handler stopped because its worker shuts down: asynq
// requeues the task without counting a failure.
var errShutdown = errors.New("worker shutting down")

// isFailure says which handler errors count against a task's MaxRetry: a unit held
// by another worker, a shutdown and asynq's own lease expiry (a killed worker, which
// our reaper has already handled) do not.
func isFailure(err error) bool {
	return !errors.Is(err, errUnitBusy) && !errors.Is(err, errHomesRunning) && !errors.Is(err, errShutdown) && !errors.Is(err, asynq.ErrLeaseExpired)
}

// retryDelay is the backoff: short for a unit that is busy or about to be
// committed, exponential (5s, 10s, 20s, ... up to 10 minutes) for failures.
func (w *worker) retryDelay(n int, err error, _ *asynq.Task) time.Duration {
	switch {
	case errors.Is(err, errUnitBusy), errors.Is(err, errUnitEarly), errors.Is(err, errShutdown), errors.Is(err, errHomesRunning):
		return time.Second
	case errors.Is(err, asynq.ErrLeaseExpired):
		return 0
	}
	if w.cfg.RetryDelay != nil {
		return w.cfg.RetryDelay(n)
	}
	return min(5*time.Second<<min(n, 10), 10*time.Minute)
}

func (w *worker) run(ctx context.Context) error {
	defer func() { _ = w.q.Close(); _ = w.ins.Close(); _ = w.st.rdb.Close() }()
	base, stopHandlers := context.WithCancelCause(context.Background())
	defer stopHandlers(nil)
	srv := asynq.NewServer(w.r, asynq.Config{
		Concurrency:              w.cfg.Concurrency,
		Queues:                   w.cfg.Queues,
		BaseContext:              func() context.Context { return base },
		RetryDelayFunc:           w.retryDelay,
		IsFailure:                isFailure,
		Logger:                   asynqLogger{w.log.With("component", "asynq")},
		LogLevel:                 asynq.WarnLevel,
		ShutdownTimeout:          10 * time.Second,
		DelayedTaskCheckInterval: time.Second,
		// An idle worker looks for work this often (asynq's default is 1 s). Each
		// step of a job is a task enqueued by the one before, so with the default
		// every step waited up to a second on an idle worker (most of a small job's
		// wall time in bench/queue); an empty-queue check costs one Redis call.
		TaskCheckInterval: 200 * time.Millisecond,
	})
	mux := asynq.NewServeMux()
	for step, typ := range stepTypes {
		mux.HandleFunc(typ, w.stepHandler(step))
	}
	mux.HandleFunc(TypeCopyHome, w.handleCopyHome)
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("starting worker %s: %w", w.name, err)
	}
	w.log.Info("worker started", "concurrency", w.cfg.Concurrency, "lease_ttl", w.cfg.LeaseTTL)
	var wg sync.WaitGroup
	reapCtx, stopReaper := context.WithCancel(context.Background())
	wg.Add(1)
	go func() { defer wg.Done(); w.reaper(reapCtx) }()
	<-ctx.Done()
	stopReaper()
	wg.Wait()
	// Stop our handlers first (they release their leases, so another worker resumes
	// at once), then let asynq requeue their tasks.
	stopHandlers(errShutdown)
	srv.Shutdown()
	w.log.Info("worker stopped")
	return nil
}

// unitRun is one task's run of a unit, handed to the step's or home's work.
type unitRun struct {
	w     *worker
	p     payload
	id    string
	job   jobInfo
	spec  Spec
	log   *slog.Logger
	lease *lease
	// noNext: the step enqueues what follows itself (copy-homes: the homes).
	noNext bool
	// fields are written to the unit when it ends.
	fields []any
}

// runUnit is the frame of every handler: take the unit's lease (or stand down), keep
// it alive while work runs, stop work when the lease is lost or the job cancelled,
// and record how it ended.
func (w *worker) runUnit(ctx context.Context, t *asynq.Task, work func(ctx context.Context, r *unitRun) error) error {
	p, err := parsePayload(t)
	if err != nil {
		return err
	}
	log := w.log.With("job", p.Job, "attempt", p.Attempt)
	if p.Home != "" {
		log = log.With("home", p.Home)
	} else {
		log = log.With("step", p.Step)
	}
	l, err := w.st.acquire(ctx, p.Job, p.unit(), p.Gen, p.Attempt, w.name, w.cfg.LeaseTTL, p.Step)
	switch {
	case errors.Is(err, errUnitDone), errors.Is(err, errUnitStale), errors.Is(err, errJobEnded), errors.Is(err, ErrJobNotFound):
		log.Info("nothing to do", "reason", err.Error())
		return nil
	case err != nil:
		log.Debug("not taken", "reason", err.Error())
		return err
	}
	job, err := w.st.job(ctx, p.Job)
	if err != nil {
		_, _ = l.release(context.WithoutCancel(ctx), "state", unitPending, "error", err.Error())
		return err
	}
	sp, err := job.spec()
	if err != nil {
		_, _ = l.release(context.WithoutCancel(ctx), "state", unitFailed, "error", err.Error())
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	r := &unitRun{w: w, p: p, id: p.Job, job: job, spec: sp, log: log, lease: l}
	log.Info("started")

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		w.heartbeat(runCtx, l, cancel, log)
	}()
	start := time.Now()
	err = work(runCtx, r)
	cause := context.Cause(runCtx)
	cancel(nil)
	<-hbDone
	bg := context.WithoutCancel(ctx)

	switch {
	case errors.Is(cause, errLeaseLost):
		// Taken over (or fenced off from Redis): the record is the new holder's now.
		log.Warn("stopped: "+cause.Error(), "held_for", time.Since(start).Round(time.Millisecond))
		return nil
	case errors.Is(cause, errJobEnded):
		log.Info("stopped: " + cause.Error())
		_, _ = l.release(bg, "state", unitPending, "error", cause.Error())
		return nil
	case err != nil && errors.Is(context.Cause(ctx), errShutdown):
		log.Info("stopped: worker shutting down; another worker resumes it")
		_, _ = l.release(bg, "state", unitPending, "error", "interrupted by the shutdown of "+w.name)
		return errShutdown
	case err != nil && ctx.Err() != nil:
		// asynq cancelled the task (Inspector.CancelProcessing or its timeout).
		log.Warn("stopped", "error", err)
		_, _ = l.release(bg, "state", unitPending, "error", err.Error())
		return err
	}
	if err == nil {
		return w.succeed(bg, r, time.Since(start))
	}
	retries, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	final := errors.Is(err, asynq.SkipRetry) || retries >= maxRetry
	msg := strings.TrimSuffix(err.Error(), ": "+asynq.SkipRetry.Error())
	if errors.Is(err, errUnitBusy) || errors.Is(err, errHomesRunning) {
		final = false
	}
	if !final {
		log.Warn("failed; will retry", "error", msg, "retry", retries, "max_retry", maxRetry)
		_, _ = l.release(bg, append([]any{"state", unitPending, "error", msg}, r.fields...)...)
		return err
	}
	log.Error("failed", "error", msg)
	if p.Home != "" {
		return w.homeFailed(bg, r, msg, err)
	}
	if ok, _ := l.release(bg, append([]any{"state", unitFailed, "error", msg, "finished", nowMS()}, r.fields...)...); ok {
		_ = w.st.endJob(bg, p.Job, StateFailed, "step "+p.Step+": "+msg)
	}
	return err
}

// heartbeat renews the lease every third of its TTL and cancels the work when the
// lease is lost or the job is no longer running (cancelled by an administrator).
// When it cannot reach Redis it stops the work itself before the lease can expire
// (half to three quarters of the TTL after the last renewal), so a worker cut off from Redis
// never copies on while another takes its home over.
func (w *worker) heartbeat(ctx context.Context, l *lease, cancel context.CancelCauseFunc, log *slog.Logger) {
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// The lease runs from the moment Redis renews it, at the earliest now. A
		// renewal that hangs (a partition drops packets) gives up three quarters of
		// a TTL after the last good one, still before the lease can expire.
		start := time.Now()
		rctx, rcancel := context.WithDeadline(ctx, lastOK.Add(l.ttl*3/4))
		state, err := l.renew(rctx)
		rcancel()
		switch {
		case errors.Is(err, errLeaseLost):
			cancel(errLeaseLost)
			return
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			log.Warn("renewing the lease", "error", err)
			if time.Since(lastOK) >= l.ttl/2 {
				cancel(fmt.Errorf("%w (Redis unreachable for %v)", errLeaseLost, time.Since(lastOK).Round(time.Millisecond)))
				return
			}
			continue
		case state != StateRunning && state != StatePending:
			cancel(fmt.Errorf("%w: %s", errJobEnded, state))
			return
		}
		lastOK = start
	}
}

// succeed ends a unit that worked. A step is marked succeeded first and only then
// enqueues the next one, so the two never run at once: were it the other way
// round, a worker dying in between would leave this step to be taken over and run
// again beside the next. A worker dying after the mark leaves the next step
// unqueued; every worker's reaper finds such a job and enqueues it (recoverJob).
// A home joins the done-set.
func (w *worker) succeed(ctx context.Context, r *unitRun, took time.Duration) error {
	if r.p.Home != "" {
		return w.homeSucceeded(ctx, r, took)
	}
	ok, err := r.lease.release(ctx, append([]any{"state", unitSucceeded, "finished", nowMS(), "error", ""}, r.fields...)...)
	if err != nil {
		return err
	}
	if !ok {
		r.log.Warn("finished, but the lease was taken over meanwhile")
		return nil
	}
	r.log.Info("succeeded", "took", took.Round(time.Millisecond))
	next := nextStep(r.spec, r.p.Step)
	switch {
	case next == "":
		return w.st.endJob(ctx, r.id, StateSucceeded, "")
	case r.noNext:
		// copy-homes: the homes' join enqueues verify once this step is marked;
		// should every home have ended before (or none be left to copy), this
		// step does.
		complete, err := w.st.joinComplete(ctx, r.id)
		if err != nil || !complete {
			return err
		}
	}
	if err := w.enqueueStep(ctx, r.id, next, r.p.Gen); err != nil {
		// The step is done: failing its task would only rerun nothing. The reaper
		// enqueues the next step.
		r.log.Warn("enqueueing the next step; the reaper retries it", "next", next, "error", err)
	}
	return nil
}

// enqueueStep enqueues a step of a job at its current attempt; a task with that ID
// already exists when a rerun got here before: that counts as done.
func (w *worker) enqueueStep(ctx context.Context, id, step string, gen int) error {
	u, err := w.st.unit(ctx, id, stepUnit(step))
	if err != nil {
		return err
	}
	t, err := NewStepTask(id, step, gen, u.attempt())
	if err != nil {
		return err
	}
	if _, err := w.q.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueueing step %s of job %s: %w", step, id, err)
	}
	return nil
}

// reaper takes over units whose holder stopped renewing its lease (a killed
// worker), every third of the lease TTL (at most every 5 s), so a killed worker's
// home resumes elsewhere within LeaseTTL plus one interval plus the queue's pickup,
// instead of asynq's 60-110 s.
func (w *worker) reaper(ctx context.Context) {
	every := min(max(w.cfg.LeaseTTL/3, 500*time.Millisecond), 5*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := w.reapOnce(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("reaper", "error", err)
		}
	}
}

func (w *worker) reapOnce(ctx context.Context) error {
	return errors.Join(w.reapLeases(ctx), w.recoverJobs(ctx))
}

// reapLeases takes over running units whose lease expired.
func (w *worker) reapLeases(ctx context.Context) error {
	members, err := w.st.rdb.SMembers(ctx, keyActive()).Result()
	if err != nil {
		return fmt.Errorf("listing active units: %w", err)
	}
	for _, m := range members {
		id, unit, ok := strings.Cut(m, "|")
		if !ok {
			continue
		}
		// One atomic read: read apart, another reaper's takeover could land between
		// the lease check and the unit read, and this one would enqueue a task for
		// an attempt nobody commits (it would wait as "early" until it gave up).
		pipe := w.st.rdb.TxPipeline()
		leaseCmd := pipe.Exists(ctx, keyLease(id, unit))
		unitCmd := pipe.HGetAll(ctx, keyUnit(id, unit))
		jobCmd := pipe.HMGet(ctx, keyJob(id), "state", "gen")
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("reading %s of job %s: %w", unit, id, err)
		}
		if leaseCmd.Val() > 0 {
			continue
		}
		u, js := unitInfo(unitCmd.Val()), jobCmd.Val()
		jstate, _ := js[0].(string)
		if u["state"] != unitRunning || (jstate != StateRunning && jstate != StatePending) {
			// Ended meanwhile or the job did: the reap script drops it from the set.
			_, _ = w.st.reap(ctx, id, unit, -1, placeholderTTL)
			continue
		}
		gs, _ := js[1].(string)
		gen, _ := strconv.Atoi(gs)
		p := payload{Job: id, Gen: gen, Attempt: u.attempt() + 1}
		if home, ok := strings.CutPrefix(unit, "home:"); ok {
			p.Home = home
		} else {
			p.Step = strings.TrimPrefix(unit, "step:")
		}
		// Enqueue first, then commit: a reaper that dies in between leaves a task
		// that waits ("early") for the next reaper's commit, never a unit without one.
		t, err := newUnitTask(p)
		if err != nil {
			return err
		}
		if _, err := w.q.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("enqueueing the takeover of %s of job %s: %w", unit, id, err)
		}
		a, err := w.st.reap(ctx, id, unit, u.attempt(), placeholderTTL)
		if err != nil {
			return err
		}
		if a > 0 {
			w.log.Warn("took over a unit whose lease expired", "job", id, "unit", unit, "holder", u["worker"],
				"last_heartbeat", parseMS(u["heartbeat"]), "attempt", a)
		}
	}
	return nil
}

// recoverJobs finds the hand-offs a dead worker lost in the jobs that are pending
// or running (recoverJob); it reads only the migrator:running set and a few keys per
// job, so it is cheap enough for every worker's reaper.
func (w *worker) recoverJobs(ctx context.Context) error {
	ids, err := w.st.rdb.SMembers(ctx, keyRunning()).Result()
	if err != nil {
		return fmt.Errorf("listing running jobs: %w", err)
	}
	var errs []error
	for _, id := range ids {
		if err := w.recoverJob(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// recoverJob looks at a job's first step that has not succeeded and repairs what a
// worker killed at the wrong moment leaves behind:
//   - the step is pending without a lease (its predecessor was marked succeeded,
//     then the worker died before enqueueing it; or, for verify, the home that
//     completed the done-set died before enqueueing it): enqueue it by its
//     deterministic task ID, so when its task exists already this is a conflict,
//     which changes nothing. verify only once every home has ended.
//   - every step succeeded, or one failed for good, and the job is still
//     running: end the job as the dead worker would have.
//
// A running step is the lease reaper's. Nothing is enqueued before the steps
// before it succeeded, so this never makes two steps run at once.
func (w *worker) recoverJob(ctx context.Context, id string) error {
	j, err := w.st.rdb.HMGet(ctx, keyJob(id), "state", "gen").Result()
	if err != nil {
		return fmt.Errorf("reading job %s: %w", id, err)
	}
	state, _ := j[0].(string)
	gs, _ := j[1].(string)
	gen, _ := strconv.Atoi(gs)
	// Every kind's steps are a subsequence of allSteps, and Submit records each of
	// a job's steps (and no other): walking allSteps and skipping the units that do
	// not exist spares reading the spec (an apply job's holds a whole snapshot).
	steps := allSteps
	if state != StatePending && state != StateRunning {
		// Ended (or gone): apply the retention and take it off the list.
		return w.st.expireJob(ctx, id, steps, w.cfg.RecordRetention)
	}
	pipe := w.st.rdb.TxPipeline()
	units := make([]*redis.SliceCmd, len(steps))
	for i, s := range steps {
		units[i] = pipe.HMGet(ctx, keyUnit(id, stepUnit(s)), "state", "error")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("reading the steps of job %s: %w", id, err)
	}
	for i, step := range steps {
		v := units[i].Val()
		st, _ := v[0].(string)
		switch st {
		case unitSucceeded, unitSkipped:
			continue
		case unitFailed:
			if state != StateRunning {
				return nil // a Retry is resetting it
			}
			msg, _ := v[1].(string)
			w.log.Warn("ending a job whose step failed", "job", id, "step", step)
			return w.st.endJob(ctx, id, StateFailed, "step "+step+": "+msg)
		case "":
			continue // not a step of this job's kind
		case unitPending:
		default:
			return nil // running: the lease reaper's
		}
		if n, err := w.st.rdb.Exists(ctx, keyLease(id, stepUnit(step))).Result(); err != nil || n > 0 {
			return err
		}
		if step == StepVerify {
			if complete, err := w.st.joinComplete(ctx, id); err != nil || !complete {
				return err
			}
		}
		return w.enqueueStep(ctx, id, step, gen)
	}
	if state != StateRunning {
		return nil
	}
	w.log.Warn("ending a job whose steps all succeeded", "job", id)
	return w.st.endJob(ctx, id, StateSucceeded, "")
}

// applier builds the studio.Applier for the target side of a job.
func (r *unitRun) applier(ctx context.Context, side AWSTarget) (*studio.Applier, error) {
	cfg, err := r.w.cfg.AWSConfig(ctx, side)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	return &studio.Applier{Clients: studio.NewClients(cfg), Waiter: r.w.cfg.Waiter, JobID: r.id,
		CreateInterval: r.w.cfg.CreateInterval, Log: r.log}, nil
}

// target is the side where the new domain is built: the spec's Target, each empty
// field taken from Source.
func (sp Spec) target() AWSTarget {
	t := sp.Target
	if t.Region == "" {
		t.Region = sp.Source.Region
	}
	if t.Profile == "" {
		t.Profile = sp.Source.Profile
	}
	if t.EndpointURL == "" {
		t.EndpointURL = sp.Source.EndpointURL
	}
	return t
}
