package lccsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/studio-migrator/studio-migrator/internal/backup"
	"github.com/studio-migrator/studio-migrator/internal/efs"
	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

// Runner does what backup-home.sh and restore-home.sh do, against client.
type Runner struct {
	Client backup.S3API
	// Before, if set, is called before each run's work (tests hold a run with it);
	// an error fails the run as a script's non-zero exit would.
	Before func(ctx context.Context, r emulator.LCCRun) error
	Log    *slog.Logger
}

// settings are the variables lcc install wrote into a script.
type settings struct {
	restore                      bool
	bucket, prefix, sourceDomain string
	force                        bool
}

// parse reads the "NAME='value'" lines lcc.Settings writes after the script's
// first line.
func parse(script []byte) (settings, error) {
	var s settings
	s.restore = bytes.Contains(script, []byte("\n# studio-migrator restore-home.sh"))
	s.prefix = "studio-backups"
	for _, line := range strings.Split(string(script), "\n") {
		name, v, ok := strings.Cut(line, "=")
		if !ok || strings.ContainsAny(name, " \t$") {
			continue
		}
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = strings.ReplaceAll(v[1:len(v)-1], `'\''`, "'")
		} else if strings.ContainsAny(v, "${") {
			continue // the script's own defaults: ${BACKUP_PREFIX-...}
		}
		switch name {
		case "BACKUP_BUCKET":
			s.bucket = v
		case "BACKUP_PREFIX":
			s.prefix = v
		case "BACKUP_SOURCE_DOMAIN":
			s.sourceDomain = v
		case "RESTORE_FORCE":
			s.force = v == "1"
		}
	}
	if s.bucket == "" {
		return s, errors.New("the script has no BACKUP_BUCKET setting (not a studio-migrator lifecycle configuration)")
	}
	return s, nil
}

// Run is an emulator.LCCRunner.Run.
func (r *Runner) Run(ctx context.Context, run emulator.LCCRun) error {
	s, err := parse(run.Script)
	if err != nil {
		return err
	}
	if r.Before != nil {
		if err := r.Before(ctx, run); err != nil {
			return err
		}
	}
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kind, name := backup.Profile, run.UserProfileName
	if run.SpaceName != "" {
		kind, name = backup.Space, run.SpaceName
	}
	st := backup.Store{Client: r.Client, Bucket: s.bucket, Prefix: s.prefix}
	home, err := efs.NewLocal(run.Home)
	if err != nil {
		return fmt.Errorf("opening the home %s: %w", run.Home, err)
	}
	defer home.Close()
	opts := backup.Options{Logger: log, Workers: 8}
	if !s.restore {
		m, err := backup.Backup(ctx, home, st, run.DomainID, kind, name, opts)
		if err != nil {
			return fmt.Errorf("backing up %s %s: %w", kind, name, err)
		}
		log.Info("backed up in process", "home", run.Home, "run", m.Run, "files", m.Files)
		return nil
	}
	src := run.DomainID
	if s.sourceDomain != "" {
		src = s.sourceDomain
	}
	if !s.force {
		ents, err := os.ReadDir(run.Home)
		if err != nil {
			return fmt.Errorf("reading the home %s: %w", run.Home, err)
		}
		for _, e := range ents {
			if e.Name() != "lost+found" {
				log.Info("the home is not empty; not restoring", "home", run.Home)
				return nil
			}
		}
	}
	uid, gid := run.UID, run.GID
	if uid < 0 {
		uid, gid = os.Getuid(), os.Getgid()
	}
	started := time.Now().UTC()
	m, err := backup.Restore(ctx, st, src, kind, name, home, uint32(uid), uint32(gid), opts)
	if errors.Is(err, backup.ErrNoBackup) {
		m, err = &backup.Marker{Run: "-", Status: "no-backup"}, nil
	}
	if err != nil {
		return fmt.Errorf("restoring %s %s: %w", kind, name, err)
	}
	m.Writer, m.SourceDomain, m.Started, m.Finished = "lcc", src, started, time.Now().UTC()
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	key := backup.Base(s.prefix, run.DomainID, kind, name) + "restored/" + m.Finished.Format("20060102T150405.000000000Z") + ".json"
	if _, err := r.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key),
		Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))), ContentType: aws.String("application/json")}); err != nil {
		return fmt.Errorf("writing the restore marker s3://%s/%s: %w", s.bucket, key, err)
	}
	log.Info("restored in process", "home", run.Home, "run", m.Run, "files", m.Files, "status", m.Status)
	return nil
}
