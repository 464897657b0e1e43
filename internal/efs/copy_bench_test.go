//go:build linux

package efs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/efs/sftptest"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// BenchmarkCopyTree copies a generated tree of 5000 small files (in 50 directories)
// local to local into a fresh destination per iteration, and reports files/s; the
// "rerun" variant measures a resume over a finished copy (stat and readdir only).
//
//	go test ./internal/efs -run '^$' -bench CopyTree -benchtime 5x
func BenchmarkCopyTree(b *testing.B) {
	testutil.RequireRoot(b)
	const files = 5000
	base := b.TempDir()
	srcDir := filepath.Join(base, "src")
	manyFiles(b, srcDir, files, 50)
	src := newLocalFS(b, srcDir)
	ctx := context.Background()

	for _, workers := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("fresh/workers=%d", workers), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				dstDir := filepath.Join(base, fmt.Sprintf("dst-%d-%d", workers, i))
				must(b, os.Mkdir(dstDir, 0o700))
				dst := newLocalFS(b, dstDir)
				b.StartTimer()
				if _, err := efs.Copy(ctx, src, dst, efs.CopyOptions{UID: newUID, Workers: workers}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.RemoveAll(dstDir)
				b.StartTimer()
			}
			b.ReportMetric(float64(files)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
	b.Run("rerun/workers=32", func(b *testing.B) {
		dstDir := filepath.Join(base, "dst-rerun")
		os.RemoveAll(dstDir) // -count N runs this function again with the same base
		must(b, os.Mkdir(dstDir, 0o700))
		dst := newLocalFS(b, dstDir)
		if _, err := efs.Copy(ctx, src, dst, efs.CopyOptions{UID: newUID}); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			rep, err := efs.Copy(ctx, src, dst, efs.CopyOptions{UID: newUID})
			if err != nil || rep.Copied != 0 {
				b.Fatal(err, rep.Copied)
			}
		}
		b.ReportMetric(float64(files)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
	})
}

// BenchmarkCopyTreeSFTPLatency copies 500 small files local -> SFTP through a proxy
// adding 2 ms of round trip (EFS-like per-operation cost), with 1 worker and with
// many: the pool exists to hide this latency.
//
//	go test ./internal/efs -run '^$' -bench CopyTreeSFTPLatency -benchtime 1x
func BenchmarkCopyTreeSFTPLatency(b *testing.B) {
	testutil.RequireRoot(b)
	srv, err := sftptest.Start(sftptest.Options{Dir: b.TempDir()})
	if err != nil {
		b.Skip(err)
	}
	defer srv.Close()
	const files = 500
	srcDir := filepath.Join(b.TempDir(), "src")
	manyFiles(b, srcDir, files, 10)
	src := newLocalFS(b, srcDir)
	cfg := efs.SFTPConfig{Addr: latencyProxy(b, srv.Addr(), time.Millisecond), Root: srv.Dir(),
		InsecureIgnoreHostKey: true, IdentityFiles: []string{srv.ClientKeyFile()}, Concurrency: 16}
	seq := 0
	for _, workers := range []int{1, 8, 32, 64, 128} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				seq++
				name := fmt.Sprintf("dst%d", seq)
				must(b, os.Mkdir(filepath.Join(srv.Dir(), name), 0o700))
				c := cfg
				c.Root = filepath.Join(srv.Dir(), name)
				dst, err := efs.DialSFTP(context.Background(), c)
				must(b, err)
				b.StartTimer()
				if _, err := efs.Copy(context.Background(), src, dst, efs.CopyOptions{UID: newUID, Workers: workers}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				dst.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(files)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
}
