package jobs

// Moving the homes of EBS-backed spaces (JupyterLab and Code Editor spaces of
// current Studio) through S3. Only a running app mounts such a home, so a migrate
// job with a bucket (Spec.Backup) runs two extra steps:
//
//   - backup-ebs (after preflight): installs backup-home.sh as the old domain's
//     lifecycle configuration, starts each EBS-backed space's app on the smallest
//     instance type (only when none runs: a running app runs a new configuration
//     only when it restarts, which would kill the user's kernels, so the space is
//     reported instead), waits for a complete backup newer than the install, and
//     stops the apps it started.
//   - restore-ebs (after assign-users): installs restore-home.sh (reading the old
//     domain's backups) on the new domain, starts each new EBS-backed space's app,
//     waits for the script's restored/ marker, and stops the app again.
//
// Each space's progress is its home unit (storage "ebs"): running with a phase,
// then succeeded or failed with the reason. A space that fails does not fail the
// step: the other homes go on, and verify fails the job naming it. Both steps are
// resumable: the unit records, before CreateApp, that the job starts the app, so a
// worker taking the step over waits for that app instead of starting another, and
// the install time (the oldest marker that counts) is kept in the job record.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/studio-migrator/studio-migrator/internal/backup"
	"github.com/studio-migrator/studio-migrator/internal/lccinstall"
	"github.com/studio-migrator/studio-migrator/internal/studio"
	"github.com/studio-migrator/studio-migrator/scripts/lcc"
)

// DefaultEBSTimeout is WorkerConfig.EBSTimeout's default: how long a space's app may
// take, once started, to write its backup or restore marker. The scripts finish
// their start-up part within Studio's 5 minutes and work on in the background.
const DefaultEBSTimeout = 30 * time.Minute

// ebsAppName is the app name current Studio gives a space's JupyterLab or Code
// Editor app.
const ebsAppName = "default"

// ebsConcurrency bounds the spaces whose apps a step starts at once.
const ebsConcurrency = 4

// Phases of an EBS home, in the unit's "phase" field (HomeStatus.Phase).
const (
	phaseBackingUp = "backing up"
	phaseBackedUp  = "backed up"
	phaseRestoring = "restoring"
	phaseRestored  = "restored"
)

// Prefix is the key prefix, the scripts' default when unset.
func (b BackupTarget) prefix() string { return cmpOr(b.Prefix, lccinstall.DefaultPrefix) }

// checkBackupScripts refuses a bucket, prefix or endpoint the lifecycle scripts
// cannot use.
func checkBackupScripts(b *BackupTarget) error {
	if b == nil {
		return nil
	}
	if _, err := lcc.BackupScript(lcc.Settings{Bucket: b.Bucket, Prefix: b.prefix(), EndpointURL: b.EndpointURL}); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if b.EndpointURL != "" {
		if u, err := url.Parse(b.EndpointURL); err != nil || u.Scheme == "" || u.Host == "" {
			return fmt.Errorf("backup: S3 endpoint %q: want a URL such as http://127.0.0.1:9000", b.EndpointURL)
		}
	}
	return nil
}

// EBSSpace is a space of a plan whose home is on EBS.
type EBSSpace struct {
	Name    string
	AppType string
	OldUID  string
}

// EBSSpaces lists the plan's EBS-backed spaces, by name.
func EBSSpaces(p *studio.Plan) []EBSSpace {
	var out []EBSSpace
	for _, s := range p.Spaces {
		if t := ebsAppType(s.SpaceSettings); t != "" {
			out = append(out, EBSSpace{Name: s.Name, AppType: t, OldUID: s.OldUID})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// EBSProblems are the preflight's problems about EBS-backed spaces in a migrate job:
// without a bucket each would be left behind, an error unless the spec accepts it
// (LeaveEBSSpaces), then a warning. With a bucket there is none.
func EBSProblems(p *studio.Plan, sp Spec) []studio.Problem {
	if sp.Kind != KindMigrate || sp.Backup != nil {
		return nil
	}
	var out []studio.Problem
	for _, s := range EBSSpaces(p) {
		pr := studio.Problem{Severity: studio.SeverityError, Resource: "space/" + s.Name,
			Message: "its home is on an EBS volume (" + s.AppType + " space) and would be LEFT BEHIND: move it through S3 with --bucket, or accept losing it in the new domain with --leave-ebs-spaces"}
		if sp.LeaveEBSSpaces {
			pr.Severity = studio.SeverityWarning
			pr.Message = "its home is on an EBS volume (" + s.AppType + " space) and is LEFT BEHIND (--leave-ebs-spaces): the job lists it as not moved"
		}
		out = append(out, pr)
	}
	return out
}

// BackupChecker is the studio.BackupChecker of a bucket: a space has a completed
// backup when backup.HasComplete finds one. Cleanup (the job's step and `migrator
// cleanup --bucket`) uses it so that no EBS-backed space is deleted without one.
type BackupChecker struct{ Store backup.Store }

// HasCompletedBackup implements studio.BackupChecker.
func (c BackupChecker) HasCompletedBackup(ctx context.Context, domainID, space string) (bool, error) {
	ok, _, err := backup.HasComplete(ctx, c.Store, domainID, backup.Space, space)
	return ok, err
}

var _ studio.BackupChecker = BackupChecker{}

// ebsSince records (once) the moment a step installs its script; markers written
// before it do not count. It returns the recorded moment.
func (r *unitRun) ebsSince(ctx context.Context, field string) (time.Time, error) {
	rdb := r.w.st.rdb
	if err := rdb.HSetNX(ctx, keyJob(r.id), field, nowMS()).Err(); err != nil {
		return time.Time{}, fmt.Errorf("recording the install time of job %s: %w", r.id, err)
	}
	v, err := rdb.HGet(ctx, keyJob(r.id), field).Result()
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the install time of job %s: %w", r.id, err)
	}
	return parseMS(v), nil
}

// ebsHome is one EBS-backed space as a step moves it.
type ebsHome struct {
	EBSSpace
	key string // "space/<name>"
}

// ebsHomes records the plan's EBS-backed spaces as homes of the job (storage ebs),
// keeping what earlier runs recorded, and returns them.
func (r *unitRun) ebsHomes(ctx context.Context, plan *studio.Plan) ([]ebsHome, error) {
	var homes []ebsHome
	pipe := r.w.st.rdb.TxPipeline()
	for _, s := range EBSSpaces(plan) {
		h := ebsHome{EBSSpace: s, key: studio.KindSpace + "/" + s.Name}
		homes = append(homes, h)
		uk := keyUnit(r.id, homeUnit(h.key))
		pipe.HSet(ctx, uk, "kind", studio.KindSpace, "name", s.Name, "oldUid", s.OldUID, "storage", studio.StorageEBS)
		pipe.HSetNX(ctx, uk, "attempt", 1)
		pipe.HSetNX(ctx, uk, "state", HomePending)
		pipe.SAdd(ctx, keyHomes(r.id), h.key)
	}
	if len(homes) == 0 {
		return nil, nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("recording the EBS-backed spaces of job %s: %w", r.id, err)
	}
	return homes, nil
}

// setHome writes fields to an EBS home's unit.
func (r *unitRun) setHome(ctx context.Context, key string, fields ...any) error {
	fields = append(fields, "heartbeat", nowMS())
	if err := r.w.st.rdb.HSet(ctx, keyUnit(r.id, homeUnit(key)), fields...).Err(); err != nil {
		return fmt.Errorf("recording home %s of job %s: %w", key, r.id, err)
	}
	return nil
}

// failHome records an EBS home that cannot be moved, with the reason.
func (r *unitRun) failHome(ctx context.Context, key, reason string) error {
	r.log.Warn("EBS-backed space not moved", "home", key, "reason", reason)
	return r.setHome(ctx, key, "state", HomeFailed, "reason", reason, "error", reason, "finished", nowMS())
}

// ebsMove is what differs between the two steps: where, which script, which marker.
type ebsMove struct {
	domainID   string
	startedKey string // unit field: the job started this space's app
	phase      string
	installed  string // job field: when the script was installed
	// marker returns the marker that ends the wait (nil: not yet) and, for a
	// marker that says the move failed, why.
	marker func(ctx context.Context, name string, since time.Time) (done bool, fields []any, failure string, err error)
	done   []any // unit fields once the marker is there
}

// stepBackupEBS backs up every EBS-backed space of the old domain to the bucket.
func stepBackupEBS(ctx context.Context, r *unitRun) error {
	plan, err := r.plan()
	if err != nil {
		return err
	}
	homes, err := r.ebsHomes(ctx, plan)
	if err != nil || len(homes) == 0 {
		return err
	}
	st, err := r.backupStore(ctx, r.spec.Backup)
	if err != nil {
		return err
	}
	a, err := r.applier(ctx, r.spec.Source)
	if err != nil {
		return err
	}
	since, err := r.ebsSince(ctx, "ebsBackupSince")
	if err != nil {
		return err
	}
	res, err := lccinstall.Install(ctx, a, lccinstall.Options{DomainID: r.spec.SourceDomainID, AppTypes: ebsAppTypes(homes),
		Settings: lcc.Settings{Bucket: st.Bucket, Prefix: st.Prefix, EndpointURL: r.spec.Backup.EndpointURL}})
	if err != nil {
		return studioErr(fmt.Errorf("installing the backup lifecycle configuration on domain %s: %w", r.spec.SourceDomainID, err))
	}
	old := r.spec.SourceDomainID
	m := ebsMove{domainID: old, startedKey: "backupApp", phase: phaseBackingUp,
		marker: func(ctx context.Context, name string, since time.Time) (bool, []any, string, error) {
			mk, err := backup.Latest(ctx, st, old, backup.Space, name)
			if errors.Is(err, backup.ErrNoBackup) {
				return false, nil, "", nil
			}
			if err != nil {
				return false, nil, "", err
			}
			if mk.Started.Before(since.Truncate(time.Second)) { // the scripts write whole seconds
				return false, nil, "", nil
			}
			return true, []any{"phase", phaseBackedUp, "backupRun", mk.Run, "totalFiles", mk.Files, "totalBytes", mk.Bytes}, "", nil
		}}
	return r.moveEBS(ctx, a, res, homes, since, m, func(u unitInfo) bool { return u["backupRun"] != "" })
}

// stepRestoreEBS restores every EBS-backed space into its namesake in the new domain.
func stepRestoreEBS(ctx context.Context, r *unitRun) error {
	plan, d, a, err := r.buildContext(ctx)
	if err != nil {
		return err
	}
	homes, err := r.ebsHomes(ctx, plan)
	if err != nil || len(homes) == 0 {
		return err
	}
	st, err := r.backupStore(ctx, r.spec.Backup)
	if err != nil {
		return err
	}
	since, err := r.ebsSince(ctx, "ebsRestoreSince")
	if err != nil {
		return err
	}
	res, err := lccinstall.Install(ctx, a, lccinstall.Options{DomainID: d.ID, Restore: true, AppTypes: ebsAppTypes(homes),
		Settings: lcc.Settings{Bucket: st.Bucket, Prefix: st.Prefix, EndpointURL: r.spec.Backup.EndpointURL, SourceDomain: r.spec.SourceDomainID}})
	if err != nil {
		return studioErr(fmt.Errorf("installing the restore lifecycle configuration on domain %s: %w", d.ID, err))
	}
	m := ebsMove{domainID: d.ID, startedKey: "restoreApp", phase: phaseRestoring,
		marker: func(ctx context.Context, name string, since time.Time) (bool, []any, string, error) {
			mk, err := latestRestore(ctx, st, d.ID, name)
			if err != nil || mk == nil || mk.Started.Before(since.Truncate(time.Second)) {
				return false, nil, "", err
			}
			fields := []any{"phase", phaseRestored, "restoredRun", mk.Run, "files", mk.Files, "totalFiles", mk.Files}
			switch mk.Status {
			case "complete":
				return true, fields, "", nil
			case "no-backup":
				return true, fields, "the restore found no complete backup of the space under " + backup.Base(st.Prefix, r.spec.SourceDomainID, backup.Space, name), nil
			}
			return true, fields, fmt.Sprintf("the restore of run %s ended %s: %d entries not restored, %d newer local files kept (see the app's restore log, /tmp/studio-migrator-restore.log)", mk.Run, mk.Status, mk.Errors, mk.Kept), nil
		},
		done: []any{"state", HomeSucceeded, "reason", "", "error", "", "finished", nowMS()}}
	uids, err := r.w.st.rdb.HGetAll(ctx, keyUIDMap(r.id)).Result()
	if err != nil {
		return fmt.Errorf("reading the UID map of job %s: %w", r.id, err)
	}
	for _, h := range homes {
		var um studio.UIDMapping
		_ = json.Unmarshal([]byte(uids[h.key]), &um)
		if um.NewUID != "" {
			if err := r.setHome(ctx, h.key, "newUid", um.NewUID); err != nil {
				return err
			}
		}
	}
	return r.moveEBS(ctx, a, res, homes, since, m, func(u unitInfo) bool { return u["state"] == HomeSucceeded })
}

func ebsAppTypes(homes []ebsHome) []string {
	seen := map[string]bool{}
	var out []string
	for _, h := range homes {
		if !seen[h.AppType] {
			seen[h.AppType] = true
			out = append(out, h.AppType)
		}
	}
	sort.Strings(out)
	return out
}

// moveEBS runs one move (backup or restore) for every home not done yet, a few at a
// time. A home that cannot be moved is recorded failed; only what may succeed on a
// retry (Redis, S3, SageMaker errors) fails the step.
func (r *unitRun) moveEBS(ctx context.Context, a *studio.Applier, res *lccinstall.Result, homes []ebsHome, since time.Time, m ebsMove, done func(unitInfo) bool) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(ebsConcurrency)
	for _, h := range homes {
		g.Go(func() error {
			u, err := r.w.st.unit(gctx, r.id, homeUnit(h.key))
			if err != nil {
				return err
			}
			if u["state"] == HomeFailed || done(u) {
				return nil
			}
			return r.moveOne(gctx, a, res.ARN(h.AppType), h, u, since, m)
		})
	}
	return g.Wait()
}

// moveOne starts the space's app (unless it runs, or this job started it already),
// waits for the marker, and stops the app if the job started it.
func (r *unitRun) moveOne(ctx context.Context, a *studio.Applier, lccARN string, h ebsHome, u unitInfo, since time.Time, m ebsMove) error {
	owner := studio.AppOwner{SpaceName: h.Name}
	log := r.log.With("home", h.key, "domain", m.domainID)
	ours := u[m.startedKey] != ""
	if err := r.setHome(ctx, h.key, "state", HomeRunning, "phase", m.phase, "worker", r.w.name, "started", cmpOr(u["started"], nowMS())); err != nil {
		return err
	}
	finish := func(fields []any, failure string) error {
		if ours {
			if err := a.StopApp(ctx, m.domainID, owner, h.AppType, ebsAppName); err != nil {
				return err
			}
		}
		if failure != "" {
			if err := r.setHome(ctx, h.key, fields...); err != nil {
				return err
			}
			return r.failHome(ctx, h.key, failure)
		}
		return r.setHome(ctx, h.key, append(fields, m.done...)...)
	}
	if ok, fields, failure, err := m.marker(ctx, h.Name, since); err != nil {
		return fmt.Errorf("reading the markers of %s: %w", h.key, err)
	} else if ok {
		return finish(fields, failure)
	}
	app, err := a.FindApp(ctx, m.domainID, owner, h.AppType, ebsAppName)
	switch {
	case errors.Is(err, studio.ErrNotFound):
	case err != nil:
		return err
	case app.Live() && !ours && app.Created.Before(since):
		// Started before the script was installed: it runs it only when it
		// restarts, and a restart kills the user's kernels.
		return r.failHome(ctx, h.key, fmt.Sprintf("its app %s has been running since %s, before the lifecycle configuration was installed: "+
			"it runs the script only when it restarts, which would stop the user's kernels, so it was left alone. "+
			"Ask the user to stop it (or run 'migrator backup --via lcc --restart-apps'), then 'migrator jobs retry'", ebsAppName, app.Created.UTC().Format(time.RFC3339)))
	}
	if err == nil && app.Live() {
		log.Info("waiting for the app that runs the script", "ours", ours)
	} else if !(ours && err == nil && app.Status == "Failed") {
		// Recorded before CreateApp: a worker that takes over never starts it twice.
		if err := r.setHome(ctx, h.key, m.startedKey, nowMS()); err != nil {
			return err
		}
		ours = true
		log.Info("starting the space's app to run the lifecycle configuration", "instance_type", studio.SmallestInstanceType[h.AppType])
		err := a.StartApp(ctx, m.domainID, owner, h.AppType, ebsAppName, studio.SmallestInstanceType[h.AppType], lccARN)
		var failed *studio.FailedError
		switch {
		case errors.As(err, &failed):
			return finish(nil, fmt.Sprintf("its app %s failed to start: %s", ebsAppName, failed.Reason))
		case err != nil:
			return err
		}
	}
	return r.waitMarker(ctx, a, h, owner, since, m, finish)
}

// waitMarker polls the marker (and the app, which may fail) until the marker is
// there or EBSTimeout passes.
func (r *unitRun) waitMarker(ctx context.Context, a *studio.Applier, h ebsHome, owner studio.AppOwner, since time.Time, m ebsMove, finish func([]any, string) error) error {
	timeout := r.w.cfg.EBSTimeout
	if timeout <= 0 {
		timeout = DefaultEBSTimeout
	}
	poll := min(max(r.w.cfg.Waiter.PollInterval, 50*time.Millisecond), 5*time.Second)
	if r.w.cfg.Waiter.PollInterval == 0 {
		poll = 5 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		ok, fields, failure, err := m.marker(ctx, h.Name, since)
		if err != nil {
			return fmt.Errorf("reading the markers of %s: %w", h.key, err)
		}
		if ok {
			return finish(fields, failure)
		}
		app, err := a.FindApp(ctx, m.domainID, owner, h.AppType, ebsAppName)
		switch {
		case err == nil && app.Status == "Failed":
			return finish(nil, fmt.Sprintf("its app %s failed: %s", ebsAppName, app.FailureReason))
		case err == nil && !app.Live():
			return finish(nil, fmt.Sprintf("its app %s is %s and no marker was written (the app was stopped before the script finished)", ebsAppName, app.Status))
		case errors.Is(err, studio.ErrNotFound):
			return finish(nil, fmt.Sprintf("its app %s is gone and no marker was written", ebsAppName))
		case err != nil:
			return err
		}
		if time.Now().After(deadline) {
			return finish(nil, fmt.Sprintf("no marker within %s of the app's start (see the app's log, /tmp/studio-migrator-*.log)", timeout))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// latestRestore reads the newest marker restore-home.sh wrote for a space of the
// new domain (<prefix>/<domain>/space/<name>/restored/<time>.json), nil if none.
func latestRestore(ctx context.Context, st backup.Store, domainID, name string) (*backup.Marker, error) {
	prefix := backup.Base(st.Prefix, domainID, backup.Space, name) + "restored/"
	var newest string
	p := s3.NewListObjectsV2Paginator(st.Client, &s3.ListObjectsV2Input{Bucket: aws.String(st.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing s3://%s/%s: %w", st.Bucket, prefix, err)
		}
		for _, o := range page.Contents {
			if k := aws.ToString(o.Key); strings.HasSuffix(k, ".json") && k > newest {
				newest = k
			}
		}
	}
	if newest == "" {
		return nil, nil
	}
	out, err := st.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(st.Bucket), Key: aws.String(newest)})
	if err != nil {
		return nil, fmt.Errorf("reading s3://%s/%s: %w", st.Bucket, newest, err)
	}
	defer out.Body.Close()
	var mk backup.Marker
	if err := json.NewDecoder(out.Body).Decode(&mk); err != nil {
		return nil, fmt.Errorf("reading s3://%s/%s: %w", st.Bucket, newest, err)
	}
	return &mk, nil
}
