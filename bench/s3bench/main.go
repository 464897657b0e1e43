// Command s3bench compares internal/backup's Backup with `aws s3 sync` (CLI v2) and
// `rclone copy --transfers 64` on the same home (default 10,000 files of 4 KiB in 100
// directories) against the same S3-compatible server, first run and a rerun with
// nothing changed, in one run. Run it with bench/s3bench/run.sh (as in the README); it is
// a measurement, not a test.
//
// The server is the in-process one of internal/backup/s3test (gofakes3), unless
// -endpoint names another (for example a MinIO on 127.0.0.1); with the in-process
// server, its CPU is counted in this process and it competes with Backup for it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/backup"
	"github.com/studio-migrator/studio-migrator/internal/backup/s3test"
	"github.com/studio-migrator/studio-migrator/internal/efs"
)

func main() {
	files := flag.Int("files", 10000, "files in the home")
	size := flag.Int("size", 4096, "bytes per file")
	workers := flag.Int("workers", 64, "objects in flight for internal/backup")
	transfers := flag.Int("transfers", 64, "rclone --transfers")
	aws2 := flag.String("aws", "/usr/bin/aws", "AWS CLI v2")
	rclone := flag.String("rclone", "/usr/bin/rclone", "rclone")
	flag.Parse()

	srv, err := s3test.New("bench")
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	home, err := os.MkdirTemp("", "s3bench-home-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(home)
	buf := make([]byte, *size)
	for i := range *files {
		dir := filepath.Join(home, fmt.Sprintf("d%03d", i%100))
		os.MkdirAll(dir, 0o755)
		for j := range buf {
			buf[j] = byte(i*31 + j)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d.txt", i)), buf, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("home: %d files of %d bytes; server %s (in process)\n", *files, *size, srv.URL)
	// The tools get the server's credentials and nothing else of AWS_* (a CA bundle
	// set for a proxy makes rclone refuse a plain-HTTP endpoint).
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "RCLONE_") {
			env = append(env, kv)
		}
	}
	env = append(env, srv.Env()...)
	env = append(env,
		"RCLONE_CONFIG_BENCH_TYPE=s3", "RCLONE_CONFIG_BENCH_PROVIDER=Other",
		"RCLONE_CONFIG_BENCH_ENDPOINT="+srv.URL, "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="+s3test.AccessKey,
		"RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="+s3test.SecretKey, "RCLONE_CONFIG_BENCH_REGION="+s3test.Region)

	st := backup.Store{Client: srv.Client(), Bucket: "bench", Prefix: "migrator"}
	src, err := efs.NewLocal(home)
	if err != nil {
		log.Fatal(err)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))

	type result struct {
		tool        string
		first, next time.Duration
	}
	var results []result
	timeIt := func(fn func() error) time.Duration {
		start := time.Now()
		if err := fn(); err != nil {
			log.Fatal(err)
		}
		return time.Since(start)
	}
	migrator := func() error {
		_, err := backup.Backup(context.Background(), src, st, "d-bench", backup.Profile, "bench", backup.Options{Workers: *workers})
		return err
	}
	command := func(name string, args ...string) func() error {
		return func() error {
			c := exec.Command(name, args...)
			c.Env = env
			c.Stderr = os.Stderr
			c.SysProcAttr = &syscall.SysProcAttr{}
			if out, err := c.Output(); err != nil {
				return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
			}
			return nil
		}
	}
	awsSync := command(*aws2, "--endpoint-url", srv.URL, "s3", "sync", "--only-show-errors", home, "s3://bench/awssync/")
	rcl := command(*rclone, "copy", "--transfers", fmt.Sprint(*transfers), home, "bench:bench/rclone/")
	for _, t := range []struct {
		name string
		fn   func() error
	}{
		{fmt.Sprintf("internal/backup (%d in flight)", *workers), migrator},
		{"aws s3 sync (CLI v2, default 10 in flight)", awsSync},
		{fmt.Sprintf("rclone copy --transfers %d", *transfers), rcl},
	} {
		r := result{tool: t.name}
		r.first = timeIt(t.fn)
		r.next = timeIt(t.fn)
		results = append(results, r)
		fmt.Printf("%-45s first %7.2fs  rerun %6.2fs\n", r.tool, r.first.Seconds(), r.next.Seconds())
	}
	m, a, rc := results[0], results[1], results[2]
	fmt.Printf("\nfirst run: %.1fx aws s3 sync, %.1fx rclone; rerun: %.1fx aws s3 sync, %.1fx rclone\n",
		a.first.Seconds()/m.first.Seconds(), rc.first.Seconds()/m.first.Seconds(),
		a.next.Seconds()/m.next.Seconds(), rc.next.Seconds()/m.next.Seconds())
	fmt.Printf("targets: first >= rclone (%v), >= 2x aws s3 sync (%v); rerun faster than both (%v)\n",
		m.first <= rc.first, 2*m.first <= a.first, m.next < a.next && m.next < rc.next)
	if out, err := exec.Command("uptime").Output(); err == nil {
		fmt.Printf("load: %s", out)
	}
}
