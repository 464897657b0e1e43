package main

import (
	"fmt"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/jobs"
)

// localEFSHost is efs.CheckLocal: nil where this machine can open a home on a
// local file system and so be a worker host (Linux). The one place this command
// asks; a test swaps it to play a macOS or Windows laptop.
var localEFSHost = efs.CheckLocal

// checkWorkerPlatform refuses, at start, a worker that would take home copies
// (the copy queue, served by default) on a platform that cannot open a local home:
// it would fail every home it took. A worker of the control queue alone runs
// anywhere.
func checkWorkerPlatform(queues map[string]int) error {
	if queues == nil {
		queues = jobs.DefaultQueues
	}
	if _, copies := queues[jobs.QueueCopy]; !copies {
		return nil
	}
	if err := localEFSHost(); err != nil {
		return fmt.Errorf("a worker of the %s queue copies home directories: %w (--queues %s serves the control plane alone)", jobs.QueueCopy, err, jobs.QueueControl)
	}
	return nil
}
