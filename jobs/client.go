package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/studio-migrator/studio-migrator/internal/backup"
	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/location"
	"github.com/studio-migrator/studio-migrator/internal/studio"
)

// ErrJobNotFound is wrapped by Get for an unknown job ID.
var ErrJobNotFound = errors.New("no such job")

// ErrJobFinished is returned by Cancel for a job that already ended.
var ErrJobFinished = errors.New("the job has already finished")

type client struct {
	st  *store
	q   *asynq.Client
	ins *asynq.Inspector
}

func redisClient(r asynq.RedisConnOpt) (redis.UniversalClient, error) {
	if r == nil {
		return nil, errors.New("no Redis connection options")
	}
	rdb, ok := r.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, fmt.Errorf("redis connection options %T: not a go-redis client", r)
	}
	return rdb, nil
}

func newClient(r asynq.RedisConnOpt) (*Client, error) {
	rdb, err := redisClient(r)
	if err != nil {
		return nil, err
	}
	return &Client{c: &client{st: &store{rdb: rdb}, q: asynq.NewClient(r), ins: asynq.NewInspector(r)}}, nil
}

func (c *client) close() error {
	return errors.Join(c.q.Close(), c.ins.Close(), c.st.rdb.Close())
}

// newJobID is a sortable, unguessable-enough job ID: the submission time and 4
// random bytes. It holds no ':' (task IDs use it as a separator).
func newJobID(kind string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return kind + "-" + time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// checkSpec refuses a spec no worker could run, before anything is stored.
func checkSpec(sp Spec) error {
	if err := checkBackupScripts(sp.Backup); err != nil {
		return err
	}
	if sp.Kind == KindMigrate && sp.Backup != nil && strings.Trim(sp.Backup.Prefix, "/") == "" {
		// The lifecycle scripts read an empty prefix as their default: the worker
		// and the scripts would not meet.
		return errors.New("migrate: the backup prefix must not be empty")
	}
	switch sp.Kind {
	case KindMigrate:
		if sp.SourceDomainID == "" {
			return errors.New("migrate: the source domain ID is required")
		}
		if sp.CopyFrom == "" || sp.CopyTo == "" {
			return errors.New("migrate: both the old EFS (copy-from) and the new one (copy-to) are required")
		}
		if sp.CopyFromBackup != nil {
			if err := checkBackupTarget("copy-from", sp.CopyFromBackup); err != nil {
				return err
			}
		} else if _, err := location.Parse(sp.CopyFrom); err != nil {
			return fmt.Errorf("copy-from: %w", err)
		}
		to, err := location.Parse(strings.ReplaceAll(sp.CopyTo, "{fs}", "fs-0"))
		if err != nil {
			return fmt.Errorf("copy-to: %w", err)
		}
		if err := checkCopyToMounts(sp, to); err != nil {
			return err
		}
	case KindApply:
		if sp.Snapshot == nil {
			return errors.New("apply: a snapshot is required")
		}
	case KindCleanup:
		if sp.SourceDomainID == "" {
			return errors.New("cleanup: the domain ID is required")
		}
	case KindBackup:
		if sp.SourceDomainID == "" {
			return errors.New("backup: the domain ID is required")
		}
		if err := checkBackupTarget("backup", sp.Backup); err != nil {
			return err
		}
		if _, err := location.Parse(sp.CopyFrom); err != nil {
			return fmt.Errorf("backup: the EFS to back up: %w", err)
		}
	case KindRestore:
		if sp.SourceDomainID == "" || sp.TargetDomainID == "" {
			return errors.New("restore: the domain the backups are of and the domain to restore into are required")
		}
		if err := checkBackupTarget("restore", sp.Backup); err != nil {
			return err
		}
		if _, err := location.Parse(sp.CopyTo); err != nil {
			return fmt.Errorf("restore: the EFS to restore into: %w", err)
		}
	default:
		return fmt.Errorf("unknown job kind %q: want %s, %s, %s, %s or %s", sp.Kind, KindMigrate, KindApply, KindCleanup, KindBackup, KindRestore)
	}
	return nil
}

// checkCopyToMounts checks the other mounts of the new EFS: local directories, as
// is copy-to, each named once, and only for a copy from an EFS (a restore from S3
// writes through copy-to alone).
func checkCopyToMounts(sp Spec, to location.Location) error {
	if len(sp.CopyToMounts) == 0 {
		return nil
	}
	if sp.CopyFromBackup != nil {
		return errors.New("copy-to-mount: only for a copy from the old EFS, not a restore from S3")
	}
	if to.IsSFTP() {
		return fmt.Errorf("copy-to-mount: needs a local copy-to (the new EFS mounted on the workers), not %s", to)
	}
	seen := map[string]bool{to.String(): true}
	for _, m := range sp.CopyToMounts {
		l, err := location.Parse(strings.ReplaceAll(m, "{fs}", "fs-0"))
		if err != nil {
			return fmt.Errorf("copy-to-mount %q: %w", m, err)
		}
		if l.IsSFTP() {
			return fmt.Errorf("copy-to-mount %q: must be a local directory (another mount of the new EFS)", m)
		}
		if seen[l.String()] {
			return fmt.Errorf("copy-to-mount %q: named twice (with copy-to or another copy-to-mount)", m)
		}
		seen[l.String()] = true
	}
	return nil
}

func (c *client) submit(ctx context.Context, sp Spec) (string, error) {
	if err := checkSpec(sp); err != nil {
		return "", err
	}
	spec, err := json.Marshal(sp)
	if err != nil {
		return "", fmt.Errorf("encoding the job spec: %w", err)
	}
	id := newJobID(sp.Kind)
	steps := stepsOf(sp)
	now := nowMS()
	pipe := c.st.rdb.TxPipeline()
	pipe.HSet(ctx, keyJob(id), "spec", spec, "kind", sp.Kind, "state", StatePending, "step", steps[0],
		"created", now, "updated", now, "gen", 0)
	if sp.Snapshot != nil {
		b, err := json.Marshal(sp.Snapshot)
		if err != nil {
			return "", fmt.Errorf("encoding the snapshot: %w", err)
		}
		pipe.HSet(ctx, keyJob(id), "snapshot", b)
	}
	for _, s := range steps {
		pipe.HSet(ctx, keyUnit(id, stepUnit(s)), "state", unitPending, "attempt", 1)
	}
	pipe.ZAdd(ctx, keyJobs(), redis.Z{Score: float64(time.Now().UnixMilli()), Member: id})
	pipe.SAdd(ctx, keyRunning(), id)
	if _, err := pipe.Exec(ctx); err != nil {
		return "", fmt.Errorf("storing job %s: %w", id, err)
	}
	t, err := NewStepTask(id, steps[0], 0, 1)
	if err != nil {
		return "", err
	}
	if _, err := c.q.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		_ = c.st.endJob(ctx, id, StateFailed, "enqueueing the first step: "+err.Error())
		return "", fmt.Errorf("enqueueing job %s: %w", id, err)
	}
	return id, nil
}

func (c *client) get(ctx context.Context, id string) (*Status, error) {
	return c.st.status(ctx, id)
}

// status builds Status from the record.
func (s *store) status(ctx context.Context, id string) (*Status, error) {
	j, err := s.job(ctx, id)
	if err != nil {
		return nil, err
	}
	sp, err := j.spec()
	if err != nil {
		return nil, err
	}
	st := &Status{
		ID: id, State: j["state"], Step: j["step"], Error: j["error"],
		Created: parseMS(j["created"]), Updated: parseMS(j["updated"]), Spec: sp,
		UIDMap: []studio.UIDMapping{}, Homes: []HomeStatus{}, Workers: []string{},
	}
	st.Spec.Snapshot = nil // the snapshot is large; Status carries the plan
	var plan studio.Plan
	if ok, err := j.getJSON("plan", &plan); err != nil {
		return nil, err
	} else if ok {
		st.Plan = &plan
	}
	var dom studio.DomainResult
	if ok, err := j.getJSON("domain", &dom); err != nil {
		return nil, err
	} else if ok {
		st.NewDomain = &dom
	}

	steps := stepsOf(sp)
	homes, err := s.rdb.SMembers(ctx, keyHomes(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("reading the homes of job %s: %w", id, err)
	}
	slices.Sort(homes)
	pipe := s.rdb.Pipeline()
	stepCmds := make([]*redis.MapStringStringCmd, len(steps))
	for i, name := range steps {
		stepCmds[i] = pipe.HGetAll(ctx, keyUnit(id, stepUnit(name)))
	}
	homeCmds := make([]*redis.MapStringStringCmd, len(homes))
	for i, h := range homes {
		homeCmds[i] = pipe.HGetAll(ctx, keyUnit(id, homeUnit(h)))
	}
	uidCmd := pipe.HVals(ctx, keyUIDMap(id))
	workersCmd := pipe.SMembers(ctx, keyWorkers(id))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("reading job %s: %w", id, err)
	}
	for i, name := range steps {
		u := unitInfo(stepCmds[i].Val())
		state := u["state"]
		if state == "" {
			state = unitPending
		}
		st.Steps = append(st.Steps, StepStatus{Name: name, State: state, Worker: u["worker"],
			Started: parseMS(u["started"]), Finished: parseMS(u["finished"]), Error: u["error"]})
	}
	for i, key := range homes {
		h := homeStatus(key, unitInfo(homeCmds[i].Val()))
		st.Homes = append(st.Homes, h)
		st.Totals.add(h)
	}
	for _, v := range uidCmd.Val() {
		var m studio.UIDMapping
		if err := json.Unmarshal([]byte(v), &m); err == nil {
			st.UIDMap = append(st.UIDMap, m)
		}
	}
	slices.SortFunc(st.UIDMap, func(a, b studio.UIDMapping) int {
		return strings.Compare(a.Kind+"/"+a.Name, b.Kind+"/"+b.Name)
	})
	st.Workers = workersCmd.Val()
	slices.Sort(st.Workers)
	return st, nil
}

func homeStatus(key string, u unitInfo) HomeStatus {
	h := HomeStatus{
		Key: key, Kind: u["kind"], Name: u["name"], OldUID: u["oldUid"], NewUID: u["newUid"],
		Storage: u["storage"], State: u["state"], Reason: u["reason"], Error: u["error"], Phase: u["phase"],
		Files: u.int64("files"), Bytes: u.int64("bytes"), TotalFiles: u.int64("totalFiles"), TotalBytes: u.int64("totalBytes"),
		Errors: u.int64("errors"), Worker: u["worker"], Heartbeat: parseMS(u["heartbeat"]),
		Attempts: int(u.int64("runs")), Started: parseMS(u["started"]), Finished: parseMS(u["finished"]),
	}
	if h.State == "" {
		h.State = HomePending
	}
	if h.State == HomeRunning {
		h.BytesPerSec, _ = strconv.ParseFloat(u["rate"], 64)
	}
	if u["copy"] != "" {
		h.Copy = new(efs.CopyReport)
		if json.Unmarshal([]byte(u["copy"]), h.Copy) != nil {
			h.Copy = nil
		}
	}
	if u["backup"] != "" {
		h.Backup = new(backup.Marker)
		if json.Unmarshal([]byte(u["backup"]), h.Backup) != nil {
			h.Backup = nil
		}
	}
	if u["verify"] != "" {
		h.Verify = new(efs.VerifyReport)
		if json.Unmarshal([]byte(u["verify"]), h.Verify) != nil {
			h.Verify = nil
		}
	}
	return h
}

func (t *Totals) add(h HomeStatus) {
	t.Homes++
	switch h.State {
	case HomeSucceeded, HomeFailed, HomeNotMoved:
		t.HomesDone++
	}
	t.Files += h.Files
	t.Bytes += h.Bytes
	t.TotalFiles += max(h.TotalFiles, h.Files)
	t.TotalBytes += max(h.TotalBytes, h.Bytes)
	t.BytesPerSec += h.BytesPerSec
}

func (c *client) list(ctx context.Context) ([]Summary, error) {
	ids, err := c.st.rdb.ZRevRange(ctx, keyJobs(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("listing jobs: %w", err)
	}
	pipe := c.st.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, keyJob(id), "kind", "state", "step", "spec", "domain", "created", "updated")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("listing jobs: %w", err)
	}
	out := []Summary{}
	var gone []any
	for i, id := range ids {
		v := cmds[i].Val()
		str := func(k int) string { s, _ := v[k].(string); return s }
		if str(1) == "" {
			gone = append(gone, id) // past its retention, or deleted
			continue
		}
		s := Summary{ID: id, Kind: str(0), State: str(1), Step: str(2), Created: parseMS(str(5)), Updated: parseMS(str(6))}
		var sp Spec
		if json.Unmarshal([]byte(str(3)), &sp) == nil {
			s.SourceDomainID = sp.SourceDomainID
		}
		var d studio.DomainResult
		if json.Unmarshal([]byte(str(4)), &d) == nil {
			s.NewDomainID = d.ID
		}
		out = append(out, s)
	}
	if len(gone) > 0 {
		// Best effort: the next List drops them otherwise.
		_ = c.st.rdb.ZRem(ctx, keyJobs(), gone...).Err()
	}
	return out, nil
}

var cancelScript = redis.NewScript(`
local js = redis.call('HGET', KEYS[1], 'state')
if not js then return 'gone' end
if js ~= 'pending' and js ~= 'running' then return js end
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'error', 'cancelled on request', 'updated', ARGV[1])
return 'ok'
`)

func (c *client) cancel(ctx context.Context, id string) error {
	res, err := cancelScript.Run(ctx, c.st.rdb, []string{keyJob(id)}, nowMS()).Text()
	if err != nil {
		return fmt.Errorf("cancelling job %s: %w", id, err)
	}
	switch res {
	case "ok":
	case "gone":
		return fmt.Errorf("job %s: %w", id, ErrJobNotFound)
	default:
		return fmt.Errorf("job %s is %s: %w", id, res, ErrJobFinished)
	}
	// Running handlers notice the state at their next heartbeat; cancelling them
	// through asynq stops them now. Queued tasks find the job cancelled and return.
	return cancelRunning(ctx, c.ins, id)
}

// cancelRunning asks asynq to cancel the job's active tasks on every worker.
func cancelRunning(ctx context.Context, ins *asynq.Inspector, id string) error {
	var errs []error
	for q := range DefaultQueues {
		for page := 1; ; page++ {
			tasks, err := ins.ListActiveTasks(q, asynq.Page(page), asynq.PageSize(500))
			if err != nil {
				if !errors.Is(err, asynq.ErrQueueNotFound) {
					errs = append(errs, fmt.Errorf("listing the active tasks of %s: %w", q, err))
				}
				break
			}
			for _, t := range tasks {
				var p payload
				if json.Unmarshal(t.Payload, &p) == nil && p.Job == id {
					if err := ins.CancelProcessing(t.ID); err != nil {
						errs = append(errs, fmt.Errorf("cancelling task %s: %w", t.ID, err))
					}
				}
			}
			if len(tasks) < 500 {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// retryScript moves a failed or cancelled job to a new generation and takes the
// record retention off its keys (KEYS job, running, then the job's other keys;
// ARGV now, job ID).
var retryScript = redis.NewScript(`
local js = redis.call('HGET', KEYS[1], 'state')
if not js then return -1 end
if js ~= 'failed' and js ~= 'cancelled' then return -2 end
local g = redis.call('HINCRBY', KEYS[1], 'gen', 1)
redis.call('HSET', KEYS[1], 'state', 'pending', 'error', '', 'updated', ARGV[1])
redis.call('PERSIST', KEYS[1])
for i = 3, #KEYS do redis.call('PERSIST', KEYS[i]) end
redis.call('SADD', KEYS[2], ARGV[2])
return g
`)

// resetUnit makes a unit runnable again under a new attempt, so a task of the old
// one (or a worker still holding it) stands down; it returns the new attempt.
var resetUnitScript = redis.NewScript(`
local a = redis.call('HINCRBY', KEYS[1], 'attempt', 1)
redis.call('HSET', KEYS[1], 'state', 'pending', 'reason', '', 'finished', '')
redis.call('SREM', KEYS[2], ARGV[1])
return a
`)

func (c *client) retry(ctx context.Context, id string) error {
	j, err := c.st.job(ctx, id)
	if err != nil {
		return err
	}
	sp, err := j.spec()
	if err != nil {
		return err
	}
	keys, err := c.st.jobKeys(ctx, id, stepsOf(sp))
	if err != nil {
		return err
	}
	keys = append([]string{keys[0], keyRunning()}, keys[1:]...)
	gen, err := retryScript.Run(ctx, c.st.rdb, keys, nowMS(), id).Int()
	if err != nil {
		return fmt.Errorf("retrying job %s: %w", id, err)
	}
	if gen == -2 {
		return fmt.Errorf("job %s is %s: only a failed or cancelled job can be retried", id, j["state"])
	}
	if gen < 0 {
		return fmt.Errorf("job %s: %w", id, ErrJobNotFound)
	}
	// The first step not done is where the job resumes.
	var from string
	for _, s := range stepsOf(sp) {
		u, err := c.st.unit(ctx, id, stepUnit(s))
		if err != nil {
			return err
		}
		if u["state"] != unitSucceeded && u["state"] != unitSkipped {
			from = s
			break
		}
	}
	if from == "" {
		return c.st.endJob(ctx, id, StateSucceeded, "")
	}
	reset := func(unit, home string) (int, error) {
		a, err := resetUnitScript.Run(ctx, c.st.rdb, []string{keyUnit(id, unit), keyDone(id)}, home).Int()
		if err != nil {
			return 0, fmt.Errorf("resetting %s of job %s: %w", unit, id, err)
		}
		return a, nil
	}
	if from == StepVerify {
		// Homes that did not succeed run again; the last of them enqueues verify.
		homes, err := c.st.rdb.SMembers(ctx, keyHomes(id)).Result()
		if err != nil {
			return fmt.Errorf("reading the homes of job %s: %w", id, err)
		}
		slices.Sort(homes)
		again := 0
		for _, h := range homes {
			u, err := c.st.unit(ctx, id, homeUnit(h))
			if err != nil {
				return err
			}
			if u["state"] == HomeSucceeded || u["state"] == HomeNotMoved {
				continue
			}
			if u["storage"] == studio.StorageEBS {
				// Moved by backup-ebs and restore-ebs, not by a copy-home task: a
				// failed one stays failed (its reason says what to do).
				continue
			}
			a, err := reset(homeUnit(h), h)
			if err != nil {
				return err
			}
			t, err := NewCopyHomeTask(id, h, gen, a)
			if err != nil {
				return err
			}
			if _, err := c.q.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
				return fmt.Errorf("enqueueing home %s of job %s: %w", h, id, err)
			}
			again++
		}
		if again > 0 {
			if _, err := reset(stepUnit(StepVerify), ""); err != nil {
				return err
			}
			return nil
		}
	}
	a, err := reset(stepUnit(from), "")
	if err != nil {
		return err
	}
	t, err := NewStepTask(id, from, gen, a)
	if err != nil {
		return err
	}
	if _, err := c.q.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueueing step %s of job %s: %w", from, id, err)
	}
	return nil
}

// CheckCopyToMounts checks a spec's CopyToMounts against its CopyTo and
// CopyFromBackup as Submit will, so a CLI can refuse them before any other work.
func CheckCopyToMounts(sp Spec) error {
	to, err := location.Parse(strings.ReplaceAll(sp.CopyTo, "{fs}", "fs-0"))
	if err != nil {
		return fmt.Errorf("copy-to: %w", err)
	}
	return checkCopyToMounts(sp, to)
}
