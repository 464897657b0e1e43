// Package demo runs a whole domain migration on this machine, with no AWS account, no
// Redis and no Docker: the SageMaker emulator serves the API in process, a miniredis
// holds the queue (or a real Redis given by RedisURL), and a local folder stands in
// for each domain's EFS volume (<dir>/efs/<HomeEfsFileSystemId>/<uid>).
//
// It first builds what an administrator starts from: an "old" IAM domain with user
// profiles and spaces, each with a home directory full of the things real homes hold
// (notebooks, a git object store, a conda environment with hardlinks and symlinks, an
// executable, empty directories, a symlink pointing outside the home), owned by the
// old UID. Then it does what `migrator migrate` does (snapshot, plan with a VPC
// change, enqueue a job through jobs.Client) and runs jobs.Workers in process, as
// `migrator worker` does, while internal/progress draws the job as `migrator watch`
// does. It ends with the UID map from the job record, every home's copy and verify
// report, and a rerun of each copy that shows a rerun moves nothing.
//
// miniredis's clock only moves when told: a goroutine calls FastForward every 100 ms
// so that asynq's leases and locks expire (ClockTTL would sort every key on every
// command; see the project's notes on asynq).
//
// `migrator demo` is the thin command over Run; the package test runs it too, and
// asserts on the files it leaves on disk.
package demo
