//go:build unix

package emulator

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// ownerOf is the owner of the file fi describes.
func ownerOf(fi os.FileInfo) (uid, gid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, -1, false
	}
	return int(st.Uid), int(st.Gid), true
}

// bashLCC runs the script with bash as the home's owner, its output into logFile,
// in a process group of its own that is killed when ctx ends. Work the script left
// in the background (nohup) outlives it unless ctx ends first.
func bashLCC(ctx context.Context, run LCCRun, logFile string) error {
	out, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening the log: %w", err)
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, "/bin/bash", filepath.Join(filepath.Dir(run.MetadataFile), "on-start.sh"))
	cmd.Dir = run.Home
	cmd.Env = run.Env
	// Files, not pipes: a background child keeping them open cannot hold Wait.
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if run.UID >= 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(run.UID), Gid: uint32(run.GID)}
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if errors.Is(err, fs.ErrPermission) && run.UID >= 0 {
			return fmt.Errorf("running %s as %d:%d in %s (every folder above the home must be open to others, mode o+x): %w", run.LCCName, run.UID, run.GID, run.Home, err)
		}
		return fmt.Errorf("running %s: %w", run.LCCName, err)
	}
	return nil
}
