// Package jobs runs the recreate-domain workflow as resumable jobs on asynq (Redis):
// task types and handlers for each step, the job record every CLI command reads, and
// the worker. See api.go for the contract and record.go for the Redis keys.
package jobs
