// Package jobs runs the recreate-domain workflow as resumable jobs on asynq (Redis):
// task types and handlers for each step, the job record every CLI command reads, and
// the worker. See api.go for the contract and record.go for the Redis keys.
//
// # Steps
//
// A migrate job runs snapshot, preflight, create-domain, create-profiles,
// create-spaces, assign-users, copy-homes, verify and (when asked) cleanup; an apply
// job the control-plane steps from a given snapshot; a cleanup job only cleanup; a
// backup job snapshot, backup-homes and verify; a restore job snapshot (of the domain
// it restores into), restore-homes and verify. backup-homes and restore-homes are
// copy-homes' fan-out: the same home tasks, leases and join, with backup.Backup or
// backup.Restore as a home's body (home.go), and so is a migrate job whose homes come
// from an S3 backup (Spec.CopyFromBackup).
// Every step reads the actual state and moves it toward the goal (studio.Applier's
// steps find what an earlier run created by name and the job's tag), so running a
// step again after a crash is harmless. A step enqueues the next one with the task ID
// "<job>:<step>" and a Retention, so a rerun's enqueue is a conflict, not a second
// run. copy-homes fans out one copy-home task per home on EFS ("<job>:home:<key>"):
// homes on EBS (JupyterLab and Code Editor spaces) and homes the snapshot has no UID
// for are recorded as not moved. Each home is copied and verified by its own task;
// the home whose end completes the job's done-set enqueues verify, which fails the
// job when a home failed (Client.Retry runs those homes again).
//
// # Leases and takeover
//
// asynq returns a killed worker's task only after 60-110 s, as a retry. So before
// any work a handler takes a lease on its unit (a step or a home) in Redis, renews it
// every third of WorkerConfig.LeaseTTL, and stops when it loses it or the job is
// cancelled. Every worker runs a reaper that finds running units whose lease expired
// and takes them over atomically (a Lua script, so one reaper wins): the unit's
// attempt number goes up and a task with that attempt in its ID is enqueued. A task
// of an older attempt (the orphan asynq brings back later), or for a finished unit,
// returns without doing anything. The resumed copy is efs.Copy's resume: it moves
// only what differs. With the default 15 s lease a killed worker's home resumes
// within about 21 s.
//
// # Hand-offs
//
// A step is recorded as succeeded before the next step is enqueued, so two steps of
// one job never run at once; a home records its end and joins the done-set in one
// script. A worker that dies between such a record and the enqueue that follows it
// loses nothing: the reaper also walks the jobs that are pending or running (the
// migrator:running set), and for a job whose first unfinished step is pending
// without a lease (verify: only once the done-set is complete) it enqueues that
// step by its task ID, a no-op when the task exists; a job whose steps all
// succeeded, or one failed, but that is still running is ended. Ended jobs get
// the record retention (WorkerConfig.RecordRetention) on every key.
//
// Each of these Redis operations is one script or command that miniredis runs too,
// so the demo can use an in-process Redis.
package jobs
