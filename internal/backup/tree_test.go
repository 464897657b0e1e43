//go:build linux

package backup_test

import (
	"context"
	"testing"

	"github.com/studio-migrator/studio-migrator/internal/backup"
	"github.com/studio-migrator/studio-migrator/internal/backup/backuptest"
	"github.com/studio-migrator/studio-migrator/internal/backup/s3test"
	"github.com/studio-migrator/studio-migrator/internal/efs"
)

// invalidName is a file name that is not valid UTF-8 (Latin-1 "café").
const invalidName = backuptest.InvalidName

// desc is what a restore must give back for one entry.
type desc = backuptest.Desc

func makeHome(t *testing.T, root string) { backuptest.MakeHome(t, root) }

func snapshot(t *testing.T, root string, withOwner bool) map[string]desc {
	return backuptest.Describe(t, root, withOwner)
}

func newStore(t *testing.T) (*s3test.Server, backup.Store) {
	srv := s3test.Start(t, "backups")
	return srv, backup.Store{Client: srv.Client(), Bucket: "backups", Prefix: "studio"}
}

func local(t *testing.T, dir string) *efs.Local {
	t.Helper()
	l, err := efs.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func diffTrees(t *testing.T, want, got map[string]desc) {
	t.Helper()
	backuptest.DiffTrees(t, want, got)
}

var ctxBG = context.Background()
