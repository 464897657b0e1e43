package jobs

// The job record: everything a job knows lives in Redis, next to asynq's own keys,
// under the prefix "migrator:". Workers write it, every CLI command reads it
// (Client.Get builds Status from it), and a job resumes from it after any crash.
// Nothing in it is a credential: the spec names AWS profiles, regions and endpoints,
// never keys, and SFTP locations carry no password (location.Parse refuses one).
//
// Keys (<id> is a job ID, <unit> is "step:<name>" or "home:<kind>/<name>"):
//
//	migrator:jobs                    ZSET  job IDs scored by creation time (ms): List
//	                                       (which drops the IDs whose record expired).
//
// Once a job has ended (succeeded, failed, cancelled), a worker's reaper gives
// every migrator:job:<id>* key the expiry WorkerConfig.RecordRetention (default
// 30 days); Retry removes it again.
//	migrator:job:<id>                HASH  the job:
//	    spec        JSON Spec as submitted
//	    kind        Spec.Kind
//	    state       pending | running | succeeded | failed | cancelled
//	    step        the step last started
//	    error       why the job failed (the failed step's or homes' errors)
//	    created     creation time, ms since the epoch (all times below too)
//	    updated     last change
//	    gen         generation: 0, +1 per Retry; tasks of an older one do nothing
//	    snapshot    JSON studio.Snapshot (taken by the snapshot step, or the spec's)
//	    plan        JSON studio.Plan, its Problems with the preflight's
//	    domain      JSON studio.DomainResult of the new domain
//	    copyTo      Spec.CopyTo with {fs} replaced by the new domain's EFS id
//	    copyToMounts JSON list: Spec.CopyToMounts, {fs} replaced likewise
//	    homes       number of homes (set by copy-homes before it fans out)
//	migrator:job:<id>:unit:<unit>    HASH  one step or one home:
//	    state       steps: pending | running | succeeded | failed | skipped;
//	                homes: pending | running | succeeded | failed | not-moved
//	    attempt     which task may run it: 1, +1 per takeover and per Retry. A task
//	                whose payload carries another attempt does nothing (an orphan).
//	    runs        how many times a task started it
//	    worker      the worker holding it (or that last held it)
//	    started, finished, heartbeat (the holder's last lease renewal)
//	    error       the last error
//	  and for homes:
//	    kind, name, oldUid, newUid, storage (efs|ebs), reason (not moved / failed)
//	    files, bytes, rate (bytes/s), errors: progress, written about once a second
//	    totalFiles, totalBytes: the source home's totals (efs.Count) before the copy
//	    copy, verify: JSON efs.CopyReport and efs.VerifyReport of the last run
//	    backup: JSON backup.Marker of a home backed up or restored from S3
//	migrator:job:<id>:homes          SET   the home keys ("<kind>/<name>")
//	migrator:job:<id>:done           SET   homes that reached a final state, added in
//	                                       the same script that records that state; the
//	                                       home whose SADD completes it enqueues verify
//	                                       (and the reaper does, should that worker
//	                                       die). A retried home is added once (the SADD
//	                                       result guards anything counted).
//	migrator:job:<id>:uidmap         HASH  "<kind>/<name>" -> JSON studio.UIDMapping,
//	                                       written as profiles and spaces are created
//	migrator:job:<id>:workers        SET   every worker that ran part of the job
//	migrator:lease:<id>:<unit>       STRING "<worker>|<attempt>" with a TTL (LeaseTTL),
//	                                       renewed by the holder's heartbeat; taken with
//	                                       SET NX semantics before any work, so one
//	                                       worker at a time runs a step or copies a
//	                                       home. "reaper|<attempt>" while a taken-over
//	                                       unit waits for its new task.
//	migrator:active                  SET   "<id>|<unit>" of units that took a lease:
//	                                       what each worker's reaper scans for expired
//	                                       leases.
//	migrator:running                 SET   IDs of jobs that are pending or running
//	                                       (added by Submit, Retry and every lease,
//	                                       removed once the job ended and its
//	                                       retention was applied): what each
//	                                       worker's reaper scans for a lost hand-off
//	                                       (a step or a join whose worker died before
//	                                       it enqueued what comes next).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

const keyPrefix = "migrator:"

func keyJobs() string                     { return keyPrefix + "jobs" }
func keyActive() string                   { return keyPrefix + "active" }
func keyRunning() string                  { return keyPrefix + "running" }
func keyJob(id string) string             { return keyPrefix + "job:" + id }
func keyUnit(id, unit string) string      { return keyJob(id) + ":unit:" + unit }
func keyHomes(id string) string           { return keyJob(id) + ":homes" }
func keyDone(id string) string            { return keyJob(id) + ":done" }
func keyUIDMap(id string) string          { return keyJob(id) + ":uidmap" }
func keyWorkers(id string) string         { return keyJob(id) + ":workers" }
func keyLease(id, unit string) string     { return keyPrefix + "lease:" + id + ":" + unit }
func stepUnit(step string) string         { return "step:" + step }
func homeUnit(home string) string         { return "home:" + home }
func activeMember(id, unit string) string { return id + "|" + unit }

// unit states shared by steps and homes.
const (
	unitPending   = "pending"
	unitRunning   = "running"
	unitSucceeded = "succeeded"
	unitFailed    = "failed"
	unitSkipped   = "skipped"
)

func finalUnit(state string) bool {
	return state == unitSucceeded || state == unitFailed || state == unitSkipped || state == HomeNotMoved
}

func nowMS() string { return strconv.FormatInt(time.Now().UnixMilli(), 10) }

func parseMS(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

// store reads and writes job records.
type store struct {
	rdb redis.UniversalClient
}

// Lua scripts: each is one atomic step of the lease protocol, so two workers (or two
// reapers) can never both believe they hold a unit. They use only commands miniredis
// has.
var (
	// acquire: KEYS job, unit, lease, active, workers, running; ARGV gen, attempt,
	// holder, ttl ms, active member, now, worker, step name ("" for a home), job ID.
	acquireScript = redis.NewScript(`
local js = redis.call('HGET', KEYS[1], 'state')
if not js then return 'gone' end
if js ~= 'pending' and js ~= 'running' then return 'job:' .. js end
if (redis.call('HGET', KEYS[1], 'gen') or '0') ~= ARGV[1] then return 'stale' end
local st = redis.call('HGET', KEYS[2], 'state')
if st == 'succeeded' or st == 'failed' or st == 'not-moved' or st == 'skipped' then return 'done' end
local a = tonumber(redis.call('HGET', KEYS[2], 'attempt') or '1')
local want = tonumber(ARGV[2])
if a > want then return 'stale' end
if a < want then return 'early' end
local cur = redis.call('GET', KEYS[3])
if cur and cur ~= ('reaper|' .. ARGV[2]) then return 'busy:' .. cur end
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
redis.call('HSET', KEYS[2], 'state', 'running', 'worker', ARGV[7], 'heartbeat', ARGV[6], 'error', '', 'attempt', ARGV[2])
redis.call('HSETNX', KEYS[2], 'started', ARGV[6])
redis.call('HINCRBY', KEYS[2], 'runs', 1)
redis.call('SADD', KEYS[4], ARGV[5])
redis.call('SADD', KEYS[5], ARGV[7])
redis.call('SADD', KEYS[6], ARGV[9])
redis.call('HSET', KEYS[1], 'state', 'running', 'updated', ARGV[6])
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'step', ARGV[8]) end
return 'ok'
`)
	// renew: KEYS lease, unit, job; ARGV holder, ttl ms, now, attempt. Returns the
	// job's state, or "lost" when the lease is no longer the caller's.
	renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'lost' end
if (redis.call('HGET', KEYS[2], 'attempt') or '1') ~= ARGV[4] then return 'lost' end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[2], 'heartbeat', ARGV[3])
return redis.call('HGET', KEYS[3], 'state') or 'gone'
`)
	// release: KEYS lease, unit, active, job; ARGV holder, active member, attempt,
	// now, then field/value pairs written to the unit. Returns 1 when the caller
	// still held the unit (and wrote), 0 otherwise.
	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if (redis.call('HGET', KEYS[2], 'attempt') or '1') ~= ARGV[3] then return 0 end
redis.call('SREM', KEYS[3], ARGV[2])
if #ARGV > 4 then redis.call('HSET', KEYS[2], unpack(ARGV, 5)) end
redis.call('HSET', KEYS[4], 'updated', ARGV[4])
return 1
`)
	// reap: KEYS lease, unit, active, job; ARGV active member, expected attempt,
	// placeholder ttl ms, now. Takes over a running unit whose lease expired: its
	// attempt becomes expected+1 (the caller has enqueued that task already) and a
	// placeholder lease keeps other reapers off until the task starts. Returns the
	// new attempt, or 0 when there was nothing (left) to take over.
	reapScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local st = redis.call('HGET', KEYS[2], 'state')
local js = redis.call('HGET', KEYS[4], 'state')
if st ~= 'running' or (js ~= 'running' and js ~= 'pending') then
  redis.call('SREM', KEYS[3], ARGV[1])
  return 0
end
if (redis.call('HGET', KEYS[2], 'attempt') or '1') ~= ARGV[2] then return 0 end
local a = tonumber(ARGV[2]) + 1
redis.call('HSET', KEYS[2], 'attempt', a, 'error', 'lease of ' .. (redis.call('HGET', KEYS[2], 'worker') or '?') .. ' expired: taken over')
redis.call('SET', KEYS[1], 'reaper|' .. a, 'PX', ARGV[3])
redis.call('HSET', KEYS[4], 'updated', ARGV[4])
return a
`)
)

// unitInfo is a unit hash, read.
type unitInfo map[string]string

func (u unitInfo) int64(f string) int64 {
	n, _ := strconv.ParseInt(u[f], 10, 64)
	return n
}

func (u unitInfo) attempt() int {
	if n := u.int64("attempt"); n > 0 {
		return int(n)
	}
	return 1
}

func (s *store) unit(ctx context.Context, id, unit string) (unitInfo, error) {
	m, err := s.rdb.HGetAll(ctx, keyUnit(id, unit)).Result()
	if err != nil {
		return nil, fmt.Errorf("reading %s of job %s: %w", unit, id, err)
	}
	return unitInfo(m), nil
}

// jobInfo is the job hash, read.
type jobInfo map[string]string

func (s *store) job(ctx context.Context, id string) (jobInfo, error) {
	m, err := s.rdb.HGetAll(ctx, keyJob(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("reading job %s: %w", id, err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("job %s: %w", id, ErrJobNotFound)
	}
	return jobInfo(m), nil
}

func (j jobInfo) gen() int {
	n, _ := strconv.Atoi(j["gen"])
	return n
}

func (j jobInfo) spec() (Spec, error) {
	var sp Spec
	if err := json.Unmarshal([]byte(j["spec"]), &sp); err != nil {
		return Spec{}, fmt.Errorf("reading the job's spec: %w", err)
	}
	return sp, nil
}

// setJSON stores v as JSON in a field of the job hash.
func (s *store) setJSON(ctx context.Context, id, field string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s of job %s: %w", field, id, err)
	}
	if err := s.rdb.HSet(ctx, keyJob(id), field, b, "updated", nowMS()).Err(); err != nil {
		return fmt.Errorf("saving %s of job %s: %w", field, id, err)
	}
	return nil
}

// getJSON reads a JSON field of the job hash into v; ok is false when it is unset.
func (j jobInfo) getJSON(field string, v any) (ok bool, err error) {
	s := j[field]
	if s == "" {
		return false, nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return false, fmt.Errorf("reading %s of the job record: %w", field, err)
	}
	return true, nil
}

// endJobScript ends a job (KEYS job; ARGV state, msg, now) unless it already
// ended. The job stays in migrator:running until a reaper has applied the record's
// retention (expireJob).
var endJobScript = redis.NewScript(`
local js = redis.call('HGET', KEYS[1], 'state')
if js ~= 'pending' and js ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'error', ARGV[2], 'updated', ARGV[3])
return 1
`)

// endJob ends a job as state (succeeded, failed) with msg unless it already ended.
func (s *store) endJob(ctx context.Context, id, state, msg string) error {
	if err := endJobScript.Run(ctx, s.rdb, []string{keyJob(id)}, state, msg, nowMS()).Err(); err != nil {
		return fmt.Errorf("marking job %s %s: %w", id, state, err)
	}
	return nil
}

// lease is a held unit.
type lease struct {
	s       *store
	job     string
	unit    string
	holder  string
	attempt int
	ttl     time.Duration
}

// acquire outcomes other than nil.
var (
	errUnitDone  = errors.New("already finished")
	errUnitStale = errors.New("superseded by a newer attempt or generation")
	errUnitEarly = errors.New("takeover not committed yet")
	errJobEnded  = errors.New("job not runnable")
	errUnitBusy  = errors.New("held by another worker")
)

// acquire takes the lease of a unit for one attempt of one generation.
func (s *store) acquire(ctx context.Context, id, unit string, gen, attempt int, worker string, ttl time.Duration, step string) (*lease, error) {
	l := &lease{s: s, job: id, unit: unit, holder: worker + "|" + strconv.Itoa(attempt), attempt: attempt, ttl: ttl}
	res, err := acquireScript.Run(ctx, s.rdb,
		[]string{keyJob(id), keyUnit(id, unit), keyLease(id, unit), keyActive(), keyWorkers(id), keyRunning()},
		gen, attempt, l.holder, ttl.Milliseconds(), activeMember(id, unit), nowMS(), worker, step, id).Text()
	if err != nil {
		return nil, fmt.Errorf("taking the lease of %s of job %s: %w", unit, id, err)
	}
	switch {
	case res == "ok":
		return l, nil
	case res == "done":
		return nil, errUnitDone
	case res == "stale":
		return nil, errUnitStale
	case res == "early":
		return nil, errUnitEarly
	case res == "gone":
		return nil, fmt.Errorf("job %s: %w", id, ErrJobNotFound)
	case strings.HasPrefix(res, "job:"):
		return nil, fmt.Errorf("%w: %s", errJobEnded, strings.TrimPrefix(res, "job:"))
	case strings.HasPrefix(res, "busy:"):
		return nil, fmt.Errorf("%s of job %s is %w (%s)", unit, id, errUnitBusy, strings.TrimPrefix(res, "busy:"))
	}
	return nil, fmt.Errorf("taking the lease of %s: unexpected answer %q", unit, res)
}

// renew extends the lease; it returns the job's state, or errLeaseLost.
func (l *lease) renew(ctx context.Context) (string, error) {
	res, err := renewScript.Run(ctx, l.s.rdb, []string{keyLease(l.job, l.unit), keyUnit(l.job, l.unit), keyJob(l.job)},
		l.holder, l.ttl.Milliseconds(), nowMS(), l.attempt).Text()
	if err != nil {
		return "", fmt.Errorf("renewing the lease of %s of job %s: %w", l.unit, l.job, err)
	}
	if res == "lost" {
		return "", errLeaseLost
	}
	return res, nil
}

var errLeaseLost = errors.New("lease lost: another worker took the unit over")

// release gives the lease back and writes fields to the unit in the same step; ok
// is false when the caller no longer held it (nothing written).
func (l *lease) release(ctx context.Context, fields ...any) (bool, error) {
	args := append([]any{l.holder, activeMember(l.job, l.unit), l.attempt, nowMS()}, fields...)
	n, err := releaseScript.Run(ctx, l.s.rdb, []string{keyLease(l.job, l.unit), keyUnit(l.job, l.unit), keyActive(), keyJob(l.job)}, args...).Int()
	if err != nil {
		return false, fmt.Errorf("releasing %s of job %s: %w", l.unit, l.job, err)
	}
	return n == 1, nil
}

// releaseHomeScript is releaseScript for a home that reached a final state, which
// joins the done-set in the same step: a worker that dies after the release can no
// longer leave a finished home out of the set (the join would never complete).
// KEYS lease, unit, active, job, done, copy-homes unit; ARGV holder, active member,
// attempt, now, home, then field/value pairs. Returns 0 when the caller no longer
// held the unit, 1 when it ended it, 2 when that completed the done-set after
// copy-homes was marked succeeded (before, copy-homes enqueues verify itself once
// marked, so verify never starts beside it).
var releaseHomeScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if (redis.call('HGET', KEYS[2], 'attempt') or '1') ~= ARGV[3] then return 0 end
redis.call('SREM', KEYS[3], ARGV[2])
if #ARGV > 5 then redis.call('HSET', KEYS[2], unpack(ARGV, 6)) end
redis.call('HSET', KEYS[4], 'updated', ARGV[4])
redis.call('SADD', KEYS[5], ARGV[5])
local total = redis.call('HGET', KEYS[4], 'homes')
if total and redis.call('SCARD', KEYS[5]) >= tonumber(total) and redis.call('HGET', KEYS[6], 'state') == 'succeeded' then return 2 end
return 1
`)

// releaseHome releases a home's lease, writing its final fields and joining the
// done-set at once; ok is false when the caller no longer held it (nothing
// written), complete is true when every home of the job has now ended and
// copy-homes is done: the caller enqueues verify.
func (l *lease) releaseHome(ctx context.Context, home string, fields ...any) (ok, complete bool, err error) {
	args := append([]any{l.holder, activeMember(l.job, l.unit), l.attempt, nowMS(), home}, fields...)
	n, err := releaseHomeScript.Run(ctx, l.s.rdb,
		[]string{keyLease(l.job, l.unit), keyUnit(l.job, l.unit), keyActive(), keyJob(l.job), keyDone(l.job), keyUnit(l.job, stepUnit(StepCopyHomes))},
		args...).Int()
	if err != nil {
		return false, false, fmt.Errorf("releasing %s of job %s: %w", l.unit, l.job, err)
	}
	return n > 0, n == 2, nil
}

// reap takes over unit if its lease expired at the expected attempt; it returns the
// new attempt or 0.
func (s *store) reap(ctx context.Context, id, unit string, expected int, placeholder time.Duration) (int, error) {
	n, err := reapScript.Run(ctx, s.rdb, []string{keyLease(id, unit), keyUnit(id, unit), keyActive(), keyJob(id)},
		activeMember(id, unit), expected, placeholder.Milliseconds(), nowMS()).Int()
	if err != nil {
		return 0, fmt.Errorf("taking over %s of job %s: %w", unit, id, err)
	}
	return n, nil
}

// jobKeys lists every key of a job's record (the job hash first).
func (s *store) jobKeys(ctx context.Context, id string, steps []string) ([]string, error) {
	homes, err := s.rdb.SMembers(ctx, keyHomes(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("reading the homes of job %s: %w", id, err)
	}
	keys := []string{keyJob(id), keyHomes(id), keyDone(id), keyUIDMap(id), keyWorkers(id)}
	for _, st := range steps {
		keys = append(keys, keyUnit(id, stepUnit(st)))
	}
	for _, h := range homes {
		keys = append(keys, keyUnit(id, homeUnit(h)))
	}
	return keys, nil
}

// expireJobScript applies the retention to an ended job: KEYS job, running, then
// the job's other keys; ARGV job ID, retention in ms (<= 0: keep for ever). It
// checks the state in the same step, so a Retry (which persists the keys again)
// cannot be overtaken by a reaper that read the job as ended.
var expireJobScript = redis.NewScript(`
local js = redis.call('HGET', KEYS[1], 'state')
if js == 'pending' or js == 'running' then return 0 end
if js and tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  for i = 3, #KEYS do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
end
redis.call('SREM', KEYS[2], ARGV[1])
return 1
`)

// expireJob gives every key of an ended job the record retention and takes the
// job off the reaper's list.
func (s *store) expireJob(ctx context.Context, id string, steps []string, retention time.Duration) error {
	keys, err := s.jobKeys(ctx, id, steps)
	if err != nil {
		return err
	}
	keys = append([]string{keys[0], keyRunning()}, keys[1:]...)
	if err := expireJobScript.Run(ctx, s.rdb, keys, id, retention.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("applying the retention of job %s: %w", id, err)
	}
	return nil
}

// joinComplete reports whether every home of the job has ended (copy-homes has
// recorded how many there are, and the done-set holds that many).
func (s *store) joinComplete(ctx context.Context, id string) (bool, error) {
	pipe := s.rdb.TxPipeline()
	card := pipe.SCard(ctx, keyDone(id))
	total := pipe.HGet(ctx, keyJob(id), "homes")
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("reading the finished homes of job %s: %w", id, err)
	}
	n, err := strconv.ParseInt(total.Val(), 10, 64)
	return err == nil && card.Val() >= n, nil
}

// homeDone records that a home reached a final state and reports whether it was
// the first time (added) and whether every home is now done (complete).
func (s *store) homeDone(ctx context.Context, id, home string) (added, complete bool, err error) {
	pipe := s.rdb.TxPipeline()
	add := pipe.SAdd(ctx, keyDone(id), home)
	card := pipe.SCard(ctx, keyDone(id))
	total := pipe.HGet(ctx, keyJob(id), "homes")
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return false, false, fmt.Errorf("recording home %s of job %s as done: %w", home, id, err)
	}
	n, _ := strconv.ParseInt(total.Val(), 10, 64)
	return add.Val() == 1, total.Val() != "" && card.Val() >= n, nil
}
