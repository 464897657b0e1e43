package jobs

// Backup and restore jobs, and migrate's copy from an S3 backup: the homes of a
// domain go to or come from the layout of internal/backup (the one the lifecycle
// scripts write too), one home per task, through the fan-out, leases, takeover and
// join of copy-homes. Only the body of a home differs (home.go picks it).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/studio-migrator/studio-migrator/internal/backup"
	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/location"
	"github.com/studio-migrator/studio-migrator/internal/studio"
)

// DefaultHomeGID is the group a restored home gets when the job names none and the
// new home does not exist yet: Studio creates EFS homes as <uid>:1001 (the
// emulator's HomeGID is the same). A backup does not record owners, so there is no
// old group to keep as the EFS copy does.
const DefaultHomeGID = 1001

// layoutKind is the layout's name for a home's kind ("user-profile" -> "profile").
func layoutKind(kind string) (backup.Kind, error) {
	switch kind {
	case studio.KindUserProfile:
		return backup.Profile, nil
	case studio.KindSpace:
		return backup.Space, nil
	}
	return "", fmt.Errorf("home kind %q: want %s or %s", kind, studio.KindUserProfile, studio.KindSpace)
}

// checkBackupTarget refuses a store no worker could use.
func checkBackupTarget(flag string, t *BackupTarget) error {
	if t == nil || t.Bucket == "" {
		return fmt.Errorf("%s: the S3 bucket is required", flag)
	}
	return nil
}

// backupStore opens the S3 store of t with the worker's own credentials; the
// region is t's, else the source side's.
func (r *unitRun) backupStore(ctx context.Context, t *BackupTarget) (backup.Store, error) {
	if err := checkBackupTarget("backup store", t); err != nil {
		return backup.Store{}, permanent(err)
	}
	cfg, err := r.w.cfg.AWSConfig(ctx, AWSTarget{Region: cmpOr(t.Region, r.spec.Source.Region), Profile: r.spec.Source.Profile})
	if err != nil {
		return backup.Store{}, fmt.Errorf("AWS configuration for S3: %w", err)
	}
	return backup.Store{Client: backup.NewS3Client(cfg, t.EndpointURL, r.spec.Workers), Bucket: t.Bucket, Prefix: t.Prefix}, nil
}

// s3Err classifies an error of the backup package: a missing bucket, a bad
// manifest and a home without a backup are not retried.
func s3Err(err error) error {
	if errors.Is(err, backup.ErrNoSuchBucket) || errors.Is(err, backup.ErrBadManifest) || errors.Is(err, backup.ErrNoBackup) {
		return permanent(err)
	}
	return err
}

// backupHomes are a backup or restore job's homes: the profiles and spaces of the
// domain its snapshot step read. EBS-backed spaces are the lifecycle scripts' to
// move; a restore lists the homes without a complete backup as not restored.
func backupHomes(ctx context.Context, r *unitRun) ([]homePlan, error) {
	snap, err := r.snapshot()
	if err != nil {
		return nil, err
	}
	restore := r.spec.Kind == KindRestore
	var homes []homePlan
	add := func(kind, name, uid, appType string) {
		h := homePlan{key: kind + "/" + name, kind: kind, name: name, storage: "efs"}
		if restore {
			h.newUID = uid
		} else {
			h.oldUID = uid
		}
		switch {
		case appType != "" && restore:
			h.storage = "ebs"
			h.reason = "restored by the LCC: the space's home is on an EBS volume (" + appType + "); 'migrator lcc install --restore' restores it when its app starts"
		case appType != "":
			h.storage = "ebs"
			h.reason = "backed up by the LCC: the space's home is on an EBS volume (" + appType + "), which only its running app can read ('migrator lcc install')"
		case uid == "":
			h.reason = "the domain has no home UID for it (a Studio Classic home exists only once an app was opened): nothing to move"
		}
		homes = append(homes, h)
	}
	for _, p := range snap.UserProfiles {
		add(studio.KindUserProfile, p.Name, p.HomeEfsFileSystemUID, "")
	}
	for _, s := range snap.Spaces {
		add(studio.KindSpace, s.Name, s.HomeEfsFileSystemUID, ebsAppType(s.SpaceSettings))
	}
	if !restore {
		return homes, nil
	}
	st, err := r.backupStore(ctx, r.spec.Backup)
	if err != nil {
		return nil, err
	}
	if err := backup.CheckStore(ctx, st); err != nil {
		return nil, s3Err(err)
	}
	for i := range homes {
		h := &homes[i]
		if h.reason != "" {
			continue
		}
		k, err := layoutKind(h.kind)
		if err != nil {
			return nil, permanent(err)
		}
		ok, _, err := backup.HasComplete(ctx, st, r.spec.SourceDomainID, k, h.name)
		if err != nil {
			return nil, fmt.Errorf("looking for a backup of %s in %s: %w", h.key, st, s3Err(err))
		}
		if !ok {
			h.reason = fmt.Sprintf("not restored: no complete backup of %s under domain %s in %s", h.key, r.spec.SourceDomainID, st)
			r.log.Warn("no backup to restore", "home", h.key)
		}
	}
	return homes, nil
}

// homeProgress writes a backup's or restore's progress to the home's record about
// once a second (best effort: a missed update only delays the display).
func (r *unitRun) homeProgress(ctx context.Context) func(backup.Progress) {
	uk := keyUnit(r.id, homeUnit(r.p.Home))
	start := time.Now()
	return func(p backup.Progress) {
		rate := float64(p.TransferredBytes) / max(time.Since(start).Seconds(), 0.001)
		_ = r.w.st.rdb.HSet(ctx, uk, "files", p.Files, "bytes", p.Bytes, "rate", rate, "errors", p.Errors).Err()
	}
}

// recordMarker keeps a backup's or restore's marker as the home's final report.
func (r *unitRun) recordMarker(m *backup.Marker) {
	b, _ := json.Marshal(m)
	r.fields = append(r.fields, "backup", string(b), "files", m.Files, "bytes", m.Bytes, "errors", m.Errors)
}

// backupHome backs up <copy-from>/<uid> as a new run of the home in the layout
// (domain: the job's SourceDomainID). A rerun after a takeover or a retry sends only
// what the newest complete backup and the interrupted run do not hold already.
func backupHome(ctx context.Context, r *unitRun) error {
	u, err := r.w.st.unit(ctx, r.id, homeUnit(r.p.Home))
	if err != nil {
		return err
	}
	kind, err := layoutKind(u["kind"])
	if err != nil {
		return permanent(err)
	}
	if u["oldUid"] == "" {
		return permanent(errors.New("no home UID"))
	}
	src, srcLoc, err := r.openOldHome(ctx, u["oldUid"])
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := r.backupStore(ctx, r.spec.Backup)
	if err != nil {
		return err
	}
	if err := backup.CheckStore(ctx, st); err != nil {
		return s3Err(err)
	}
	uk := keyUnit(r.id, homeUnit(r.p.Home))
	stopCount := r.countBeside(ctx, src, uk)
	defer stopCount()
	log := r.log.With("from", srcLoc.String(), "to", st.String())
	m, err := backup.Backup(ctx, src, st, r.spec.SourceDomainID, kind, u["name"], backup.Options{
		Workers: r.spec.Workers, Logger: log, Progress: r.homeProgress(ctx)})
	if err != nil {
		return s3Err(fmt.Errorf("backing up %s: %w", srcLoc, err))
	}
	r.recordMarker(m)
	log.Info("home backed up", "run", m.Run, "files", m.Files, "bytes", m.Bytes, "uploaded", m.Uploaded,
		"uploaded_bytes", m.UploadedBytes, "errors", m.Errors)
	return nil
}

// restoreHome restores the newest complete backup of the home (under the job's
// SourceDomainID) into <copy-to>/<newUID>, every entry owned by the new UID. A
// rerun fetches only the files not restored yet.
func restoreHome(ctx context.Context, r *unitRun) error {
	u, err := r.w.st.unit(ctx, r.id, homeUnit(r.p.Home))
	if err != nil {
		return err
	}
	kind, err := layoutKind(u["kind"])
	if err != nil {
		return permanent(err)
	}
	uid64, err := strconv.ParseUint(u["newUid"], 10, 32)
	if err != nil || uid64 == 0 {
		return permanent(fmt.Errorf("new UID %q is not a positive number", u["newUid"]))
	}
	uid := uint32(uid64)
	target, toStr := r.spec.Backup, r.spec.CopyTo
	if r.spec.Kind == KindMigrate {
		target, toStr = r.spec.CopyFromBackup, r.job["copyTo"]
	}
	to, err := location.Parse(toStr)
	if err != nil {
		return permanent(fmt.Errorf("restore destination %q: %w", toStr, err))
	}
	st, err := r.backupStore(ctx, target)
	if err != nil {
		return err
	}
	if err := backup.CheckStore(ctx, st); err != nil {
		return s3Err(err)
	}
	latest, err := backup.Latest(ctx, st, r.spec.SourceDomainID, kind, u["name"])
	if err != nil {
		return s3Err(fmt.Errorf("finding the backup of %s: %w", r.p.Home, err))
	}
	uk := keyUnit(r.id, homeUnit(r.p.Home))
	_ = r.w.st.rdb.HSet(ctx, uk, "totalFiles", latest.Files, "totalBytes", latest.Bytes).Err()

	var gid uint32
	dst, dstLoc, err := r.openNewHome(ctx, to, u["newUid"], uid, func(parent efs.FS) uint32 {
		switch {
		case r.spec.GID != nil:
			gid = *r.spec.GID
		default:
			// Keep the group of a home the new domain created already; else Studio's.
			gid = DefaultHomeGID
			if inf, err := parent.Lstat(ctx, u["newUid"]); err == nil && inf.Mode.IsDir() && inf.UID == uid {
				gid = inf.GID
			}
		}
		return gid
	})
	if err != nil {
		return err
	}
	defer dst.Close()
	log := r.log.With("from", st.String(), "to", dstLoc.String(), "uid", uid, "gid", gid)
	m, err := backup.Restore(ctx, st, r.spec.SourceDomainID, kind, u["name"], dst, uid, gid, backup.Options{
		Workers: r.spec.Workers, Logger: log, Run: latest.Run, Progress: r.homeProgress(ctx)})
	if err != nil {
		return s3Err(fmt.Errorf("restoring %s into %s: %w", r.p.Home, dstLoc, err))
	}
	r.recordMarker(m)
	log.Info("home restored", "run", m.Run, "files", m.Files, "bytes", m.Bytes, "downloaded", m.Downloaded,
		"kept", m.Kept, "errors", m.Errors)
	return nil
}
