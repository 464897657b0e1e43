package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/emulator"
	"github.com/studio-migrator/studio-migrator/internal/logging"
	"github.com/studio-migrator/studio-migrator/internal/studio"
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
	// Out receives the narrative and the report (default: discard).
	Out io.Writer
	Log *slog.Logger
}

// HomeReport is one migrated home directory.
type HomeReport struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	OldUID string `json:"oldUid"`
	NewUID string `json:"newUid"`
	// OldDir and NewDir are the home directories on disk.
	OldDir string            `json:"oldDir"`
	NewDir string            `json:"newDir"`
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
	OldDomain    studio.DomainResult `json:"oldDomain"`
	NewDomain    studio.DomainResult `json:"newDomain"`
	Homes        []HomeReport        `json:"homes"`
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

// Run performs the demo migration and returns its report. It needs root: homes are
// re-owned to UIDs that are not this process's.
func Run(ctx context.Context, o Options) (*Report, error) {
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
	if err := os.MkdirAll(efsRoot, 0o755); err != nil {
		return nil, fmt.Errorf("making the demo's EFS folder: %w", err)
	}

	em := emulator.New(emulator.Options{
		ReadyAfter:   o.ReadyAfter,
		ThrottleRate: o.ThrottleRate,
		Seed:         o.Seed,
		EFSRoot:      efsRoot,
		Logger:       o.Log.With("component", "emulator"),
	})
	url, stop, err := serve(ctx, em)
	if err != nil {
		return nil, err
	}
	defer stop()
	clients := studio.NewClients(clientConfig(url))
	waiter := studio.Waiter{PollInterval: o.ReadyAfter/4 + 10*time.Millisecond, Timeout: 5 * time.Minute}
	rep := &Report{Dir: dir}

	fmt.Fprintf(out, "SageMaker emulator on %s (%.0f%% of calls throttled); EFS volumes are folders under %s\n\n", url, 100*o.ThrottleRate, efsRoot)

	// 1. The starting point: an old domain whose homes hold files.
	fmt.Fprintln(out, "== 1. The old domain (what an administrator starts from)")
	seed := &studio.Applier{Clients: clients, Waiter: waiter, JobID: "demo-seed", Log: o.Log}
	old, err := seed.Apply(ctx, oldDomainPlan())
	if err != nil {
		return nil, fmt.Errorf("building the old domain: %w", err)
	}
	rep.OldDomain = old.Domain
	for _, m := range old.UIDMap {
		home := filepath.Join(efsRoot, old.Domain.HomeEfsFileSystemID, m.NewUID)
		uid, _ := strconv.Atoi(m.NewUID)
		n, size, err := fillHome(home, uint32(uid), o.FilesPerHome, o.Seed, m.Name)
		if err != nil {
			return nil, fmt.Errorf("filling the home of %s %s: %w", m.Kind, m.Name, err)
		}
		fmt.Fprintf(out, "  %-12s %-15s UID %s: %d files, %s in %s\n", m.Kind, m.Name, m.NewUID, n, humanBytes(size), home)
	}
	fmt.Fprintf(out, "  domain %s (%s) on EFS %s, VPC %s\n\n", old.Domain.Name, old.Domain.ID, old.Domain.HomeEfsFileSystemID, oldVPC)

	// 2. Snapshot.
	fmt.Fprintln(out, "== 2. migrator snapshot --domain", old.Domain.ID)
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
	fmt.Fprintf(out, "  %s, %s, settings and tags saved to %s (%s)\n\n", plural(len(snap.UserProfiles), "user profile"), plural(len(snap.Spaces), "space"), rep.SnapshotFile, humanBytes(int64(len(doc))))

	// 3. Plan: a new VPC is the change that cannot be made on a live domain.
	fmt.Fprintf(out, "== 3. migrator plan --snapshot snapshot.json --domain-name research-v2 --vpc-id %s ...\n", newVPC)
	plan, err := studio.NewPlan(snap, studio.Overrides{
		DomainName:       "research-v2",
		VpcID:            newVPC,
		SubnetIDs:        newSubnets,
		SecurityGroupIDs: newSGs,
	}, studio.PlanOptions{})
	if err != nil {
		return nil, err
	}
	if err := plan.WriteText(indent(out)); err != nil {
		return nil, err
	}
	if errs := plan.Errors(); len(errs) > 0 {
		return nil, fmt.Errorf("the demo's plan has %d errors (first: %s)", len(errs), errs[0].Message)
	}
	fmt.Fprintln(out)

	// 4. Apply.
	fmt.Fprintln(out, "== 4. Apply: create the new domain, its user profiles and spaces")
	applier := &studio.Applier{Clients: clients, Waiter: waiter, JobID: "demo-migration", Log: o.Log}
	res, err := applier.Apply(ctx, plan)
	if err != nil {
		return nil, err
	}
	rep.NewDomain = res.Domain
	fmt.Fprintf(out, "  domain %s (%s) InService on EFS %s, VPC %s\n", res.Domain.Name, res.Domain.ID, res.Domain.HomeEfsFileSystemID, newVPC)
	fmt.Fprintf(out, "  UID map (old UIDs read from the snapshot, new ones from DescribeUserProfile/DescribeSpace):\n")
	for _, m := range res.UIDMap {
		fmt.Fprintf(out, "    %-12s %-15s %s -> %s\n", m.Kind, m.Name, m.OldUID, m.NewUID)
	}
	fmt.Fprintln(out)

	// 5. Copy every home and re-own it; 6. verify; then show that a rerun is free.
	fmt.Fprintln(out, "== 5. Copy each home /<oldUID> -> /<newUID>, re-owned; verify with checksums; copy again (resume)")
	for _, m := range res.UIDMap {
		if m.OldUID == "" {
			continue
		}
		h, err := moveHome(ctx, o, efsRoot, snap.Domain.HomeEfsFileSystemID, res.Domain.HomeEfsFileSystemID, m)
		if err != nil {
			return nil, err
		}
		rep.Homes = append(rep.Homes, *h)
	}
	writeReport(out, rep)
	return rep, nil
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
		}},
	}
}

// moveHome copies one home to its new UID, verifies it with checksums, and copies it
// again to show that a rerun writes nothing.
func moveHome(ctx context.Context, o Options, efsRoot, oldFS, newFS string, m studio.UIDMapping) (*HomeReport, error) {
	uid, err := strconv.ParseUint(m.NewUID, 10, 32)
	if err != nil || uid == 0 {
		return nil, fmt.Errorf("%s %s: new UID %q is not a positive number", m.Kind, m.Name, m.NewUID)
	}
	h := &HomeReport{
		Kind: m.Kind, Name: m.Name, OldUID: m.OldUID, NewUID: m.NewUID,
		OldDir: filepath.Join(efsRoot, oldFS, m.OldUID),
		NewDir: filepath.Join(efsRoot, newFS, m.NewUID),
	}
	src, err := efs.NewLocal(h.OldDir)
	if err != nil {
		return nil, fmt.Errorf("opening the old home of %s %s: %w", m.Kind, m.Name, err)
	}
	defer src.Close()
	parent, err := efs.NewLocal(filepath.Join(efsRoot, newFS))
	if err != nil {
		return nil, fmt.Errorf("opening the new EFS: %w", err)
	}
	defer parent.Close()
	if err := efs.PrepareDest(ctx, parent, m.NewUID, uint32(uid), emulator.HomeGID, false); err != nil {
		return nil, err
	}
	dst, err := efs.NewLocal(h.NewDir)
	if err != nil {
		return nil, fmt.Errorf("opening the new home of %s %s: %w", m.Kind, m.Name, err)
	}
	defer dst.Close()
	log := o.Log.With(m.Kind, m.Name)
	copyOpts := efs.CopyOptions{UID: uint32(uid), Logger: log}
	if h.Copy, err = efs.Copy(ctx, src, dst, copyOpts); err != nil {
		return nil, fmt.Errorf("copying the home of %s %s: %w", m.Kind, m.Name, err)
	}
	if h.Verify, err = efs.Verify(ctx, src, dst, efs.VerifyOptions{UID: uint32(uid), Checksum: true, Logger: log}); err != nil {
		return nil, fmt.Errorf("verifying the home of %s %s: %w", m.Kind, m.Name, err)
	}
	if h.Rerun, err = efs.Copy(ctx, src, dst, copyOpts); err != nil {
		return nil, fmt.Errorf("copying the home of %s %s again: %w", m.Kind, m.Name, err)
	}
	return h, nil
}

func writeReport(out io.Writer, rep *Report) {
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  home\told UID\tnew UID\tfiles\tlinks\thardlinks\tbytes\tdifferences\trerun wrote\t")
	var files, bytes, diffs int64
	for _, h := range rep.Homes {
		fmt.Fprintf(tw, "  %s/%s\t%s\t%s\t%d\t%d\t%d\t%s\t%d\t%d files\t\n",
			h.Kind, h.Name, h.OldUID, h.NewUID, h.Copy.Files, h.Copy.Symlinks, h.Copy.Hardlinks,
			humanBytes(h.Copy.Bytes), h.Verify.Differences, h.Rerun.Copied)
		files += h.Copy.Files
		bytes += h.Copy.Bytes
		diffs += h.Verify.Differences
	}
	tw.Flush()
	fmt.Fprintf(out, "\n== 6. Report: %d homes, %d files, %s moved from domain %s to %s; verify found %d differences.\n",
		len(rep.Homes), files, humanBytes(bytes), rep.OldDomain.ID, rep.NewDomain.ID, diffs)
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
