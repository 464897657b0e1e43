package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	neturl "net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/studio-migrator/studio-migrator/internal/backup/s3test"
	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/emulator"
	"github.com/studio-migrator/studio-migrator/internal/logging"
	"github.com/studio-migrator/studio-migrator/internal/progress"
	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/jobs"
)

// Options configure Run. Zero values take the defaults.
type Options struct {
	// Dir holds the EFS folders and the snapshot; "" makes a temporary one that Run
	// removes at the end unless Keep is set.
	Dir  string
	Keep bool
	// FilesPerHome is roughly how many files each home holds (default 300).
	FilesPerHome int
	// ReadyAfter is how long emulated resources stay Pending (default 200ms).
	ReadyAfter time.Duration
	// ThrottleRate is the share of API calls the emulator throttles (default 0.1),
	// to show that the tool paces itself and retries.
	ThrottleRate float64
	Seed         int64
	// RedisURL is a real Redis to run the queue on; "" runs an in-process one
	// (miniredis), so the demo needs nothing installed.
	RedisURL string
	// Workers is the number of in-process workers sharing the job (default 2).
	Workers int
	// Out receives the narrative, the progress display and the report (default:
	// discard). The progress is a bar when Out is a terminal, plain lines otherwise.
	Out io.Writer
	Log *slog.Logger
	// InProcessLCC runs the lifecycle configurations in process even where bash
	// and the AWS CLI v2 are installed.
	InProcessLCC bool
}

// HomeReport is one migrated home directory.
type HomeReport struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	OldUID string `json:"oldUid"`
	NewUID string `json:"newUid"`
	// OldDir and NewDir are the home directories on disk.
	OldDir string `json:"oldDir"`
	NewDir string `json:"newDir"`
	// Worker is the worker that copied it; Took how long its copy and verify took.
	Worker string            `json:"worker"`
	Took   float64           `json:"tookSeconds"`
	Copy   *efs.CopyReport   `json:"copy"`
	Verify *efs.VerifyReport `json:"verify"`
	// Rerun is the copy run a second time over the finished one: it should write
	// nothing.
	Rerun *efs.CopyReport `json:"rerun"`
}

// Report is what Run did.
type Report struct {
	Dir          string              `json:"dir"`
	SnapshotFile string              `json:"snapshotFile"`
	JobID        string              `json:"jobId"`
	Redis        string              `json:"redis"`
	OldDomain    studio.DomainResult `json:"oldDomain"`
	NewDomain    studio.DomainResult `json:"newDomain"`
	UIDMap       []studio.UIDMapping `json:"uidMap"`
	Homes        []HomeReport        `json:"homes"`
	// Workers are the workers that did any of the job's work.
	Workers []string `json:"workers"`
	// EBS is the JupyterLab space moved through S3.
	EBS *EBSReport `json:"ebs"`
}

// The demo's VPCs, subnets and security groups: the new domain moves to another VPC,
// the change that forces a rebuild in real life.
const (
	oldVPC = "vpc-0a1b2c3d4e5f60718"
	newVPC = "vpc-0f9e8d7c6b5a40312"
	role   = "arn:aws:iam::" + emulator.DefaultAccountID + ":role/"
)

var (
	oldSubnets = []string{"subnet-0123456789abcdef0", "subnet-0fedcba9876543210"}
	newSubnets = []string{"subnet-0aaaabbbbccccdddd", "subnet-0eeeeffff00001111"}
	newSGs     = []string{"sg-0123abcd4567ef890"}
)

// Run performs the demo migration through the queue and returns its report. It
// needs root: homes are re-owned to UIDs that are not this process's.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := efs.CheckLocal(); err != nil {
		return nil, fmt.Errorf("the demo copies homes between local folders: %w", err)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("the demo re-owns files to the new profiles' UIDs, which needs root: run it as root (e.g. sudo go run ./cmd/migrator demo)")
	}
	o = withDefaults(o)
	out := o.Out
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "studio-migrator-demo-")
		if err != nil {
			return nil, fmt.Errorf("making the demo's folder: %w", err)
		}
		dir = d
		if !o.Keep {
			defer os.RemoveAll(dir)
		}
	}
	efsRoot := filepath.Join(dir, "efs")
	ebsRoot := filepath.Join(dir, "ebs")
	for _, d := range []string{efsRoot, ebsRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("making the demo's folders: %w", err)
		}
	}
	// The lifecycle configurations run as the EBS home's user: they must reach it.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, fmt.Errorf("opening the demo's folder: %w", err)
	}
	s3srv, err := s3test.New(demoBucket)
	if err != nil {
		return nil, err
	}
	defer s3srv.Close()
	runner, via, err := lccRunner(o, s3srv, dir)
	if err != nil {
		return nil, fmt.Errorf("preparing the lifecycle configurations: %w", err)
	}

	em := emulator.New(emulator.Options{
		ReadyAfter:   o.ReadyAfter,
		ThrottleRate: o.ThrottleRate,
		Seed:         o.Seed,
		EFSRoot:      efsRoot,
		EBSRoot:      ebsRoot,
		LCC:          runner,
		Logger:       o.Log.With("component", "emulator"),
	})
	// The target account's network and execution roles, which the live preflight
	// checks before anything is created (the old domain's are made on first use).
	sgs := map[string]string{}
	for _, id := range newSGs {
		sgs[id] = newVPC
	}
	em.AddWorld(emulator.World{
		VPCs:           map[string][]string{newVPC: newSubnets},
		SecurityGroups: sgs,
		Roles:          []string{role + "StudioDefault", role + "AliceExec", role + "CarolExec"},
	})
	url, stop, err := serve(ctx, em)
	if err != nil {
		return nil, err
	}
	defer stop()
	redisURL, redisName, stopRedis, err := startRedis(o.RedisURL)
	if err != nil {
		return nil, err
	}
	defer stopRedis()
	clients := studio.NewClients(clientConfig(url))
	waiter := studio.Waiter{PollInterval: o.ReadyAfter/4 + 10*time.Millisecond, Timeout: 5 * time.Minute}
	rep := &Report{Dir: dir, Redis: redisName}

	fmt.Fprintf(out, "SageMaker emulator on %s (%.0f%% of calls throttled); EFS volumes are folders under %s\n", url, 100*o.ThrottleRate, efsRoot)
	fmt.Fprintf(out, "Queue and job records: %s\n", redisName)
	fmt.Fprintf(out, "S3 on %s (bucket %s, in process); JupyterLab spaces' EBS volumes are folders under %s\n", s3srv.URL, demoBucket, ebsRoot)
	fmt.Fprintf(out, "Lifecycle configurations run %s\n\n", via)

	// 1. The starting point: an old domain whose homes hold files.
	fmt.Fprintln(out, "== 1. The old domain (what an administrator starts from)")
	seed := &studio.Applier{Clients: clients, Waiter: waiter, JobID: "demo-seed", Log: o.Log}
	old, err := seed.Apply(ctx, oldDomainPlan())
	if err != nil {
		return nil, fmt.Errorf("building the old domain: %w", err)
	}
	rep.OldDomain = old.Domain
	for _, m := range old.UIDMap {
		if m.Name == ebsSpace {
			home := filepath.Join(ebsRoot, old.Domain.ID, ebsSpace)
			n, err := fillEBSHome(home)
			if err != nil {
				return nil, fmt.Errorf("filling the EBS home of space %s: %w", ebsSpace, err)
			}
			fmt.Fprintf(out, "  %-12s %-15s JupyterLab, home on EBS: %d files in %s\n", m.Kind, m.Name, n, home)
			continue
		}
		home := filepath.Join(efsRoot, old.Domain.HomeEfsFileSystemID, m.NewUID)
		uid, _ := strconv.Atoi(m.NewUID)
		n, size, err := fillHome(home, uint32(uid), o.FilesPerHome, o.Seed, m.Name)
		if err != nil {
			return nil, fmt.Errorf("filling the home of %s %s: %w", m.Kind, m.Name, err)
		}
		fmt.Fprintf(out, "  %-12s %-15s UID %s: %d files, %s in %s\n", m.Kind, m.Name, m.NewUID, n, humanBytes(size), home)
	}
	fmt.Fprintf(out, "  domain %s (%s) on EFS %s, VPC %s\n\n", old.Domain.Name, old.Domain.ID, old.Domain.HomeEfsFileSystemID, oldVPC)

	// 2. What `migrator migrate` does before enqueueing: snapshot and plan.
	oldEFS := filepath.Join(efsRoot, old.Domain.HomeEfsFileSystemID)
	newEFS := filepath.Join(efsRoot, "{fs}")
	fmt.Fprintf(out, "== 2. migrator migrate --domain %s --new-name research-v2 --vpc-id %s ... \\\n       --copy-from %s --copy-to %s --bucket %s\n", old.Domain.ID, newVPC, oldEFS, newEFS, demoBucket)
	snap, err := studio.TakeSnapshot(ctx, clients, old.Domain.ID, studio.SnapshotOptions{Logger: o.Log})
	if err != nil {
		return nil, err
	}
	doc, err := studio.MarshalSnapshot(snap)
	if err != nil {
		return nil, err
	}
	rep.SnapshotFile = filepath.Join(dir, "snapshot.json")
	if err := os.WriteFile(rep.SnapshotFile, doc, 0o600); err != nil {
		return nil, fmt.Errorf("writing the snapshot: %w", err)
	}
	fmt.Fprintf(out, "  snapshot: %s, %s, settings and tags (saved to %s, %s)\n", plural(len(snap.UserProfiles), "user profile"), plural(len(snap.Spaces), "space"), rep.SnapshotFile, humanBytes(int64(len(doc))))
	overrides := studio.Overrides{
		DomainName:       "research-v2",
		VpcID:            newVPC,
		SubnetIDs:        newSubnets,
		SecurityGroupIDs: newSGs,
	}
	plan, err := studio.NewPlan(snap, overrides, studio.PlanOptions{})
	if err != nil {
		return nil, err
	}
	// The live preflight, as migrate runs it: the VPC, subnets, security groups and
	// execution roles exist in the target account.
	live, err := studio.Preflight(ctx, clients, plan, studio.PreflightOptions{Logger: o.Log})
	if err != nil {
		return nil, err
	}
	plan.Problems = append(plan.Problems, live...)
	spec := jobs.Spec{
		Kind:           jobs.KindMigrate,
		Source:         jobs.AWSTarget{Region: emulator.DefaultRegion, EndpointURL: url},
		SourceDomainID: old.Domain.ID,
		Overrides:      overrides,
		CopyFrom:       oldEFS,
		CopyTo:         newEFS,
		Checksum:       true,
		Backup:         &jobs.BackupTarget{Bucket: demoBucket, Prefix: demoPrefix, EndpointURL: s3srv.URL},
	}
	plan.Problems = append(plan.Problems, jobs.EBSProblems(plan, spec)...)
	if err := plan.WriteText(indent(out)); err != nil {
		return nil, err
	}
	for _, s := range jobs.EBSSpaces(plan) {
		fmt.Fprintf(out, "  space %s keeps its home on EBS (%s): the job moves it through s3://%s/%s/ (backup-ebs, restore-ebs)\n", s.Name, s.AppType, demoBucket, demoPrefix)
	}
	if errs := plan.Errors(); len(errs) > 0 {
		return nil, fmt.Errorf("the demo's plan has %d errors (first: %s)", len(errs), errs[0].Message)
	}

	// 3. Enqueue the job, as migrate does, and run workers that share it.
	jc, err := newJobsClient(redisURL)
	if err != nil {
		return nil, err
	}
	defer jc.Close()
	rep.JobID, err = jc.Submit(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("enqueueing the migration: %w", err)
	}
	fmt.Fprintf(out, "  enqueued job %s\n\n", rep.JobID)
	fmt.Fprintf(out, "== 3. %s run it (migrator worker): snapshot, preflight, back up the EBS space, create the domain, profiles and spaces, restore it, copy and verify every home\n", plural(o.Workers, "worker"))
	stopWorkers, err := startWorkers(redisURL, url, o)
	if err != nil {
		return nil, err
	}
	defer stopWorkers()
	fmt.Fprintf(out, "   migrator watch %s\n", rep.JobID)
	st, err := progress.Watch(ctx, out, func(ctx context.Context) (*jobs.Status, error) { return jc.Get(ctx, rep.JobID) },
		progress.Options{Terminal: progress.IsTerminal(out), Interval: watchInterval(out)})
	if err != nil {
		return nil, fmt.Errorf("watching job %s: %w", rep.JobID, err)
	}
	if st.State != jobs.StateSucceeded {
		return nil, fmt.Errorf("job %s %s in step %s: %s", st.ID, st.State, st.Step, st.Error)
	}
	stopWorkers()
	fmt.Fprintln(out)

	// 4. The report: the UID map, every home's copy and verification, and a rerun of
	// each copy that should write nothing.
	if st.NewDomain != nil {
		rep.NewDomain = *st.NewDomain
	}
	rep.UIDMap, rep.Workers = st.UIDMap, st.Workers
	fmt.Fprintf(out, "== 4. migrator uid-map %s  (old UIDs from the snapshot, new ones read back from the API)\n", rep.JobID)
	fmt.Fprintf(out, "  domain %s (%s) InService on EFS %s, VPC %s\n", rep.NewDomain.Name, rep.NewDomain.ID, rep.NewDomain.HomeEfsFileSystemID, newVPC)
	for _, m := range st.UIDMap {
		fmt.Fprintf(out, "    %-12s %-15s %s -> %s\n", m.Kind, m.Name, m.OldUID, m.NewUID)
	}
	fmt.Fprintln(out)
	for _, h := range st.Homes {
		if h.Storage == studio.StorageEBS && h.State == jobs.HomeSucceeded {
			if rep.EBS, err = checkEBS(ctx, ebsRoot, old.Domain.ID, rep.NewDomain.ID, via); err != nil {
				return nil, err
			}
			continue
		}
		if h.State != jobs.HomeSucceeded {
			fmt.Fprintf(out, "  %s: %s (%s)\n", h.Key, h.State, h.Reason)
			continue
		}
		hr, err := homeReport(ctx, o, efsRoot, snap.Domain.HomeEfsFileSystemID, rep.NewDomain.HomeEfsFileSystemID, h)
		if err != nil {
			return nil, err
		}
		rep.Homes = append(rep.Homes, *hr)
	}
	writeReport(out, rep)
	if rep.EBS == nil {
		return nil, fmt.Errorf("the EBS-backed space %s was not moved", ebsSpace)
	}
	fmt.Fprintf(out, "   EBS-backed space %s: %d files, %s backed up to s3://%s/%s/ on the old domain and restored into the new space's\n   volume %s: same bytes, modes, mtimes and links (checked file by file).\n",
		rep.EBS.Space, rep.EBS.Files, humanBytes(rep.EBS.Bytes), demoBucket, demoPrefix, rep.EBS.NewDir)
	return rep, nil
}

// watchInterval is how often the demo redraws: often on a terminal, once a second
// in a log (the demo takes seconds).
func watchInterval(out io.Writer) time.Duration {
	if progress.IsTerminal(out) {
		return 200 * time.Millisecond
	}
	return time.Second
}

// startRedis returns the URL of the Redis to use: url itself, or an in-process
// miniredis whose clock a goroutine moves forward (asynq's leases and locks expire
// by TTL; miniredis's ClockTTL would sort every key on every command).
func startRedis(url string) (conn, name string, stop func(), err error) {
	if url != "" {
		return url, "Redis at " + redactRedisURL(url), func() {}, nil
	}
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return "", "", nil, fmt.Errorf("starting the in-process Redis: %w", err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				m.FastForward(100 * time.Millisecond)
			}
		}
	}()
	var once sync.Once
	return "redis://" + m.Addr() + "/0", "in-process Redis (miniredis) on " + m.Addr() + "; --redis URL uses a real one", func() {
		once.Do(func() { close(done); wg.Wait(); m.Close() })
	}, nil
}

// redactRedisURL drops a password from a Redis URL for printing.
func redactRedisURL(s string) string {
	u, err := neturl.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = neturl.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

func newJobsClient(url string) (*jobs.Client, error) {
	r, err := jobs.ParseRedisURL(url)
	if err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	c, err := jobs.NewClient(r)
	if err != nil {
		return nil, fmt.Errorf("connecting to Redis: %w", err)
	}
	return c, nil
}

// startWorkers runs o.Workers workers in process, reaching the emulator with the
// demo's credentials; stop shuts them down gracefully (idempotent).
func startWorkers(redisURL, emulatorURL string, o Options) (stop func(), err error) {
	r, err := jobs.ParseRedisURL(redisURL)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range o.Workers {
		w, err := jobs.NewWorker(r, jobs.WorkerConfig{
			Name:        fmt.Sprintf("demo-worker-%d", i+1),
			Concurrency: 4,
			AWSConfig: func(context.Context, jobs.AWSTarget) (aws.Config, error) {
				return clientConfig(emulatorURL), nil
			},
			Waiter:         studio.Waiter{PollInterval: o.ReadyAfter/4 + 10*time.Millisecond, Timeout: 5 * time.Minute},
			CreateInterval: 20 * time.Millisecond,
			RetryDelay:     func(int) time.Duration { return time.Second },
			Preflight: func(ctx context.Context, cfg aws.Config, p *studio.Plan) ([]studio.Problem, error) {
				return studio.Preflight(ctx, studio.NewClients(cfg), p, studio.PreflightOptions{})
			},
			Log: o.Log.With("component", "worker"),
		})
		if err != nil {
			cancel()
			wg.Wait()
			return nil, fmt.Errorf("starting worker %d: %w", i+1, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx); err != nil {
				o.Log.Error("demo worker stopped", "error", err)
			}
		}()
	}
	var once sync.Once
	return func() { once.Do(func() { cancel(); wg.Wait() }) }, nil
}

func withDefaults(o Options) Options {
	if o.FilesPerHome <= 0 {
		o.FilesPerHome = 300
	}
	if o.ReadyAfter <= 0 {
		o.ReadyAfter = 200 * time.Millisecond
	}
	if o.ThrottleRate == 0 {
		o.ThrottleRate = 0.1
	}
	if o.ThrottleRate < 0 {
		o.ThrottleRate = 0
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = logging.Discard()
	}
	return o
}

// serve runs the emulator on a free loopback port until stop is called.
func serve(ctx context.Context, em *emulator.Emulator) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listening for the emulator: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = em.Serve(ctx, ln)
	}()
	return "http://" + ln.Addr().String(), func() { cancel(); <-done }, nil
}

// clientConfig points the SDK at the emulator the way `--endpoint-url` does, with
// demo credentials (the emulator checks that a request is signed, not by whom) and
// the standard retryer, which retries ThrottlingException with backoff.
func clientConfig(url string) aws.Config {
	return aws.Config{
		Region:      emulator.DefaultRegion,
		Credentials: credentials.NewStaticCredentialsProvider("DEMOACCESSKEY", "demo-secret", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = 12
				so.MaxBackoff = time.Second
				so.RateLimiter = ratelimit.None
			})
		},
		BaseEndpoint: aws.String(url),
	}
}

// oldDomainPlan is the old domain, written as the plan that builds it: the demo uses
// the tool's own Apply to set up its starting point.
func oldDomainPlan() *studio.Plan {
	tags := func(kv ...string) []studio.Tag {
		var t []studio.Tag
		for i := 0; i+1 < len(kv); i += 2 {
			t = append(t, studio.Tag{Key: kv[i], Value: kv[i+1]})
		}
		return t
	}
	js := func(s string) []byte { return []byte(s) }
	profile := func(name, execRole string) studio.ProfileSpec {
		p := studio.ProfileSpec{Name: name, Tags: tags("studiouserid", name, "team", "research")}
		if execRole != "" {
			p.UserSettings = js(`{"ExecutionRole":"` + role + execRole + `"}`)
		}
		return p
	}
	return &studio.Plan{
		Domain: studio.DomainSpec{
			Name:                 "research",
			AuthMode:             "IAM",
			VpcID:                oldVPC,
			SubnetIDs:            oldSubnets,
			AppNetworkAccessType: "PublicInternetOnly",
			DefaultUserSettings:  js(`{"ExecutionRole":"` + role + `StudioDefault","JupyterLabAppSettings":{"DefaultResourceSpec":{"InstanceType":"ml.t3.medium"}}}`),
			DefaultSpaceSettings: js(`{"ExecutionRole":"` + role + `StudioDefault"}`),
			Tags:                 tags("team", "research", "cost-center", "4711"),
		},
		UserProfiles: []studio.ProfileSpec{
			profile("alice", "AliceExec"),
			profile("bob", ""),
			profile("carol", "CarolExec"),
			profile("dan", ""),
		},
		Spaces: []studio.SpaceSpec{{
			Name:                 "team-notebooks",
			OwnerUserProfileName: "alice",
			OwnershipSettings:    js(`{"OwnerUserProfileName":"alice"}`),
			SpaceSharingSettings: js(`{"SharingType":"Shared"}`),
			SpaceSettings:        js(`{"AppType":"JupyterServer"}`),
			Tags:                 tags("team", "research"),
		}, {
			// A current-Studio private JupyterLab space: its home is on EBS.
			Name:                 ebsSpace,
			OwnerUserProfileName: "bob",
			OwnershipSettings:    js(`{"OwnerUserProfileName":"bob"}`),
			SpaceSharingSettings: js(`{"SharingType":"Private"}`),
			SpaceSettings:        js(`{"AppType":"JupyterLab","SpaceStorageSettings":{"EbsStorageSettings":{"EbsVolumeSizeInGb":5}}}`),
			Tags:                 tags("team", "research"),
		}},
	}
}

// homeReport is one home as the job left it, checked once more by the demo: it
// runs the copy again over the finished home to show that a rerun writes nothing.
func homeReport(ctx context.Context, o Options, efsRoot, oldFS, newFS string, hs jobs.HomeStatus) (*HomeReport, error) {
	uid, err := strconv.ParseUint(hs.NewUID, 10, 32)
	if err != nil || uid == 0 {
		return nil, fmt.Errorf("%s: new UID %q is not a positive number", hs.Key, hs.NewUID)
	}
	h := &HomeReport{
		Kind: hs.Kind, Name: hs.Name, OldUID: hs.OldUID, NewUID: hs.NewUID,
		OldDir: filepath.Join(efsRoot, oldFS, hs.OldUID),
		NewDir: filepath.Join(efsRoot, newFS, hs.NewUID),
		Worker: hs.Worker, Took: hs.Finished.Sub(hs.Started).Seconds(),
		Copy: hs.Copy, Verify: hs.Verify,
	}
	if h.Copy == nil || h.Verify == nil {
		return nil, fmt.Errorf("%s: the job record has no copy or verify report", hs.Key)
	}
	src, err := efs.NewLocal(h.OldDir)
	if err != nil {
		return nil, fmt.Errorf("opening the old home of %s: %w", hs.Key, err)
	}
	defer src.Close()
	dst, err := efs.NewLocal(h.NewDir)
	if err != nil {
		return nil, fmt.Errorf("opening the new home of %s: %w", hs.Key, err)
	}
	defer dst.Close()
	if h.Rerun, err = efs.Copy(ctx, src, dst, efs.CopyOptions{UID: uint32(uid), Logger: o.Log.With("home", hs.Key)}); err != nil {
		return nil, fmt.Errorf("copying the home of %s again: %w", hs.Key, err)
	}
	return h, nil
}

func writeReport(out io.Writer, rep *Report) {
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  home\told UID\tnew UID\tfiles\tlinks\thardlinks\tbytes\ttook\tworker\tdifferences\trerun wrote\t")
	var files, bytes, diffs int64
	for _, h := range rep.Homes {
		fmt.Fprintf(tw, "  %s/%s\t%s\t%s\t%d\t%d\t%d\t%s\t%.1fs\t%s\t%d\t%d files\t\n",
			h.Kind, h.Name, h.OldUID, h.NewUID, h.Copy.Files, h.Copy.Symlinks, h.Copy.Hardlinks,
			humanBytes(h.Copy.Bytes), h.Took, h.Worker, h.Verify.Differences, h.Rerun.Copied)
		files += h.Copy.Files
		bytes += h.Copy.Bytes
		diffs += h.Verify.Differences
	}
	tw.Flush()
	fmt.Fprintf(out, "\n== 5. Report (migrator status %s): %d homes, %d files, %s moved from domain %s to %s by %v; verify found %d differences.\n",
		rep.JobID, len(rep.Homes), files, humanBytes(bytes), rep.OldDomain.ID, rep.NewDomain.ID, rep.Workers, diffs)
	fmt.Fprintln(out, "   Every entry of every new home is owned by its new UID; the old domain and its EFS are untouched (cleanup only on request).")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// indent prefixes every line written through it with two spaces.
func indent(w io.Writer) io.Writer { return &indentWriter{w: w, bol: true} }

type indentWriter struct {
	w   io.Writer
	bol bool
}

func (iw *indentWriter) Write(p []byte) (int, error) {
	var buf bytes.Buffer
	for _, b := range p {
		if iw.bol && b != '\n' {
			buf.WriteString("  ")
		}
		buf.WriteByte(b)
		iw.bol = b == '\n'
	}
	if _, err := iw.w.Write(buf.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}
