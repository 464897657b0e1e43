package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hibiken/asynq"

	"github.com/studio-migrator/studio-migrator/internal/studio"
)

// errHomesRunning: verify was started while a home had not ended yet (a home's
// last writes and the join raced); it retries shortly, not counted as a failure.
var errHomesRunning = errors.New("homes still running")

// stepHandler returns the asynq handler of a step.
func (w *worker) stepHandler(step string) asynq.HandlerFunc {
	work := map[string]func(context.Context, *unitRun) error{
		StepSnapshot:       stepSnapshot,
		StepPreflight:      stepPreflight,
		StepCreateDomain:   stepCreateDomain,
		StepCreateProfiles: stepCreateProfiles,
		StepCreateSpaces:   stepCreateSpaces,
		StepAssignUsers:    stepAssignUsers,
		StepBackupEBS:      stepBackupEBS,
		StepRestoreEBS:     stepRestoreEBS,
		StepCopyHomes:      stepCopyHomes,
		StepBackupHomes:    stepCopyHomes,
		StepRestoreHomes:   stepCopyHomes,
		StepVerify:         stepVerify,
		StepCleanup:        stepCleanup,
	}[step]
	return func(ctx context.Context, t *asynq.Task) error { return w.runUnit(ctx, t, work) }
}

// permanent marks an error asynq must not retry (bad input: retrying cannot help).
func permanent(err error) error { return fmt.Errorf("%w: %w", err, asynq.SkipRetry) }

// studioErr classifies an error of the studio package: a resource that ended
// Failed, a plan with errors, a missing resource and a cleanup refused for an EBS
// home without a backup are not retried.
func studioErr(err error) error {
	var failed *studio.FailedError
	if errors.As(err, &failed) || errors.Is(err, studio.ErrPlanHasErrors) || errors.Is(err, studio.ErrNotFound) ||
		errors.Is(err, studio.ErrEBSHomeNotBackedUp) {
		return permanent(err)
	}
	return err
}

func (r *unitRun) snapshot() (*studio.Snapshot, error) {
	var s studio.Snapshot
	ok, err := r.job.getJSON("snapshot", &s)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, permanent(errors.New("the job record has no snapshot"))
	}
	return &s, nil
}

func (r *unitRun) plan() (*studio.Plan, error) {
	var p studio.Plan
	ok, err := r.job.getJSON("plan", &p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, permanent(errors.New("the job record has no plan (preflight did not run)"))
	}
	return &p, nil
}

func (r *unitRun) domain() (*studio.DomainResult, error) {
	var d studio.DomainResult
	ok, err := r.job.getJSON("domain", &d)
	if err != nil {
		return nil, err
	}
	if !ok || d.ID == "" {
		return nil, permanent(errors.New("the job record has no new domain (create-domain did not run)"))
	}
	return &d, nil
}

// stepSnapshot reads the old domain as it is now.
func stepSnapshot(ctx context.Context, r *unitRun) error {
	// A restore job reads the domain it restores into (the backups are of another).
	side, domainID := r.spec.Source, r.spec.SourceDomainID
	if r.spec.Kind == KindRestore {
		side, domainID = r.spec.target(), r.spec.TargetDomainID
	}
	cfg, err := r.w.cfg.AWSConfig(ctx, side)
	if err != nil {
		return fmt.Errorf("AWS configuration of the source: %w", err)
	}
	s, err := studio.TakeSnapshot(ctx, studio.NewClients(cfg), domainID, studio.SnapshotOptions{Logger: r.log})
	if errors.Is(err, studio.ErrNotFound) {
		return permanent(fmt.Errorf("domain %s does not exist in %s (check the domain ID, the region and the account): %w",
			domainID, cmpOr(cfg.Region, "the source region"), err))
	}
	if err != nil {
		return studioErr(err)
	}
	r.log.Info("snapshot taken", "profiles", len(s.UserProfiles), "spaces", len(s.Spaces))
	return r.w.st.setJSON(ctx, r.id, "snapshot", s)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// stepPreflight plans the new domain and runs the live checks; a plan with errors
// fails the job with every problem in its error and in the record's plan.
func stepPreflight(ctx context.Context, r *unitRun) error {
	snap, err := r.snapshot()
	if err != nil {
		return err
	}
	cfg, err := r.w.cfg.AWSConfig(ctx, r.spec.target())
	if err != nil {
		return fmt.Errorf("AWS configuration of the target: %w", err)
	}
	plan, err := studio.NewPlan(snap, r.spec.Overrides, studio.PlanOptions{Region: cfg.Region})
	if err != nil {
		return permanent(err)
	}
	if r.w.cfg.Preflight != nil {
		probs, err := r.w.cfg.Preflight(ctx, cfg, plan)
		if err != nil {
			return fmt.Errorf("preflight checks: %w", err)
		}
		plan.Problems = append(plan.Problems, probs...)
	}
	plan.Problems = append(plan.Problems, EBSProblems(plan, r.spec)...)
	if err := r.w.st.setJSON(ctx, r.id, "plan", plan); err != nil {
		return err
	}
	if errs := plan.Errors(); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, p := range errs {
			msgs[i] = p.Resource + ": " + p.Message
		}
		return permanent(fmt.Errorf("the plan has %d errors: %s", len(errs), strings.Join(msgs, "; ")))
	}
	return nil
}

// ebsAppType is the AppType of a space whose home is on EBS (JupyterLab and Code
// Editor spaces of current Studio), "" for one on EFS.
func ebsAppType(settings json.RawMessage) string {
	var s struct{ AppType string }
	_ = json.Unmarshal(settings, &s)
	if s.AppType == "JupyterLab" || s.AppType == "CodeEditor" {
		return s.AppType
	}
	return ""
}

// stepCreateDomain finds or creates the new domain and waits for InService.
func stepCreateDomain(ctx context.Context, r *unitRun) error {
	plan, err := r.plan()
	if err != nil {
		return err
	}
	a, err := r.applier(ctx, r.spec.target())
	if err != nil {
		return err
	}
	d, err := a.CreateDomain(ctx, plan)
	if err != nil {
		return studioErr(err)
	}
	if err := r.w.st.setJSON(ctx, r.id, "domain", d); err != nil {
		return err
	}
	if r.spec.CopyTo != "" {
		to := strings.ReplaceAll(r.spec.CopyTo, "{fs}", d.HomeEfsFileSystemID)
		fields := []any{"copyTo", to}
		if len(r.spec.CopyToMounts) > 0 {
			mounts := make([]string, len(r.spec.CopyToMounts))
			for i, m := range r.spec.CopyToMounts {
				mounts[i] = strings.ReplaceAll(m, "{fs}", d.HomeEfsFileSystemID)
			}
			b, err := json.Marshal(mounts)
			if err != nil {
				return fmt.Errorf("encoding the destination mounts of job %s: %w", r.id, err)
			}
			fields = append(fields, "copyToMounts", string(b))
		}
		if err := r.w.st.rdb.HSet(ctx, keyJob(r.id), fields...).Err(); err != nil {
			return fmt.Errorf("saving the destination of job %s: %w", r.id, err)
		}
	}
	r.log.Info("domain InService", "domain", d.ID, "efs", d.HomeEfsFileSystemID)
	return nil
}

// saveUIDs records old UID -> new UID for the profiles or spaces just ensured.
func (r *unitRun) saveUIDs(ctx context.Context, kind string, old map[string]string, uids map[string]string) error {
	if len(uids) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(uids))
	for name, uid := range uids {
		b, err := json.Marshal(studio.UIDMapping{Kind: kind, Name: name, OldUID: old[name], NewUID: uid})
		if err != nil {
			return err
		}
		args = append(args, kind+"/"+name, b)
	}
	if err := r.w.st.rdb.HSet(ctx, keyUIDMap(r.id), args...).Err(); err != nil {
		return fmt.Errorf("saving the UID map of job %s: %w", r.id, err)
	}
	return nil
}

// buildContext is what the steps that build in the new domain start from: the
// job's plan, the new domain it recorded as its own, and an Applier on the target.
func (r *unitRun) buildContext(ctx context.Context) (*studio.Plan, *studio.DomainResult, *studio.Applier, error) {
	plan, err := r.plan()
	if err != nil {
		return nil, nil, nil, err
	}
	d, err := r.domain()
	if err != nil {
		return nil, nil, nil, err
	}
	a, err := r.applier(ctx, r.spec.target())
	if err != nil {
		return nil, nil, nil, err
	}
	return plan, d, a, nil
}

func stepCreateProfiles(ctx context.Context, r *unitRun) error {
	plan, d, a, err := r.buildContext(ctx)
	if err != nil {
		return err
	}
	uids, err := a.CreateUserProfiles(ctx, plan, d.ID)
	if err != nil {
		return studioErr(err)
	}
	old := map[string]string{}
	for _, p := range plan.UserProfiles {
		old[p.Name] = p.OldUID
	}
	return r.saveUIDs(ctx, studio.KindUserProfile, old, uids)
}

func stepCreateSpaces(ctx context.Context, r *unitRun) error {
	plan, d, a, err := r.buildContext(ctx)
	if err != nil {
		return err
	}
	uids, err := a.CreateSpaces(ctx, plan, d.ID)
	if err != nil {
		return studioErr(err)
	}
	old := map[string]string{}
	for _, s := range plan.Spaces {
		old[s.Name] = s.OldUID
	}
	return r.saveUIDs(ctx, studio.KindSpace, old, uids)
}

func stepAssignUsers(ctx context.Context, r *unitRun) error {
	plan, d, a, err := r.buildContext(ctx)
	if err != nil {
		return err
	}
	return studioErr(a.AssignUsers(ctx, plan, d.ID))
}

// stepCopyHomes fans out: one copy-home task per home on EFS. Homes on EBS and homes
// the snapshot had no UID for are recorded as not moved (and done) at once. A rerun
// keeps what earlier runs recorded and only enqueues again (same task IDs).
func stepCopyHomes(ctx context.Context, r *unitRun) error {
	r.noNext = true
	var homes []homePlan
	var err error
	switch r.spec.Kind {
	case KindBackup, KindRestore:
		homes, err = backupHomes(ctx, r)
	default:
		homes, err = migrateHomes(ctx, r)
	}
	if err != nil {
		return err
	}
	pipe := r.w.st.rdb.TxPipeline()
	keys := make([]any, len(homes))
	for i, h := range homes {
		keys[i] = h.key
		uk := keyUnit(r.id, homeUnit(h.key))
		pipe.HSet(ctx, uk, "kind", h.kind, "name", h.name, "oldUid", h.oldUID, "newUid", h.newUID, "storage", h.storage)
		pipe.HSetNX(ctx, uk, "attempt", 1)
		if h.viaS3 {
			// Its state is restore-ebs's; one it never reached cannot stay pending.
			pipe.HSetNX(ctx, uk, "state", HomeFailed)
			pipe.HSetNX(ctx, uk, "reason", "restore-ebs recorded no outcome for it")
			pipe.SAdd(ctx, keyDone(r.id), h.key)
		} else if h.reason != "" {
			pipe.HSet(ctx, uk, "state", HomeNotMoved, "reason", h.reason)
			pipe.SAdd(ctx, keyDone(r.id), h.key)
		} else {
			pipe.HSetNX(ctx, uk, "state", HomePending)
		}
	}
	if len(keys) > 0 {
		pipe.SAdd(ctx, keyHomes(r.id), keys...)
	}
	pipe.HSet(ctx, keyJob(r.id), "homes", len(homes))
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("recording the homes of job %s: %w", r.id, err)
	}
	queued := 0
	for _, h := range homes {
		if h.reason != "" || h.viaS3 {
			continue
		}
		u, err := r.w.st.unit(ctx, r.id, homeUnit(h.key))
		if err != nil {
			return err
		}
		if finalUnit(u["state"]) {
			continue
		}
		t, err := NewCopyHomeTask(r.id, h.key, r.p.Gen, u.attempt())
		if err != nil {
			return err
		}
		if _, err := r.w.q.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("enqueueing the copy of home %s: %w", h.key, err)
		}
		queued++
	}
	r.log.Info("homes queued", "homes", len(homes), "queued", queued, "not_moved", len(homes)-queued)
	// With nothing to copy (or all done already) no home starts verify: succeed
	// does, once this step is marked succeeded.
	return nil
}

// stepVerify is the join: every home has ended (each verified its own copy); it
// fails the job when a home failed or differs, listing them.
func stepVerify(ctx context.Context, r *unitRun) error {
	homes, err := r.w.st.rdb.SMembers(ctx, keyHomes(r.id)).Result()
	if err != nil {
		return fmt.Errorf("reading the homes of job %s: %w", r.id, err)
	}
	slices.Sort(homes)
	var bad []string
	moved, notMoved := 0, 0
	for _, key := range homes {
		u, err := r.w.st.unit(ctx, r.id, homeUnit(key))
		if err != nil {
			return err
		}
		h := homeStatus(key, u)
		switch h.State {
		case HomeSucceeded:
			if h.Backup != nil {
				if h.Backup.Errors > 0 {
					bad = append(bad, fmt.Sprintf("%s: %d entries could not be read or written (see the worker's log)", key, h.Backup.Errors))
					continue
				}
				moved++
				continue
			}
			if h.Storage == studio.StorageEBS {
				// Moved through S3: restore-home.sh's marker said complete.
				moved++
				continue
			}
			if h.Verify == nil || !h.Verify.OK() {
				bad = append(bad, key+": verify found differences")
				continue
			}
			moved++
		case HomeNotMoved:
			notMoved++
		case HomeFailed:
			bad = append(bad, key+": "+h.Reason)
		default:
			return fmt.Errorf("%w: %s is %s", errHomesRunning, key, h.State)
		}
	}
	r.log.Info("verified", "moved", moved, "not_moved", notMoved, "failed", len(bad))
	if len(bad) > 0 {
		return permanent(fmt.Errorf("%d of %d homes failed (jobs retry copies them again): %s", len(bad), len(homes), strings.Join(bad, "; ")))
	}
	return nil
}

// stepCleanup deletes the old domain (after a verified migration, or as the whole
// job), keeping its EFS unless DeleteEFS.
func stepCleanup(ctx context.Context, r *unitRun) error {
	a, err := r.applier(ctx, r.spec.Source)
	if err != nil {
		return err
	}
	o := studio.CleanupOptions{DeleteHomeEFS: r.spec.DeleteEFS}
	if r.spec.Backup != nil {
		st, err := r.backupStore(ctx, r.spec.Backup)
		if err != nil {
			return err
		}
		o.Backups = BackupChecker{Store: st}
	}
	return studioErr(a.Cleanup(ctx, r.spec.SourceDomainID, o))
}

// homePlan is one home a fan-out records: a reason marks it not moved.
type homePlan struct {
	key, kind, name, oldUID, newUID, storage, reason string
	// viaS3: an EBS-backed space that migrate's backup-ebs and restore-ebs move
	// (its state is theirs), not a home of the fan-out.
	viaS3 bool
}

// migrateHomes are a migrate job's homes: the plan's profiles and spaces with the
// UIDs the new domain gave them.
func migrateHomes(ctx context.Context, r *unitRun) ([]homePlan, error) {
	plan, err := r.plan()
	if err != nil {
		return nil, err
	}
	vals, err := r.w.st.rdb.HGetAll(ctx, keyUIDMap(r.id)).Result()
	if err != nil {
		return nil, fmt.Errorf("reading the UID map of job %s: %w", r.id, err)
	}
	var homes []homePlan
	newUID := func(key string) string {
		var m studio.UIDMapping
		_ = json.Unmarshal([]byte(vals[key]), &m)
		return m.NewUID
	}
	for _, p := range plan.UserProfiles {
		k := studio.KindUserProfile + "/" + p.Name
		homes = append(homes, homePlan{key: k, kind: studio.KindUserProfile, name: p.Name, oldUID: p.OldUID, newUID: newUID(k), storage: "efs"})
	}
	for _, s := range plan.Spaces {
		k := studio.KindSpace + "/" + s.Name
		h := homePlan{key: k, kind: studio.KindSpace, name: s.Name, oldUID: s.OldUID, newUID: newUID(k), storage: "efs"}
		if t := ebsAppType(s.SpaceSettings); t != "" {
			h.storage = "ebs"
			h.reason = "the space's home is on an EBS volume (" + t + "), not on the EFS: move it with the S3 backup and restore"
			if r.spec.Backup != nil {
				// backup-ebs and restore-ebs moved it (or recorded why not).
				h.reason, h.viaS3 = "", true
			}
		}
		homes = append(homes, h)
	}
	for i := range homes {
		h := &homes[i]
		switch {
		case h.reason != "", h.viaS3:
		case h.oldUID == "":
			h.reason = "the snapshot has no home UID for it (a Studio Classic home exists only once an app was opened): nothing to copy"
		case h.newUID == "":
			h.reason = "the new domain has no UID for it"
		}
	}
	return homes, nil
}
