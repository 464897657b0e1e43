//go:build linux

package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Startup is the mover's fixed cost per invocation, measured once per report: what
// every figure of the mover includes before and after its copy (process start,
// package initialisation (migrator's includes the AWS SDK's; migrator-copy-home links
// no SDK), flag parsing, opening both locations), so that a reader can tell a short copy's start-up from its copy.
type Startup struct {
	Runs int `json:"runs"`
	// CopyEmptySeconds is the median wall time of copy-home of an empty directory
	// into a fresh destination: the mover's start-up as every copy pays it.
	CopyEmptySeconds float64 `json:"copy_empty_seconds"`
	// VersionSeconds is the median wall time of VersionCommand (`migrator version`
	// or `migrator-copy-home --version`): the process and package initialisation
	// alone.
	VersionSeconds float64 `json:"version_seconds"`
	VersionCommand string  `json:"version_command"`
}

// measureStartup times cfg.Mover runs times each on an empty tree under dir and with
// `version`. A run that fails makes the whole measurement an error: a start-up
// figure from failed runs would be too small.
func measureStartup(ctx context.Context, cfg Config, dir string, runs int) (*Startup, error) {
	src := filepath.Join(dir, "src", strconv.FormatUint(uint64(cfg.OldUID), 10))
	if err := os.MkdirAll(src, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chown(src, int(cfg.OldUID), int(cfg.GID)); err != nil {
		return nil, err
	}
	var copyS, versionS []float64
	for i := range runs {
		dst := filepath.Join(dir, "dst", strconv.Itoa(i))
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return nil, err
		}
		s := execTimed(ctx, cfg.RunTimeout, moverArgv(cfg, src, filepath.Join(dst, "home")), "")
		if s.Error != "" {
			return nil, fmt.Errorf("copy-home of an empty tree: %s", s.Error)
		}
		copyS = append(copyS, s.Seconds)
		s = execTimed(ctx, cfg.RunTimeout, cfg.moverVersionCommand(), "")
		if s.Error != "" {
			return nil, fmt.Errorf("%s: %s", cfg.moverVersionName(), s.Error)
		}
		versionS = append(versionS, s.Seconds)
	}
	return &Startup{Runs: runs, CopyEmptySeconds: median(copyS), VersionSeconds: median(versionS), VersionCommand: cfg.moverVersionName()}, nil
}
