package demo

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/backup/s3test"
	"github.com/studio-migrator/studio-migrator/internal/demo/lccsim"
	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

// The demo's EBS-backed JupyterLab space: its home is a folder under <dir>/ebs, its
// files go to an in-process S3 server by the backup lifecycle configuration and come
// back into the new space's folder by the restore one.
const (
	ebsSpace    = "lab"
	demoBucket  = "studio-migrator-demo"
	demoPrefix  = "studio-backups"
	awsCLIv2Bin = "/usr/bin/aws"
)

// lccRunner is how the emulator runs the lifecycle configurations: the real scripts
// with bash and the AWS CLI v2 where they are installed (and not told otherwise),
// the same work in process with internal/backup elsewhere. It says which.
func lccRunner(o Options, s3 *s3test.Server, dir string) (*emulator.LCCRunner, string, error) {
	if !o.InProcessLCC && awsCLIv2() {
		home := filepath.Join(dir, "aws-cli-home")
		if err := os.MkdirAll(home, 0o777); err != nil {
			return nil, "", err
		}
		if err := os.Chmod(home, 0o777); err != nil {
			return nil, "", err
		}
		env := append(s3.Env(), "PATH=/usr/bin:/bin", "HOME="+home)
		return &emulator.LCCRunner{Env: env}, "the real scripts/lcc scripts (bash, " + awsCLIv2Bin + ")", nil
	}
	sim := &lccsim.Runner{Client: s3.Client(), Log: o.Log.With("component", "lcc")}
	return &emulator.LCCRunner{Run: sim.Run}, "in process with internal/backup (no bash and AWS CLI v2 here, or --in-process-lcc): same layout and markers as the scripts", nil
}

// awsCLIv2 reports whether bash and the AWS CLI v2 the scripts need are installed.
func awsCLIv2() bool {
	if _, err := exec.LookPath("bash"); err != nil {
		return false
	}
	out, err := exec.Command(awsCLIv2Bin, "--version").CombinedOutput()
	return err == nil && bytes.HasPrefix(out, []byte("aws-cli/2."))
}

var ebsMTime = time.Date(2025, 6, 2, 9, 30, 0, 0, time.UTC)

// fillEBSHome writes a few files into the space's EBS folder, owned by the image's
// sagemaker-user as in Studio.
func fillEBSHome(dir string) (int, error) {
	files := map[string]struct {
		mode fs.FileMode
		body string
	}{
		"experiment.ipynb":        {0o644, `{"cells":[{"cell_type":"code","source":["import pandas as pd"]}]}`},
		"data/results.csv":        {0o640, strings.Repeat("epoch,loss\n1,0.42\n", 200)},
		".local/bin/train":        {0o755, "#!/bin/sh\npython train.py \"$@\"\n"},
		"notes with spaces.md":    {0o600, "# what I tried\n"},
		"data/empty-output/.keep": {0o644, ""},
	}
	for p, f := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return 0, err
		}
		if err := os.WriteFile(full, []byte(f.body), f.mode); err != nil {
			return 0, err
		}
		if err := os.Chmod(full, f.mode); err != nil {
			return 0, err
		}
	}
	if err := os.Symlink(".local/bin/train", filepath.Join(dir, "train")); err != nil {
		return 0, err
	}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, emulator.EBSHomeUID, emulator.EBSHomeGID); err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink == 0 && p != dir {
			return os.Chtimes(p, ebsMTime, ebsMTime)
		}
		return nil
	})
	return len(files), err
}

// EBSReport is the EBS-backed space as the demo checked it after the migration.
type EBSReport struct {
	Space  string `json:"space"`
	OldDir string `json:"oldDir"`
	NewDir string `json:"newDir"`
	Files  int    `json:"files"`
	Bytes  int64  `json:"bytes"`
	// Via says how the lifecycle configurations ran.
	Via string `json:"via"`
}

// compareTrees checks that every file, directory and symlink of old is in new with
// the same bytes, mode, mtime (to the second) and target.
func compareEBSTrees(oldDir, newDir string) (files int, size int64, err error) {
	err = filepath.WalkDir(oldDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(oldDir, p)
		if rel == "." {
			return nil
		}
		a, err := os.Lstat(p)
		if err != nil {
			return err
		}
		b, err := os.Lstat(filepath.Join(newDir, rel))
		if err != nil {
			return fmt.Errorf("%s did not arrive: %w", rel, err)
		}
		if a.Mode() != b.Mode() {
			return fmt.Errorf("%s: mode %v, want %v", rel, b.Mode(), a.Mode())
		}
		switch {
		case a.Mode()&fs.ModeSymlink != 0:
			ta, _ := os.Readlink(p)
			tb, _ := os.Readlink(filepath.Join(newDir, rel))
			if ta != tb {
				return fmt.Errorf("%s: link to %q, want %q", rel, tb, ta)
			}
		case a.Mode().IsRegular():
			x, _ := os.ReadFile(p)
			y, _ := os.ReadFile(filepath.Join(newDir, rel))
			if !bytes.Equal(x, y) || a.ModTime().Unix() != b.ModTime().Unix() {
				return fmt.Errorf("%s: content or mtime differs", rel)
			}
			files++
			size += a.Size()
		}
		return nil
	})
	return files, size, err
}

// checkEBS compares the old and new space's EBS folders.
func checkEBS(ctx context.Context, ebsRoot, oldDomain, newDomain, via string) (*EBSReport, error) {
	r := &EBSReport{Space: ebsSpace, OldDir: filepath.Join(ebsRoot, oldDomain, ebsSpace), NewDir: filepath.Join(ebsRoot, newDomain, ebsSpace), Via: via}
	n, size, err := compareEBSTrees(r.OldDir, r.NewDir)
	if err != nil {
		return nil, fmt.Errorf("the EBS-backed space %s: %w", ebsSpace, err)
	}
	r.Files, r.Bytes = n, size
	return r, ctx.Err()
}
