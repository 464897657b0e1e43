//go:build linux

package efs_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/bench/latencyfs"
	"github.com/studio-migrator/studio-migrator/internal/efs"
)

// BenchmarkCopyShapesLatency copies three tree shapes between two latencyfs mounts
// (the bench's emulated EFS: 1 ms per read-class, 3 ms per write-class operation,
// the kernel's per-directory lock as on NFS): one flat directory, 100-file
// directories, and 20-file directories; a first copy, a rerun over it, and
// `cp -rp && chown -R` for the ratio. It reports seconds per copy; compare the
// ratios, on a loaded machine the seconds move. Needs root and /dev/fuse.
//
//	go test ./internal/efs -run '^$' -bench CopyShapesLatency -benchtime 1x
func BenchmarkCopyShapesLatency(b *testing.B) {
	if err := latencyfs.Available(); err != nil {
		b.Skip(err)
	}
	shapes := []struct {
		name        string
		files, dirs int
	}{{"flat-500", 500, 1}, {"10x100", 1000, 10}, {"50x20", 1000, 50}}
	for _, sh := range shapes {
		b.Run(sh.name, func(b *testing.B) {
			base := benchDir(b)
			mnt := func(name string) string {
				back, dir := filepath.Join(base, name+"-back"), filepath.Join(base, name)
				must(b, os.MkdirAll(back, 0o755))
				must(b, os.MkdirAll(dir, 0o755))
				srv, err := latencyfs.Mount(dir, back, latencyfs.Options{Delays: latencyfs.DefaultDelays})
				if err != nil {
					b.Skip(err)
				}
				b.Cleanup(func() { srv.Unmount() })
				return dir
			}
			srcMnt, dstMnt := mnt("src"), mnt("dst")
			// Written to the backing directory: through the mount it would take long.
			manyFiles(b, filepath.Join(base, "src-back", "home"), sh.files, sh.dirs)
			src := newLocalFS(b, filepath.Join(srcMnt, "home"))
			ctx := context.Background()
			perDir, _ := strconv.Atoi(os.Getenv("EFS_BENCH_PER_DIRECTORY")) // 0: the default
			var mover, rerun, cp time.Duration
			for i := 0; b.Loop(); i++ {
				dir := filepath.Join(dstMnt, fmt.Sprintf("m%d", i))
				must(b, os.Mkdir(dir, 0o700))
				dst := newLocalFS(b, dir)
				start := time.Now()
				if _, err := efs.Copy(ctx, src, dst, efs.CopyOptions{UID: newUID, PerDirectory: perDir}); err != nil {
					b.Fatal(err)
				}
				mover += time.Since(start)
				start = time.Now()
				if rep, err := efs.Copy(ctx, src, dst, efs.CopyOptions{UID: newUID}); err != nil || rep.Copied != 0 {
					b.Fatal(err, rep.Copied)
				}
				rerun += time.Since(start)
				cpDir := filepath.Join(dstMnt, fmt.Sprintf("cp%d", i))
				start = time.Now()
				if out, err := exec.Command("sh", "-c", `cp -rp "$1" "$2" && chown -R "$3" "$2"`, "sh",
					filepath.Join(srcMnt, "home"), cpDir, strconv.Itoa(newUID)).CombinedOutput(); err != nil {
					b.Fatal(err, string(out))
				}
				cp += time.Since(start)
			}
			n := float64(b.N)
			b.ReportMetric(mover.Seconds()/n, "mover-s")
			b.ReportMetric(rerun.Seconds()/n, "rerun-s")
			b.ReportMetric(cp.Seconds()/n, "cp-s")
			b.ReportMetric(cp.Seconds()/mover.Seconds(), "x-vs-cp")
			b.ReportMetric(100*rerun.Seconds()/mover.Seconds(), "rerun-%")
		})
	}
}
