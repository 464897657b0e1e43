//go:build !unix

package emulator

import (
	"context"
	"fmt"
	"os"
	"runtime"
)

// ownerOf: no Unix owners here.
func ownerOf(os.FileInfo) (uid, gid int, ok bool) { return -1, -1, false }

// bashLCC cannot run a lifecycle configuration here: they are bash scripts run as
// the home's Unix owner in a process group of their own.
func bashLCC(_ context.Context, run LCCRun, _ string) error {
	return fmt.Errorf("running %s: lifecycle configurations (--run-lcc) run with bash as the home's owner, which needs Linux or macOS; this is %s/%s", run.LCCName, runtime.GOOS, runtime.GOARCH)
}
