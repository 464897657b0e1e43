//go:build linux

package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/emulator"
	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// The test binary doubles as a worker process: TestMain runs a Worker instead of the
// tests when envWorker is set, so the integration and crash tests can run workers
// as real processes (and SIGKILL them).
const (
	envWorker   = "JOBS_TEST_WORKER"
	envRedis    = "JOBS_TEST_REDIS"
	envLeaseTTL = "JOBS_TEST_LEASE_TTL"
	// envSlowOpen delays every file Open of the old homes (slowOpenFS), so a test
	// can be sure to catch a copy in the middle however fast the machine is.
	envSlowOpen = "JOBS_TEST_SLOW_OPEN"
)

func TestMain(m *testing.M) {
	if name := os.Getenv(envWorker); name != "" {
		os.Exit(workerMain(name))
	}
	testAWSEnv()
	os.Exit(m.Run())
}

func workerMain(name string) int {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r, err := ParseRedisURL(os.Getenv(envRedis))
	if err != nil {
		log.Error("redis", "error", err)
		return 1
	}
	ttl, _ := time.ParseDuration(os.Getenv(envLeaseTTL))
	cfg := testWorkerConfig(name, ttl, log)
	if d, err := time.ParseDuration(os.Getenv(envSlowOpen)); err == nil && d > 0 {
		cfg.wrapSource = func(f efs.FS) efs.FS { return slowOpenFS{FS: f, delay: d} }
	}
	w, err := NewWorker(r, cfg)
	if err != nil {
		log.Error("worker", "error", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := w.Run(ctx); err != nil {
		log.Error("worker", "error", err)
		return 1
	}
	return 0
}

// testWorkerConfig is what test workers (processes or goroutines) run with: the
// default AWS configuration from the environment (static test credentials) and the
// spec's endpoint, fast polling, short leases and retries.
func testWorkerConfig(name string, ttl time.Duration, log *slog.Logger) WorkerConfig {
	if ttl == 0 {
		// Long enough that a heartbeat starved on a loaded machine does not hand a
		// home over needlessly (which would still succeed, only slower).
		ttl = 5 * time.Second
	}
	return WorkerConfig{
		Name:        name,
		Concurrency: 4,
		LeaseTTL:    ttl,
		Waiter:      studio.Waiter{PollInterval: 50 * time.Millisecond, Timeout: 2 * time.Minute},
		RetryDelay:  func(int) time.Duration { return time.Second },
		// Fast enough for tests, slow enough that a crash test catches
		// create-profiles in the middle.
		CreateInterval: 40 * time.Millisecond,
		Log:            log,
	}
}

// testAWSEnv gives worker processes (they inherit it) and in-process workers static
// credentials, and keeps the SDK away from shared files and instance metadata. It is
// set once for the process, so tests may run in parallel.
func testAWSEnv() {
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "TESTACCESSKEY",
		"AWS_SECRET_ACCESS_KEY":       "test-secret",
		"AWS_REGION":                  emulator.DefaultRegion,
		"AWS_CONFIG_FILE":             "/nonexistent/aws-config",
		"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_PROFILE":                 "",
	} {
		os.Setenv(k, v)
	}
}

// world is one test's emulator, EFS folders and Redis.
type world struct {
	em      *emulator.Emulator
	url     string
	efsRoot string
	// redisURL is the test's redis-server, unless a test points it elsewhere.
	redisURL string
	// slowOpen, when set, slows every file Open of the worker processes'
	// old homes by that much (see envSlowOpen).
	slowOpen time.Duration
	clients  studio.Clients
	old      *studio.Result
}

func startEmulator(t *testing.T, o emulator.Options) (*emulator.Emulator, string) {
	t.Helper()
	em := emulator.New(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = em.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return em, "http://" + ln.Addr().String()
}

func newWorld(t *testing.T, profiles, spaces int, filesPerHome int) *world {
	t.Helper()
	testutil.RequireRoot(t)
	w := &world{efsRoot: filepath.Join(t.TempDir(), "efs")}
	if err := os.MkdirAll(w.efsRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	w.redisURL = testutil.StartRedis(t).URL()
	w.em, w.url = startEmulator(t, emulator.Options{ReadyAfter: 30 * time.Millisecond, EFSRoot: w.efsRoot})
	w.clients = studio.NewClients(aws.Config{
		Region:       emulator.DefaultRegion,
		Credentials:  credentials.NewStaticCredentialsProvider("TESTACCESSKEY", "test-secret", ""),
		BaseEndpoint: aws.String(w.url),
	})
	seed := &studio.Applier{Clients: w.clients, Waiter: studio.Waiter{PollInterval: 20 * time.Millisecond, Timeout: time.Minute},
		JobID: "seed", Concurrency: 8, CreateInterval: time.Millisecond}
	res, err := seed.Apply(context.Background(), oldPlan(profiles, spaces))
	if err != nil {
		t.Fatalf("building the old domain: %v", err)
	}
	w.old = res
	for _, m := range res.UIDMap {
		uid, _ := strconv.Atoi(m.NewUID)
		fillHome(t, filepath.Join(w.efsRoot, res.Domain.HomeEfsFileSystemID, m.NewUID), uid, filesPerHome, m.Name)
	}
	return w
}

const (
	oldVPC  = "vpc-0a1b2c3d4e5f60718"
	newVPC  = "vpc-0f9e8d7c6b5a40312"
	roleArn = "arn:aws:iam::" + emulator.DefaultAccountID + ":role/"
)

func oldPlan(profiles, spaces int) *studio.Plan {
	js := func(s string) json.RawMessage { return json.RawMessage(s) }
	p := &studio.Plan{Domain: studio.DomainSpec{
		Name: "research", AuthMode: "IAM", VpcID: oldVPC,
		SubnetIDs:            []string{"subnet-0123456789abcdef0"},
		AppNetworkAccessType: "PublicInternetOnly",
		DefaultUserSettings:  js(`{"ExecutionRole":"` + roleArn + `StudioDefault"}`),
		DefaultSpaceSettings: js(`{"ExecutionRole":"` + roleArn + `StudioDefault"}`),
		Tags:                 []studio.Tag{{Key: "team", Value: "research"}},
	}}
	for i := range profiles {
		name := fmt.Sprintf("user%02d", i)
		p.UserProfiles = append(p.UserProfiles, studio.ProfileSpec{Name: name, Tags: []studio.Tag{{Key: "studiouserid", Value: name}}})
	}
	for i := range spaces {
		settings := `{"AppType":"JupyterServer"}`
		if i == 4 {
			// A current-Studio JupyterLab space: its home is on EBS.
			settings = `{"AppType":"JupyterLab"}`
		}
		p.Spaces = append(p.Spaces, studio.SpaceSpec{
			Name: fmt.Sprintf("space%d", i), OwnerUserProfileName: "user00",
			OwnershipSettings:    js(`{"OwnerUserProfileName":"user00"}`),
			SpaceSharingSettings: js(`{"SharingType":"Shared"}`),
			SpaceSettings:        js(settings),
		})
	}
	return p
}

// fillHome writes n small files (and a subdirectory and a symlink) owned by uid.
func fillHome(t *testing.T, dir string, uid, n int, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "work"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("f%03d.txt", i))
		if i%2 == 1 {
			p = filepath.Join(dir, "work", fmt.Sprintf("n%03d.py", i))
		}
		if err := os.WriteFile(p, []byte(strings.Repeat(name+" ", 50+i*10)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("work", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	chownTree(t, dir, uid)
}

func chownTree(t *testing.T, dir string, uid int) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, emulator.HomeGID)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// spec is a migration of the world's old domain to a new VPC.
func (w *world) spec() Spec {
	return Spec{
		Kind:           KindMigrate,
		Source:         AWSTarget{Region: emulator.DefaultRegion, EndpointURL: w.url},
		SourceDomainID: w.old.Domain.ID,
		Overrides: studio.Overrides{
			DomainName: "research-v2", VpcID: newVPC,
			SubnetIDs:        []string{"subnet-0aaaabbbbccccdddd"},
			SecurityGroupIDs: []string{"sg-0123abcd4567ef890"},
		},
		CopyFrom: filepath.Join(w.efsRoot, w.old.Domain.HomeEfsFileSystemID),
		CopyTo:   filepath.Join(w.efsRoot, "{fs}"),
		Checksum: true,
		// space4 is a JupyterLab space (home on EBS): these tests move the EFS
		// homes and accept it is left behind (ebs_test.go moves it).
		LeaveEBSSpaces: true,
	}
}

func (w *world) client(t *testing.T) *Client {
	t.Helper()
	r, err := ParseRedisURL(w.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// startWorker runs a worker in this process until the test ends.
func (w *world) startWorker(t *testing.T, name string, edit ...func(*WorkerConfig)) {
	t.Helper()
	r, err := ParseRedisURL(w.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := testWorkerConfig(name, 0, log)
	for _, e := range edit {
		e(&cfg)
	}
	wk, err := NewWorker(r, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = wk.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// proc is a worker process.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// startProc starts the test binary as a worker process; it is killed at the end.
func (w *world) startProc(t *testing.T, name string, ttl time.Duration) *proc {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envWorker+"="+name, envRedis+"="+w.redisURL, envLeaseTTL+"="+ttl.String(), envSlowOpen+"="+w.slowOpen.String())
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, log: logFile, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("log of worker %s:\n%s", name, tail(string(b), 60))
		}
	})
	return p
}

func (p *proc) kill(t *testing.T) time.Time {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	return time.Now()
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitFor polls the job until cond holds or the timeout passes.
func waitFor(t *testing.T, c *Client, id string, timeout time.Duration, what string, cond func(*Status) bool) *Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last *Status
	for time.Now().Before(deadline) {
		st, err := c.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		last = st
		if cond(st) {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := json.MarshalIndent(last, "", "  ")
	t.Fatalf("timed out after %v waiting for %s; last status:\n%s", timeout, what, tail(string(b), 80))
	return nil
}

func waitDone(t *testing.T, c *Client, id string, timeout time.Duration) *Status {
	t.Helper()
	return waitFor(t, c, id, timeout, "the job to end", func(s *Status) bool { return Terminal(s.State) })
}

func statUID(fi os.FileInfo) string {
	return strconv.FormatUint(uint64(fi.Sys().(*syscall.Stat_t).Uid), 10)
}
