// Command queue benchmarks a whole migration through the queue: a domain of
// -profiles user profiles with small homes, migrated by a job on a real redis-server
// with 1 and with 4 in-process workers. For each it reports the job's wall time, the
// share of it outside copying (queue latency, control plane, waits: everything but
// the time when at least one home was being copied, from the job record's step and
// home timestamps), and the speed-up from the first to the last worker count.
//
// Run it with bench/queue/run.sh (as root: homes are re-owned to the new UIDs).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/jobs"
)

type options struct {
	redis          string
	profiles       int
	files          int
	fileSize       int
	workers        []int
	concurrency    int
	createInterval time.Duration
	readyAfter     time.Duration
	out            string
}

// result is one run.
type result struct {
	Workers     int                `json:"workers"`
	Concurrency int                `json:"concurrency"`
	Profiles    int                `json:"profiles"`
	Homes       int                `json:"homes"`
	Files       int64              `json:"files"`
	Bytes       int64              `json:"bytes"`
	Wall        float64            `json:"wallSeconds"`
	Copying     float64            `json:"copyingSeconds"`
	Outside     float64            `json:"outsideCopyingSeconds"`
	OutsideFrac float64            `json:"outsideCopyingShare"`
	Steps       map[string]float64 `json:"stepSeconds"`
	QueueWaits  float64            `json:"idleSeconds"` // no step and no home running
	ByWorker    map[string]int     `json:"homesByWorker"`
}

func main() {
	var o options
	var workers string
	flag.StringVar(&o.redis, "redis", "", "redis:// URL of a redis-server (required; run.sh starts one)")
	flag.IntVar(&o.profiles, "profiles", 200, "user profiles in the old domain (one home each)")
	flag.IntVar(&o.files, "files", 20, "files per home")
	flag.IntVar(&o.fileSize, "file-size", 4096, "bytes per file")
	flag.StringVar(&workers, "workers", "1,4", "worker counts to run, comma-separated")
	flag.IntVar(&o.concurrency, "concurrency", 4, "tasks each worker runs at once")
	flag.DurationVar(&o.createInterval, "create-interval", 20*time.Millisecond, "pause between SageMaker creates (the real default is 250ms)")
	flag.DurationVar(&o.readyAfter, "ready-after", 20*time.Millisecond, "how long emulated resources stay Pending")
	flag.StringVar(&o.out, "out", "", "also write the results as JSON to this file")
	flag.Parse()
	for _, w := range strings.Split(workers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "-workers %q: want positive numbers\n", workers)
			os.Exit(2)
		}
		o.workers = append(o.workers, n)
	}
	if o.redis == "" {
		fmt.Fprintln(os.Stderr, "-redis is required (bench/queue/run.sh starts a redis-server)")
		os.Exit(2)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "run as root: the homes are re-owned to the new UIDs")
		os.Exit(1)
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		os.Setenv(k, "bench") // the emulator checks that requests are signed, not by whom
	}
	var results []result
	for _, n := range o.workers {
		r, err := run(context.Background(), o, n)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%d workers: %v\n", n, err)
			os.Exit(1)
		}
		results = append(results, *r)
		fmt.Fprintf(os.Stderr, "%d worker(s): %.1fs\n", n, r.Wall)
	}
	printTable(results)
	if o.out != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(o.out, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

func run(ctx context.Context, o options, nWorkers int) (*result, error) {
	dir, err := os.MkdirTemp("", "queue-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	efsRoot := filepath.Join(dir, "efs")
	if err := os.MkdirAll(efsRoot, 0o755); err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	em := emulator.New(emulator.Options{ReadyAfter: o.readyAfter, EFSRoot: efsRoot})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	emCtx, stopEm := context.WithCancel(ctx)
	defer stopEm()
	go func() { _ = em.Serve(emCtx, ln) }()
	url := "http://" + ln.Addr().String()
	cfg := aws.Config{Region: emulator.DefaultRegion, BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("bench", "bench", "")}
	waiter := studio.Waiter{PollInterval: 20 * time.Millisecond, Timeout: 10 * time.Minute}

	// The old domain and its homes.
	seed := &studio.Applier{Clients: studio.NewClients(cfg), Waiter: waiter, JobID: "seed", Concurrency: 16, CreateInterval: time.Millisecond, Log: log}
	old, err := seed.Apply(ctx, oldPlan(o.profiles))
	if err != nil {
		return nil, fmt.Errorf("building the old domain: %w", err)
	}
	oldEFS := filepath.Join(efsRoot, old.Domain.HomeEfsFileSystemID)
	content := make([]byte, o.fileSize)
	for i := range content {
		content[i] = byte('a' + i%26)
	}
	for _, m := range old.UIDMap {
		uid, _ := strconv.Atoi(m.NewUID)
		home := filepath.Join(oldEFS, m.NewUID)
		if err := os.MkdirAll(home, 0o755); err != nil {
			return nil, err
		}
		for i := range o.files {
			p := filepath.Join(home, fmt.Sprintf("f%03d", i))
			if err := os.WriteFile(p, content, 0o644); err != nil {
				return nil, err
			}
			if err := os.Chown(p, uid, emulator.HomeGID); err != nil {
				return nil, err
			}
		}
		if err := os.Chown(home, uid, emulator.HomeGID); err != nil {
			return nil, err
		}
	}

	r, err := jobs.ParseRedisURL(o.redis)
	if err != nil {
		return nil, err
	}
	c, err := jobs.NewClient(r)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	wctx, stopWorkers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopWorkers(); wg.Wait() }()
	for i := range nWorkers {
		w, err := jobs.NewWorker(r, jobs.WorkerConfig{
			Name:           fmt.Sprintf("bench-%d", i+1),
			Concurrency:    o.concurrency,
			AWSConfig:      func(context.Context, jobs.AWSTarget) (aws.Config, error) { return cfg, nil },
			Waiter:         waiter,
			CreateInterval: o.createInterval,
			Log:            log,
		})
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = w.Run(wctx) }()
	}
	id, err := c.Submit(ctx, jobs.Spec{
		Kind:           jobs.KindMigrate,
		Source:         jobs.AWSTarget{Region: emulator.DefaultRegion, EndpointURL: url},
		SourceDomainID: old.Domain.ID,
		Overrides:      studio.Overrides{DomainName: "bench-v2", VpcID: "vpc-0f9e8d7c6b5a40312", SubnetIDs: []string{"subnet-0aaaabbbbccccdddd"}},
		CopyFrom:       oldEFS,
		CopyTo:         filepath.Join(efsRoot, "{fs}"),
	})
	if err != nil {
		return nil, err
	}
	var st *jobs.Status
	for {
		if st, err = c.Get(ctx, id); err != nil {
			return nil, err
		}
		if jobs.Terminal(st.State) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st.State != jobs.StateSucceeded {
		return nil, fmt.Errorf("job %s %s in %s: %s", id, st.State, st.Step, st.Error)
	}
	return measure(st, nWorkers, o), nil
}

// measure reads the timings from the job record.
func measure(st *jobs.Status, nWorkers int, o options) *result {
	res := &result{Workers: nWorkers, Concurrency: o.concurrency, Profiles: o.profiles, Homes: len(st.Homes),
		Files: st.Totals.Files, Bytes: st.Totals.Bytes, Steps: map[string]float64{}, ByWorker: map[string]int{}}
	start, end := st.Created, st.Updated
	for _, s := range st.Steps {
		if !s.Finished.IsZero() && s.Finished.After(end) {
			end = s.Finished
		}
	}
	res.Wall = end.Sub(start).Seconds()
	// Copying: the union of the homes' [Started, Finished] intervals. Idle: the time
	// when neither a step nor a home was running (queue latency: enqueue, a worker's
	// poll, leases).
	var homes, busy []interval
	for _, h := range st.Homes {
		if !h.Started.IsZero() && !h.Finished.IsZero() {
			homes = append(homes, interval{h.Started, h.Finished})
			res.ByWorker[h.Worker]++
		}
	}
	busy = append(busy, homes...)
	for _, s := range st.Steps {
		if s.Started.IsZero() || s.Finished.IsZero() {
			continue
		}
		res.Steps[s.Name] = s.Finished.Sub(s.Started).Seconds()
		busy = append(busy, interval{s.Started, s.Finished})
	}
	res.Copying = union(homes).Seconds()
	res.Outside = res.Wall - res.Copying
	if res.Wall > 0 {
		res.OutsideFrac = res.Outside / res.Wall
	}
	res.QueueWaits = res.Wall - union(busy).Seconds()
	return res
}

type interval struct{ a, b time.Time }

// union is the total length of the intervals, overlaps counted once.
func union(ivs []interval) time.Duration {
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].a.Before(ivs[j].a) })
	var total time.Duration
	var cur *interval
	for i := range ivs {
		v := ivs[i]
		if cur == nil || v.a.After(cur.b) {
			if cur != nil {
				total += cur.b.Sub(cur.a)
			}
			cur = &interval{v.a, v.b}
			continue
		}
		if v.b.After(cur.b) {
			cur.b = v.b
		}
	}
	if cur != nil {
		total += cur.b.Sub(cur.a)
	}
	return total
}

func printTable(rs []result) {
	if len(rs) == 0 {
		return
	}
	names := []string{"snapshot", "preflight", "create-domain", "create-profiles", "create-spaces", "assign-users", "copy-homes", "verify"}
	fmt.Printf("%-8s %6s %9s %10s %9s %13s %8s", "workers", "homes", "wall (s)", "copying(s)", "outside", "idle (queue)", "speed-up")
	for _, n := range names {
		fmt.Printf(" %s", n)
	}
	fmt.Println()
	for _, r := range rs {
		fmt.Printf("%-8d %6d %9.1f %10.1f %8.0f%% %12.1fs %7.2fx", r.Workers, r.Homes, r.Wall, r.Copying, 100*r.OutsideFrac, r.QueueWaits, rs[0].Wall/r.Wall)
		for _, n := range names {
			fmt.Printf(" %*.*f", len(n), 1, r.Steps[n])
		}
		fmt.Println()
	}
	for _, r := range rs {
		fmt.Printf("%d worker(s): homes copied by %v\n", r.Workers, r.ByWorker)
	}
}

func oldPlan(n int) *studio.Plan {
	p := &studio.Plan{Domain: studio.DomainSpec{
		Name: "bench", AuthMode: "IAM", VpcID: "vpc-0a1b2c3d4e5f60718",
		SubnetIDs:            []string{"subnet-0123456789abcdef0"},
		AppNetworkAccessType: "PublicInternetOnly",
		DefaultUserSettings:  json.RawMessage(`{"ExecutionRole":"arn:aws:iam::` + emulator.DefaultAccountID + `:role/Exec"}`),
	}}
	for i := range n {
		name := fmt.Sprintf("user%03d", i)
		p.UserProfiles = append(p.UserProfiles, studio.ProfileSpec{Name: name, Tags: []studio.Tag{{Key: "studiouserid", Value: name}}})
	}
	return p
}
