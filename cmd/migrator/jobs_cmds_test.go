//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/emulator"
	"github.com/studio-migrator/studio-migrator/internal/logging"
	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/internal/testutil"
	"github.com/studio-migrator/studio-migrator/jobs"
)

// cliWorld is an emulated old domain whose homes hold files, a real redis-server,
// and the EFS folders, for the job commands' tests.
type cliWorld struct {
	redis   *testutil.Redis
	url     string
	efsRoot string
	old     *studio.Result
}

func newCLIWorld(t *testing.T, profiles int) *cliWorld {
	t.Helper()
	w := &cliWorld{efsRoot: filepath.Join(t.TempDir(), "efs"), redis: testutil.StartRedis(t)}
	if err := os.MkdirAll(w.efsRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "TESTACCESSKEY")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	t.Setenv("AWS_REGION", emulator.DefaultRegion)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv(envRedisURL, "")
	em := emulator.New(emulator.Options{ReadyAfter: 5 * time.Millisecond, EFSRoot: w.efsRoot})
	// The target of migrateArgs, as the live preflight expects to find it.
	em.AddWorld(emulator.World{
		VPCs:  map[string][]string{"vpc-0f9e8d7c6b5a40312": {"subnet-0aaaabbbbccccdddd"}},
		Roles: []string{"arn:aws:iam::" + emulator.DefaultAccountID + ":role/Exec"},
	})
	srv := httptest.NewServer(em)
	t.Cleanup(srv.Close)
	w.url = srv.URL
	clients := studio.NewClients(aws.Config{Region: emulator.DefaultRegion, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("TESTACCESSKEY", "test-secret", "")})
	js := func(s string) json.RawMessage { return json.RawMessage(s) }
	p := &studio.Plan{Domain: studio.DomainSpec{
		Name: "research", AuthMode: "IAM", VpcID: "vpc-0a1b2c3d4e5f60718",
		SubnetIDs:            []string{"subnet-0123456789abcdef0"},
		AppNetworkAccessType: "PublicInternetOnly",
		DefaultUserSettings:  js(`{"ExecutionRole":"arn:aws:iam::` + emulator.DefaultAccountID + `:role/Exec"}`),
	}}
	for i := range profiles {
		name := fmt.Sprintf("user%d", i)
		p.UserProfiles = append(p.UserProfiles, studio.ProfileSpec{Name: name, Tags: []studio.Tag{{Key: "studiouserid", Value: name}}})
	}
	seed := &studio.Applier{Clients: clients, Waiter: studio.Waiter{PollInterval: 10 * time.Millisecond, Timeout: time.Minute},
		JobID: "seed", CreateInterval: time.Millisecond}
	res, err := seed.Apply(context.Background(), p)
	if err != nil {
		t.Fatalf("building the old domain: %v", err)
	}
	w.old = res
	return w
}

// fillHomes writes a few files in every old home, owned by its UID (needs root).
func (w *cliWorld) fillHomes(t *testing.T) {
	t.Helper()
	for _, m := range w.old.UIDMap {
		dir := filepath.Join(w.oldEFS(), m.NewUID)
		uid, _ := strconv.Atoi(m.NewUID)
		if err := os.MkdirAll(filepath.Join(dir, "work"), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			f := filepath.Join(dir, "work", fmt.Sprintf("nb%d.ipynb", i))
			if err := os.WriteFile(f, bytes.Repeat([]byte(m.Name), 100*(i+1)), 0o640); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []string{dir, filepath.Join(dir, "work")} {
			if err := os.Lchown(p, uid, emulator.HomeGID); err != nil {
				t.Fatal(err)
			}
		}
		ents, _ := os.ReadDir(filepath.Join(dir, "work"))
		for _, e := range ents {
			if err := os.Lchown(filepath.Join(dir, "work", e.Name()), uid, emulator.HomeGID); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (w *cliWorld) oldEFS() string { return filepath.Join(w.efsRoot, w.old.Domain.HomeEfsFileSystemID) }

// migrateArgs are the arguments of a migration of the old domain to a new VPC.
func (w *cliWorld) migrateArgs(extra ...string) []string {
	return append([]string{"migrate", "--redis", w.redis.URL(), "--endpoint-url", w.url, "--region", emulator.DefaultRegion,
		"--domain", w.old.Domain.ID, "--new-name", "research-v2",
		"--vpc-id", "vpc-0f9e8d7c6b5a40312", "--subnet-ids", "subnet-0aaaabbbbccccdddd",
		"--copy-from", w.oldEFS(), "--copy-to", filepath.Join(w.efsRoot, "{fs}")}, extra...)
}

func (w *cliWorld) client(t *testing.T) *jobs.Client {
	t.Helper()
	r, err := jobs.ParseRedisURL(w.redis.URL())
	if err != nil {
		t.Fatal(err)
	}
	c, err := jobs.NewClient(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// startWorker runs `migrator worker` in process (fast waits) until the test ends.
func (w *cliWorld) startWorker(t *testing.T, name string) {
	t.Helper()
	g := testGlobals(t, &bytes.Buffer{}, &syncBuffer{})
	opts := &workerOptions{redis: redisOptions{url: w.redis.URL()}, name: name, concurrency: 4, leaseTTL: 3 * time.Second, retention: time.Hour,
		tune: func(c *jobs.WorkerConfig) {
			c.Waiter = studio.Waiter{PollInterval: 20 * time.Millisecond, Timeout: time.Minute}
			c.CreateInterval = time.Millisecond
			c.RetryDelay = func(int) time.Duration { return time.Second }
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runWorker(ctx, g, opts) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker %s: %v", name, err)
		}
	})
}

func testGlobals(t *testing.T, stdout, stderr interface{ Write([]byte) (int, error) }) *cli.Globals {
	t.Helper()
	log, err := logging.New(stderr, "text", "warn")
	if err != nil {
		t.Fatal(err)
	}
	return &cli.Globals{Log: log, Stdout: stdout, Stderr: stderr}
}

// runCLI runs the root command and returns stdout, stderr and the exit code main
// would use.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCommand()
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	ctx := context.Background()
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(&errOut, "migrator:", err)
	}
	return out.String(), errOut.String(), cli.ExitCode(ctx, err)
}

func listJobs(t *testing.T, c *jobs.Client) []jobs.Summary {
	t.Helper()
	l, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// TestMigrateDryRunEnqueuesNothing: the plan is printed, exit 0, Redis holds no job.
func TestMigrateDryRunEnqueuesNothing(t *testing.T) {
	w := newCLIWorld(t, 2)
	out, errOut, code := runCLI(t, w.migrateArgs("--dry-run")...)
	if code != cli.ExitOK {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"research-v2", "user0", "user1", "vpc-0f9e8d7c6b5a40312"} {
		if !strings.Contains(out, want) {
			t.Errorf("the printed plan lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "nothing was enqueued") {
		t.Errorf("stderr does not say nothing was enqueued:\n%s", errOut)
	}
	if l := listJobs(t, w.client(t)); len(l) != 0 {
		t.Errorf("--dry-run enqueued %d jobs: %+v", len(l), l)
	}
	if n, err := w.redis.Do("DBSIZE"); err != nil || fmt.Sprint(n) != "0" {
		t.Errorf("--dry-run wrote to Redis: DBSIZE=%v (%v)", n, err)
	}
}

// TestMigrateRefusesPlanWithErrors: switching to SSO without a user mapping is a
// plan error: exit 3, the errors printed, nothing enqueued.
func TestMigrateRefusesPlanWithErrors(t *testing.T) {
	w := newCLIWorld(t, 2)
	out, errOut, code := runCLI(t, w.migrateArgs("--auth-mode", "SSO")...)
	if code != cli.ExitPlanErrors {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, cli.ExitPlanErrors, out, errOut)
	}
	if !strings.Contains(errOut, "the plan has") || !strings.Contains(errOut, "nothing was enqueued") {
		t.Errorf("stderr does not explain the refusal:\n%s", errOut)
	}
	if !strings.Contains(strings.ToLower(out), "error") {
		t.Errorf("the printed plan shows no error:\n%s", out)
	}
	if l := listJobs(t, w.client(t)); len(l) != 0 {
		t.Errorf("a plan with errors enqueued %d jobs", len(l))
	}
}

// TestMigrateRunsLivePreflight: a target VPC that does not exist in the account and
// a subnet of another VPC are refused before anything is enqueued (exit 3), each
// problem said in the printed plan.
func TestMigrateRunsLivePreflight(t *testing.T) {
	w := newCLIWorld(t, 1)
	args := w.migrateArgs()
	for i, a := range args {
		if a == "vpc-0f9e8d7c6b5a40312" {
			args[i] = "vpc-0000000000000dead"
		}
	}
	out, errOut, code := runCLI(t, args...)
	if code != cli.ExitPlanErrors {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, cli.ExitPlanErrors, out, errOut)
	}
	for _, want := range []string{"vpc-0000000000000dead", "subnet-0aaaabbbbccccdddd"} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan does not name %s:\n%s", want, out)
		}
	}
	if l := listJobs(t, w.client(t)); len(l) != 0 {
		t.Errorf("a plan failing its preflight enqueued %d jobs", len(l))
	}
}

// TestMigrateBadInput: usage errors exit 2 before anything is read or enqueued.
func TestMigrateBadInput(t *testing.T) {
	w := newCLIWorld(t, 1)
	for name, args := range map[string][]string{
		"no copy-to":        {"migrate", "--redis", w.redis.URL(), "--domain", "d-x", "--copy-from", "/mnt/old"},
		"fs in copy-from":   {"migrate", "--redis", w.redis.URL(), "--domain", "d-x", "--copy-from", "/mnt/{fs}", "--copy-to", "/mnt/{fs}"},
		"bad redis":         {"migrate", "--redis", "http://x", "--domain", "d-x", "--copy-from", "/a", "--copy-to", "/b"},
		"delete-efs alone":  {"migrate", "--redis", w.redis.URL(), "--domain", "d-x", "--copy-from", "/a", "--copy-to", "/b", "--delete-efs"},
		"output is a file":  {"migrate", "--redis", w.redis.URL(), "--domain", "d-x", "--copy-from", "/a", "--copy-to", "/b", "-o", "plan.json"},
		"password in sftp:": {"migrate", "--redis", w.redis.URL(), "--domain", "d-x", "--copy-from", "sftp://u:pw@h/a", "--copy-to", "/b"},
		"mount of sftp":     {"migrate", "--redis", w.redis.URL(), "--domain", "d-x", "--copy-from", "/a", "--copy-to", "sftp://h/b", "--copy-to-mount", "/c"},
		"sftp mount":        {"migrate", "--redis", w.redis.URL(), "--domain", "d-x", "--copy-from", "/a", "--copy-to", "/b", "--copy-to-mount", "sftp://h/c"},
		"mount is copy-to":  {"migrate", "--redis", w.redis.URL(), "--domain", "d-x", "--copy-from", "/a", "--copy-to", "/b/{fs}", "--copy-to-mount", "/b/{fs}/"},
		"mount with s3":     {"migrate", "--redis", w.redis.URL(), "--domain", "d-x", "--copy-from", "s3://bk/p", "--copy-to", "/b", "--copy-to-mount", "/c"},
	} {
		_, errOut, code := runCLI(t, args...)
		if code != cli.ExitUsage {
			t.Errorf("%s: exit %d, want %d; stderr:\n%s", name, code, cli.ExitUsage, errOut)
		}
	}
	if l := listJobs(t, w.client(t)); len(l) != 0 {
		t.Errorf("bad input enqueued %d jobs", len(l))
	}
}

// TestMigrateWatchStatusUIDMap runs a migration through the CLI and an in-process
// worker, then checks watch's exit code, the status JSON, the UID map CSV, and the
// homes on disk under their new UIDs.
func TestMigrateWatchStatusUIDMap(t *testing.T) {
	testutil.RequireRoot(t)
	w := newCLIWorld(t, 3)
	w.fillHomes(t)
	out, errOut, code := runCLI(t, w.migrateArgs("--checksum")...)
	if code != cli.ExitOK {
		t.Fatalf("migrate: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	id := lastLine(out)
	if !strings.HasPrefix(id, "migrate-") || strings.ContainsAny(id, " \t") {
		t.Fatalf("the last line of stdout is %q, want the job ID alone", id)
	}
	w.startWorker(t, "w1")

	out, errOut, code = runCLI(t, "watch", id, "--redis", w.redis.URL(), "--interval", "200ms")
	if code != cli.ExitOK {
		t.Fatalf("watch: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "job "+id+" succeeded") || !strings.Contains(out, "3 of 3 homes moved") {
		t.Errorf("watch's summary line is missing:\n%s", out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("watch drew ANSI codes on a non-terminal:\n%q", out)
	}

	out, errOut, code = runCLI(t, "status", id, "--redis", w.redis.URL(), "-o", "json")
	if code != cli.ExitOK {
		t.Fatalf("status: exit %d: %s", code, errOut)
	}
	var st struct {
		State string `json:"state"`
		Homes []struct {
			Key    string `json:"key"`
			State  string `json:"state"`
			Files  *int64 `json:"files"`
			Bytes  *int64 `json:"bytes"`
			NewUID string `json:"newUid"`
		} `json:"homes"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, out)
	}
	if st.State != jobs.StateSucceeded || len(st.Homes) != 3 {
		t.Fatalf("status: state %q with %d homes, want succeeded with 3:\n%s", st.State, len(st.Homes), out)
	}
	for _, h := range st.Homes {
		if h.State != jobs.HomeSucceeded || h.Files == nil || *h.Files != 5 || h.Bytes == nil || *h.Bytes == 0 {
			t.Errorf("home %s: state %q files %v bytes %v; want succeeded, 5 files and bytes", h.Key, h.State, h.Files, h.Bytes)
		}
	}
	out, _, code = runCLI(t, "status", id, "--redis", w.redis.URL())
	if code != cli.ExitOK || !strings.Contains(out, "succeeded") || !strings.Contains(out, "user-profile/user0") {
		t.Errorf("status text (exit %d):\n%s", code, out)
	}

	out, errOut, code = runCLI(t, "uid-map", id, "--redis", w.redis.URL(), "-o", "csv")
	if code != cli.ExitOK {
		t.Fatalf("uid-map: exit %d: %s", code, errOut)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("uid-map CSV: %v\n%s", err, out)
	}
	if len(rows) != 4 || strings.Join(rows[0], ",") != "kind,name,oldUid,newUid" {
		t.Fatalf("uid-map CSV: want a header and 3 rows:\n%s", out)
	}
	var newFS string
	if s, err := w.client(t).Get(context.Background(), id); err == nil && s.NewDomain != nil {
		newFS = s.NewDomain.HomeEfsFileSystemID
	} else {
		t.Fatalf("job record has no new domain: %v", err)
	}
	for _, r := range rows[1:] {
		if r[2] == r[3] || r[3] == "" {
			t.Errorf("uid-map row %v: the new UID is not fresh", r)
		}
		// The real effect: the old home's files are in the new home, owned by the new UID.
		f := filepath.Join(w.efsRoot, newFS, r[3], "work", "nb4.ipynb")
		fi, err := os.Lstat(f)
		if err != nil {
			t.Errorf("%s/%s: %v", r[0], r[1], err)
			continue
		}
		if got := strconv.FormatUint(uint64(fi.Sys().(*syscall.Stat_t).Uid), 10); got != r[3] || fi.Size() != int64(500*len(r[1])) || fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: owner %s size %d mode %v; want owner %s, %d bytes, 0640", f, got, fi.Size(), fi.Mode().Perm(), r[3], 500*len(r[1]))
		}
	}

	out, _, code = runCLI(t, "jobs", "list", "--redis", w.redis.URL(), "-o", "json")
	var list []jobs.Summary
	if code != cli.ExitOK || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].ID != id || list[0].State != jobs.StateSucceeded {
		t.Errorf("jobs list -o json (exit %d):\n%s", code, out)
	}
	if _, errOut, code := runCLI(t, "jobs", "cancel", id, "--redis", w.redis.URL()); code != cli.ExitFatal || !strings.Contains(errOut, "already finished") {
		t.Errorf("cancelling a finished job: exit %d, stderr %s", code, errOut)
	}
}

// TestWatchExitsSixOnFailedJob: a job for a domain that does not exist fails in its
// snapshot step; watch exits 6 and says why; status shows the error.
func TestWatchExitsSixOnFailedJob(t *testing.T) {
	w := newCLIWorld(t, 1)
	c := w.client(t)
	id, err := c.Submit(context.Background(), jobs.Spec{
		Kind: jobs.KindMigrate, Source: jobs.AWSTarget{Region: emulator.DefaultRegion, EndpointURL: w.url},
		SourceDomainID: "d-doesnotexist0", CopyFrom: "/nonexistent/old", CopyTo: "/nonexistent/{fs}",
	})
	if err != nil {
		t.Fatal(err)
	}
	w.startWorker(t, "w1")
	out, errOut, code := runCLI(t, "watch", id, "--redis", w.redis.URL(), "--interval", "200ms")
	if code != cli.ExitJobFailed {
		t.Fatalf("watch: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, cli.ExitJobFailed, out, errOut)
	}
	if !strings.Contains(errOut, "d-doesnotexist0") || !strings.Contains(errOut, "retry") {
		t.Errorf("watch's error does not say what failed and how to resume:\n%s", errOut)
	}
	out, _, _ = runCLI(t, "status", id, "--redis", w.redis.URL(), "-o", "json")
	var st jobs.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.State != jobs.StateFailed || !strings.Contains(st.Error, "does not exist") {
		t.Errorf("status: state %q error %q (%v)", st.State, st.Error, err)
	}
	if _, errOut, code := runCLI(t, "watch", "migrate-nosuchjob", "--redis", w.redis.URL()); code != cli.ExitUsage || !strings.Contains(errOut, "no such job") {
		t.Errorf("watch of an unknown job: exit %d, stderr %s", code, errOut)
	}
}

// TestCleanupConfirmation: without --yes, cleanup refuses when standard input is not
// a terminal (exit 2) and when the typed ID differs; it enqueues once typed right.
// Cancelling the pending job then works, and retry resumes it.
func TestCleanupConfirmation(t *testing.T) {
	w := newCLIWorld(t, 1)
	c := w.client(t)
	dom := w.old.Domain.ID
	run := func(stdin string, isTerm bool, yes bool) (string, int) {
		var out, errOut bytes.Buffer
		opts := &cleanupOptions{redis: redisOptions{url: w.redis.URL()}, domain: dom, yes: yes,
			stdin: strings.NewReader(stdin), stdinIsTerminal: func() bool { return isTerm }}
		err := runCleanup(context.Background(), testGlobals(t, &out, &errOut), opts)
		if err != nil {
			fmt.Fprintln(&errOut, err)
		}
		return out.String() + errOut.String(), cli.ExitCode(context.Background(), err)
	}
	if out, code := run(dom+"\n", false, false); code != cli.ExitUsage || !strings.Contains(out, "--yes") {
		t.Errorf("no terminal, no --yes: exit %d, want %d:\n%s", code, cli.ExitUsage, out)
	}
	if out, code := run("d-other\n", true, false); code != cli.ExitFatal || !strings.Contains(out, "nothing was enqueued") {
		t.Errorf("wrong ID typed: exit %d:\n%s", code, out)
	}
	if l := listJobs(t, c); len(l) != 0 {
		t.Fatalf("a refused cleanup enqueued %d jobs", len(l))
	}
	out, code := run(dom+"\n", true, false)
	if code != cli.ExitOK {
		t.Fatalf("confirmed cleanup: exit %d:\n%s", code, out)
	}
	l := listJobs(t, c)
	if len(l) != 1 || l[0].Kind != jobs.KindCleanup || l[0].SourceDomainID != dom {
		t.Fatalf("jobs after a confirmed cleanup: %+v", l)
	}
	id := l[0].ID
	if !strings.Contains(out, id) {
		t.Errorf("cleanup did not print the job ID %s:\n%s", id, out)
	}
	if _, errOut, code := runCLI(t, "jobs", "cancel", id, "--redis", w.redis.URL()); code != cli.ExitOK {
		t.Fatalf("jobs cancel: exit %d: %s", code, errOut)
	}
	if st, _ := c.Get(context.Background(), id); st == nil || st.State != jobs.StateCancelled {
		t.Fatalf("after cancel: %+v", st)
	}
	if _, errOut, code := runCLI(t, "jobs", "retry", id, "--redis", w.redis.URL()); code != cli.ExitOK {
		t.Fatalf("jobs retry: exit %d: %s", code, errOut)
	}
	if st, _ := c.Get(context.Background(), id); st == nil || jobs.Terminal(st.State) {
		t.Fatalf("after retry the job is still finished: %+v", st)
	}
}

// TestWorkerBadInput: a worker with bad flags exits 2 before connecting.
func TestWorkerBadInput(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown queue":   {"worker", "--queues", "migrator-copy,nosuchqueue"},
		"bad priority":    {"worker", "--queues", "migrator-copy=high"},
		"no concurrency":  {"worker", "--concurrency", "0"},
		"bad redis URL":   {"worker", "--redis", "memcached://127.0.0.1:11211"},
		"short lease TTL": {"worker", "--redis", "redis://127.0.0.1:1/0", "--lease-ttl", "100ms"},
		"zero retention":  {"worker", "--redis", "redis://127.0.0.1:1/0", "--record-retention", "0"},
		"bad retention":   {"worker", "--redis", "redis://127.0.0.1:1/0", "--record-retention", "30d"},
	} {
		_, errOut, code := runCLI(t, args...)
		if code != cli.ExitUsage {
			t.Errorf("%s: exit %d, want %d; stderr:\n%s", name, code, cli.ExitUsage, errOut)
		}
	}
}
