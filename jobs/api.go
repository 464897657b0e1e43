package jobs

// This file is the contract between the jobs package and its users (cmd/migrator,
// internal/demo, bench/). Its types and signatures are what the CLI codes against;
// the implementation lives in the other files of the package.

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/hibiken/asynq"

	"github.com/studio-migrator/studio-migrator/internal/backup"
	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/location"
	"github.com/studio-migrator/studio-migrator/internal/studio"
)

// Job kinds.
const (
	// KindMigrate: snapshot, preflight, backup-ebs (with Spec.Backup),
	// create-domain, create-profiles, create-spaces, assign-users, restore-ebs
	// (with Spec.Backup), copy-homes, verify, cleanup (when asked).
	KindMigrate = "migrate"
	// KindApply: the control plane alone, from a snapshot given in the spec.
	KindApply = "apply"
	// KindCleanup: delete the old domain's apps, spaces, profiles and the domain.
	KindCleanup = "cleanup"
	// KindBackup: snapshot, backup-homes (one backup.Backup per EFS home, from
	// CopyFrom/<uid> to the layout under SourceDomainID in Backup), verify.
	KindBackup = "backup"
	// KindRestore: snapshot (of TargetDomainID), restore-homes (one backup.Restore
	// per EFS home with a complete backup under SourceDomainID in Backup, into
	// CopyTo/<newUID>), verify.
	KindRestore = "restore"
)

// Job states.
const (
	StatePending   = "pending"
	StateRunning   = "running"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
	StateCancelled = "cancelled"
)

// Home states. A home is "not-moved" when copy-homes does not move it (its home is
// on EBS, or the snapshot had no UID for it): the report lists it with the reason.
const (
	HomePending   = "pending"
	HomeRunning   = "running"
	HomeSucceeded = "succeeded"
	HomeFailed    = "failed"
	HomeNotMoved  = "not-moved"
)

// AWSTarget says how a worker reaches one side (source or target) of a job. It
// names a profile, a region and an endpoint, never a credential: each worker uses
// the credentials of its own environment.
type AWSTarget struct {
	Region      string `json:"region,omitempty"`
	Profile     string `json:"profile,omitempty"`
	EndpointURL string `json:"endpointUrl,omitempty"`
}

// BackupTarget is an S3 backup store (the layout of internal/backup): a bucket, a
// key prefix, and how to reach S3 (an endpoint for an S3-compatible server, a
// region); never a credential: workers use their own environment's.
type BackupTarget struct {
	Bucket      string `json:"bucket"`
	Prefix      string `json:"prefix,omitempty"`
	EndpointURL string `json:"endpointUrl,omitempty"`
	Region      string `json:"region,omitempty"`
}

// Spec is what an administrator asked for. It is stored in the job record as is and
// must never hold a secret.
type Spec struct {
	Kind string `json:"kind"`
	// Source is where the old domain lives; Target where the new one is built
	// (zero fields: the source's).
	Source AWSTarget `json:"source"`
	Target AWSTarget `json:"target"`
	// SourceDomainID is the old domain (migrate, cleanup).
	SourceDomainID string `json:"sourceDomainId,omitempty"`
	// Snapshot is the document to build from (apply); migrate takes its own.
	Snapshot *studio.Snapshot `json:"snapshot,omitempty"`
	// Overrides for the new domain (UserMapping included).
	Overrides studio.Overrides `json:"overrides"`
	// CopyFrom and CopyTo are the old and new EFS roots (migrate): homes go from
	// CopyFrom/<oldUID> to CopyTo/<newUID>. CopyTo may hold "{fs}", replaced by the
	// new domain's HomeEfsFileSystemId once it exists.
	CopyFrom string `json:"copyFrom,omitempty"`
	CopyTo   string `json:"copyTo,omitempty"`
	// CopyToMounts are the same new EFS root as CopyTo through other mounts of the
	// volume (NFS nosharecache mounts, each with its own directory locks), as the
	// workers see them; each may hold "{fs}" too. Every home is then written through
	// all of them, each directory entry through one (efs.MultiMount), so creates in
	// one directory are not limited to one at a time. Local EFS copies only.
	CopyToMounts []string `json:"copyToMounts,omitempty"`
	// Copy options for every home.
	GID       *uint32 `json:"gid,omitempty"`
	Merge     bool    `json:"merge,omitempty"`
	KeepSetID bool    `json:"keepSetId,omitempty"`
	Checksum  bool    `json:"checksum,omitempty"`
	Workers   int     `json:"workers,omitempty"`
	// Cleanup deletes the old domain after a verified migration (or is the whole job
	// for KindCleanup); DeleteEFS also deletes its EFS.
	Cleanup   bool `json:"cleanup,omitempty"`
	DeleteEFS bool `json:"deleteEfs,omitempty"`
	// LeaveEBSSpaces accepts that EBS-backed spaces are not moved (migrate without
	// Backup): the preflight warns about each instead of refusing the job.
	LeaveEBSSpaces bool `json:"leaveEbsSpaces,omitempty"`
	// Backup is the S3 store of the job's backups: the store a backup job writes
	// and a restore job reads; for migrate, the bucket through which the homes of
	// EBS-backed spaces move (steps backup-ebs and restore-ebs, jobs/ebs.go), and
	// with it cleanup deletes no EBS-backed space without a complete backup there.
	Backup *BackupTarget `json:"backup,omitempty"`
	// TargetDomainID is the domain a restore job restores into (its profiles' and
	// spaces' UIDs); SourceDomainID is then the domain the backups were taken of.
	TargetDomainID string `json:"targetDomainId,omitempty"`
	// CopyFromBackup makes migrate's copy-homes restore each EFS home from its
	// newest complete backup in this store (under SourceDomainID) instead of
	// copying it from CopyFrom (then its s3:// URL, for display): for when the old
	// EFS is gone.
	CopyFromBackup *BackupTarget `json:"copyFromBackup,omitempty"`
}

// Status is the job record as every CLI command reads it (`status --output json`).
type Status struct {
	ID      string    `json:"id"`
	State   string    `json:"state"`
	Step    string    `json:"step"`
	Error   string    `json:"error,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	Spec    Spec      `json:"spec"`
	// Steps in workflow order, with who ran them and how they ended.
	Steps []StepStatus `json:"steps"`
	// Plan is the plan the job builds (after the snapshot step); Problems include
	// the preflight's.
	Plan      *studio.Plan         `json:"plan,omitempty"`
	NewDomain *studio.DomainResult `json:"newDomain,omitempty"`
	// UIDMap grows as profiles and spaces are created.
	UIDMap []studio.UIDMapping `json:"uidMap"`
	Homes  []HomeStatus        `json:"homes"`
	// Workers that did any of the job's work.
	Workers []string `json:"workers"`
	// Totals over Homes (bytes and files done and to do), for progress displays.
	Totals Totals `json:"totals"`
}

// StepStatus is one step of a job.
type StepStatus struct {
	Name     string    `json:"name"`
	State    string    `json:"state"` // pending, running, succeeded, failed, skipped
	Worker   string    `json:"worker,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	Error    string    `json:"error,omitempty"`
}

// HomeStatus is one home directory's move.
type HomeStatus struct {
	// Key is "<kind>/<name>", e.g. "user-profile/alice".
	Key    string `json:"key"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	OldUID string `json:"oldUid"`
	NewUID string `json:"newUid,omitempty"`
	// Storage is "efs" or "ebs".
	Storage string `json:"storage"`
	State   string `json:"state"`
	// Reason says why a home is not moved or failed.
	Reason string `json:"reason,omitempty"`
	// Phase of an EBS-backed space moved through S3: "backing up", "backed up",
	// "restoring", "restored".
	Phase string `json:"phase,omitempty"`
	// Error is the last error of a home that is being retried (or was stopped).
	Error string `json:"error,omitempty"`
	// Counts: done so far, and the source's totals once known.
	Files       int64   `json:"files"`
	Bytes       int64   `json:"bytes"`
	TotalFiles  int64   `json:"totalFiles,omitempty"`
	TotalBytes  int64   `json:"totalBytes,omitempty"`
	BytesPerSec float64 `json:"bytesPerSec"`
	Errors      int64   `json:"errors"`
	// Worker holds the home's lease; Heartbeat is its last renewal.
	Worker    string    `json:"worker,omitempty"`
	Heartbeat time.Time `json:"heartbeat,omitzero"`
	Attempts  int       `json:"attempts"`
	Started   time.Time `json:"started,omitzero"`
	Finished  time.Time `json:"finished,omitzero"`
	// Copy and Verify are the final reports.
	Copy   *efs.CopyReport   `json:"copy,omitempty"`
	Verify *efs.VerifyReport `json:"verify,omitempty"`
	// Backup is the marker of a home backed up or restored from S3 (backup and
	// restore jobs, migrate with CopyFromBackup): its run, counts and errors.
	Backup *backup.Marker `json:"backup,omitempty"`
}

// Totals sum the homes.
type Totals struct {
	Homes       int     `json:"homes"`
	HomesDone   int     `json:"homesDone"`
	Files       int64   `json:"files"`
	Bytes       int64   `json:"bytes"`
	TotalFiles  int64   `json:"totalFiles"`
	TotalBytes  int64   `json:"totalBytes"`
	BytesPerSec float64 `json:"bytesPerSec"`
}

// Summary is one line of `jobs list`.
type Summary struct {
	ID             string    `json:"id"`
	Kind           string    `json:"kind"`
	State          string    `json:"state"`
	Step           string    `json:"step"`
	SourceDomainID string    `json:"sourceDomainId,omitempty"`
	NewDomainID    string    `json:"newDomainId,omitempty"`
	Created        time.Time `json:"created"`
	Updated        time.Time `json:"updated"`
}

// Terminal reports whether a job state is final.
func Terminal(state string) bool {
	return state == StateSucceeded || state == StateFailed || state == StateCancelled
}

// ParseRedisURL reads --redis / REDIS_URL: redis://[:password@]host:port[/db],
// rediss:// (TLS) and redis-sentinel://[:password@]host:port[,host:port...][/db]?master=NAME.
// The password never appears in errors or logs.
func ParseRedisURL(s string) (asynq.RedisConnOpt, error) { return parseRedisURL(s) }

// Client enqueues jobs and reads their records. It calls no AWS API.
type Client struct{ c *client }

// NewClient connects to Redis.
func NewClient(r asynq.RedisConnOpt) (*Client, error) { return newClient(r) }

// Submit stores a new job record (state pending) and enqueues its first step. The
// returned ID is what every other command takes.
func (c *Client) Submit(ctx context.Context, spec Spec) (string, error) { return c.c.submit(ctx, spec) }

// Get reads a job record. An unknown ID wraps ErrJobNotFound.
func (c *Client) Get(ctx context.Context, id string) (*Status, error) { return c.c.get(ctx, id) }

// List returns every job whose record is within its retention, newest first.
func (c *Client) List(ctx context.Context) ([]Summary, error) { return c.c.list(ctx) }

// Cancel marks a job cancelled and stops its running tasks; a finished job is left
// as it is (ErrJobFinished).
func (c *Client) Cancel(ctx context.Context, id string) error { return c.c.cancel(ctx, id) }

// Retry resumes a failed or cancelled job from its first unfinished step (and its
// failed homes).
func (c *Client) Retry(ctx context.Context, id string) error { return c.c.retry(ctx, id) }

// Close releases the connections.
func (c *Client) Close() error { return c.c.close() }

// WorkerConfig configures a Worker. Zero values take the defaults.
type WorkerConfig struct {
	// Name identifies the worker in job records (default: hostname:pid).
	Name string
	// Concurrency is the number of tasks run at once (default: 4).
	Concurrency int
	// Queues to serve with their priorities (default: every queue of the package).
	Queues map[string]int
	// AWSConfig builds the AWS configuration for one side of a job (default:
	// internal/awsconfig with the worker's environment).
	AWSConfig func(ctx context.Context, t AWSTarget) (aws.Config, error)
	// Location opens copy sources and destinations (SFTP options, host keys).
	Location location.Options
	// Waiter for SageMaker resources (default: studio's).
	Waiter studio.Waiter
	// CreateInterval spaces out SageMaker create calls (default:
	// studio.DefaultCreateInterval); throttling widens it.
	CreateInterval time.Duration
	// LeaseTTL is how long a home or step lease lives without a heartbeat (default
	// 15s): a killed worker's home is taken over after at most LeaseTTL plus one
	// reaper interval.
	LeaseTTL time.Duration
	// Preflight runs the live checks of a plan (VPC, subnets, KMS key, roles) in the
	// target account; its problems join the plan's, and errors among them fail the
	// job before anything is created. nil: no live checks, only NewPlan's.
	Preflight func(ctx context.Context, cfg aws.Config, p *studio.Plan) ([]studio.Problem, error)
	// RecordRetention is how long the record of an ended job (succeeded, failed,
	// cancelled) is kept (default DefaultRecordRetention, 30 days; negative: for
	// ever). A worker's reaper gives every key of the job this expiry within a few
	// seconds of its end; `jobs list` and `status` then know the job until it
	// expires, and Retry of a failed or cancelled job removes the expiry.
	RecordRetention time.Duration
	// RetryDelay is the backoff before retry n (0-based) of a failed step or home
	// (default: 5s doubling up to 10 minutes).
	RetryDelay func(n int) time.Duration
	// EBSTimeout bounds the wait for one EBS-backed space's backup or restore
	// marker after its app started (default DefaultEBSTimeout).
	EBSTimeout time.Duration
	Log        *slog.Logger

	// wrapSource, set by this package's tests only, wraps every old home the worker
	// opens (to slow a copy down, so a test can act while it runs).
	wrapSource func(efs.FS) efs.FS
}

// Worker runs job tasks until its context ends.
type Worker struct{ w *worker }

// NewWorker prepares a worker; Run starts it.
func NewWorker(r asynq.RedisConnOpt, cfg WorkerConfig) (*Worker, error) { return newWorker(r, cfg) }

// Run serves tasks until ctx is done, then shuts down gracefully (running tasks go
// back to the queue and resume elsewhere).
func (w *Worker) Run(ctx context.Context) error { return w.w.run(ctx) }
