package jobs

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
)

// Task types: one per workflow step, and one per home directory (copy-home), so a
// failure retries only that home and many workers share the copying.
const (
	TypeSnapshot       = "migrator:snapshot"
	TypePreflight      = "migrator:preflight"
	TypeCreateDomain   = "migrator:create-domain"
	TypeCreateProfiles = "migrator:create-profiles"
	TypeCreateSpaces   = "migrator:create-spaces"
	TypeAssignUsers    = "migrator:assign-users"
	TypeBackupEBS      = "migrator:backup-ebs"
	TypeRestoreEBS     = "migrator:restore-ebs"
	TypeCopyHomes      = "migrator:copy-homes"
	TypeBackupHomes    = "migrator:backup-homes"
	TypeRestoreHomes   = "migrator:restore-homes"
	TypeCopyHome       = "migrator:copy-home"
	TypeVerify         = "migrator:verify"
	TypeCleanup        = "migrator:cleanup"
)

// Step names, as in the job record and Status.Steps.
const (
	StepSnapshot       = "snapshot"
	StepPreflight      = "preflight"
	StepCreateDomain   = "create-domain"
	StepCreateProfiles = "create-profiles"
	StepCreateSpaces   = "create-spaces"
	StepAssignUsers    = "assign-users"
	StepBackupEBS      = "backup-ebs"
	StepRestoreEBS     = "restore-ebs"
	StepCopyHomes      = "copy-homes"
	// StepBackupHomes and StepRestoreHomes are copy-homes' fan-out for backup and
	// restore jobs: the same homes, tasks and leases, another body per home.
	StepBackupHomes  = "backup-homes"
	StepRestoreHomes = "restore-homes"
	StepVerify       = "verify"
	StepCleanup      = "cleanup"
)

// Queues: steps go to QueueControl, home copies to QueueCopy, so a long copy backlog
// never starves the control plane of the next job.
const (
	QueueControl = "migrator-control"
	QueueCopy    = "migrator-copy"
)

// DefaultQueues are the queues a worker serves, with their priorities.
var DefaultQueues = map[string]int{QueueControl: 3, QueueCopy: 2}

// stepTypes maps step names to task types.
var stepTypes = map[string]string{
	StepSnapshot:       TypeSnapshot,
	StepPreflight:      TypePreflight,
	StepCreateDomain:   TypeCreateDomain,
	StepCreateProfiles: TypeCreateProfiles,
	StepCreateSpaces:   TypeCreateSpaces,
	StepAssignUsers:    TypeAssignUsers,
	StepBackupEBS:      TypeBackupEBS,
	StepRestoreEBS:     TypeRestoreEBS,
	StepCopyHomes:      TypeCopyHomes,
	StepBackupHomes:    TypeBackupHomes,
	StepRestoreHomes:   TypeRestoreHomes,
	StepVerify:         TypeVerify,
	StepCleanup:        TypeCleanup,
}

// stepTimeouts are each task type's explicit Timeout (asynq's default is 30
// minutes). Waits for SageMaker resources are bounded by the Waiter too.
var stepTimeouts = map[string]time.Duration{
	StepSnapshot:       time.Hour,
	StepPreflight:      30 * time.Minute,
	StepCreateDomain:   2 * time.Hour,
	StepCreateProfiles: 6 * time.Hour,
	StepCreateSpaces:   6 * time.Hour,
	StepAssignUsers:    2 * time.Hour,
	StepBackupEBS:      6 * time.Hour,
	StepRestoreEBS:     6 * time.Hour,
	StepCopyHomes:      30 * time.Minute,
	StepBackupHomes:    30 * time.Minute,
	StepRestoreHomes:   30 * time.Minute,
	StepVerify:         30 * time.Minute,
	StepCleanup:        6 * time.Hour,
}

// HomeTimeout bounds one home's copy and verify: a large home over EFS takes hours.
const HomeTimeout = 48 * time.Hour

// Retries: a step or a home is retried with backoff (RetryDelay) this many times
// before it fails the job or the home. Bad input is not retried (asynq.SkipRetry).
const (
	StepMaxRetry = 8
	HomeMaxRetry = 4
)

// Retention keeps a finished task (and so its TaskID) this long, so a step enqueued
// again by a rerun of the step before it is a conflict, not a second run.
const Retention = 7 * 24 * time.Hour

// payload is every task's payload: which unit of which job, and which generation and
// attempt of it the task is. It carries no spec and no credential: handlers read the
// job record.
type payload struct {
	Job     string `json:"job"`
	Step    string `json:"step,omitempty"`
	Home    string `json:"home,omitempty"`
	Gen     int    `json:"gen"`
	Attempt int    `json:"attempt"`
}

func (p payload) unit() string {
	if p.Home != "" {
		return homeUnit(p.Home)
	}
	return stepUnit(p.Step)
}

// taskID is "<job>:<step>" or "<job>:home:<kind>/<name>", plus ":g<gen>" after a Retry and ":a<attempt>" after a
// takeover or a Retry, so each is enqueued at most once.
func (p payload) taskID() string {
	id := p.Job + ":" + p.Step
	if p.Home != "" {
		id = p.Job + ":home:" + p.Home
	}
	if p.Gen > 0 {
		id += ":g" + strconv.Itoa(p.Gen)
	}
	if p.Attempt > 1 {
		id += ":a" + strconv.Itoa(p.Attempt)
	}
	return id
}

// NewStepTask is the task that runs one step of a job.
func NewStepTask(job, step string, gen, attempt int) (*asynq.Task, error) {
	typ, ok := stepTypes[step]
	if !ok {
		return nil, fmt.Errorf("unknown step %q", step)
	}
	p := payload{Job: job, Step: step, Gen: gen, Attempt: max(attempt, 1)}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(typ, b, asynq.TaskID(p.taskID()), asynq.Queue(QueueControl),
		asynq.Timeout(stepTimeouts[step]), asynq.MaxRetry(StepMaxRetry), asynq.Retention(Retention)), nil
}

// NewCopyHomeTask is the task that copies and verifies one home ("<kind>/<name>").
func NewCopyHomeTask(job, home string, gen, attempt int) (*asynq.Task, error) {
	p := payload{Job: job, Home: home, Gen: gen, Attempt: max(attempt, 1)}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeCopyHome, b, asynq.TaskID(p.taskID()), asynq.Queue(QueueCopy),
		asynq.Timeout(HomeTimeout), asynq.MaxRetry(HomeMaxRetry), asynq.Retention(Retention)), nil
}

func newUnitTask(p payload) (*asynq.Task, error) {
	if p.Home != "" {
		return NewCopyHomeTask(p.Job, p.Home, p.Gen, p.Attempt)
	}
	return NewStepTask(p.Job, p.Step, p.Gen, p.Attempt)
}

func parsePayload(t *asynq.Task) (payload, error) {
	var p payload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.Job == "" {
		return p, fmt.Errorf("task %s: bad payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return p, nil
}

// stepsOf lists a job's steps in workflow order.
func stepsOf(sp Spec) []string {
	switch sp.Kind {
	case KindApply:
		return []string{StepPreflight, StepCreateDomain, StepCreateProfiles, StepCreateSpaces, StepAssignUsers}
	case KindCleanup:
		return []string{StepCleanup}
	case KindBackup:
		return []string{StepSnapshot, StepBackupHomes, StepVerify}
	case KindRestore:
		return []string{StepSnapshot, StepRestoreHomes, StepVerify}
	}
	s := []string{StepSnapshot, StepPreflight, StepCreateDomain, StepCreateProfiles, StepCreateSpaces, StepAssignUsers, StepCopyHomes, StepVerify}
	if sp.Backup != nil {
		// The EBS homes go to S3 before anything is built (a backup that cannot be
		// made stops nothing but those spaces) and come back once the new spaces
		// exist, before copy-homes fans out (which counts them among the homes).
		s = []string{StepSnapshot, StepPreflight, StepBackupEBS, StepCreateDomain, StepCreateProfiles, StepCreateSpaces, StepAssignUsers, StepRestoreEBS, StepCopyHomes, StepVerify}
	}
	if sp.Cleanup {
		s = append(s, StepCleanup)
	}
	return s
}

// allSteps are every step in workflow order; each kind's steps are a subsequence:
// migrate's (with the EBS steps), with the backup and restore fan-outs beside
// copy-homes.
var allSteps = func() []string {
	var s []string
	for _, step := range stepsOf(Spec{Kind: KindMigrate, Cleanup: true, Backup: &BackupTarget{}}) {
		s = append(s, step)
		if step == StepCopyHomes {
			s = append(s, StepBackupHomes, StepRestoreHomes)
		}
	}
	return s
}()

// nextStep is the step after step in sp's workflow, "" at the end.
func nextStep(sp Spec, step string) string {
	steps := stepsOf(sp)
	for i, s := range steps {
		if s == step && i+1 < len(steps) {
			return steps[i+1]
		}
	}
	return ""
}
