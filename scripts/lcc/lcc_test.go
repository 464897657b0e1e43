package lcc

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studio-migrator/studio-migrator/internal/testutil"
)

// TestScriptsWithSettings: the filled-in scripts keep their settings (quoted), pass
// bash -n and shellcheck, and fit the LCC limit; bad settings are refused.
func TestScriptsWithSettings(t *testing.T) {
	sc := testutil.RequireBinary(t, "apt-get install shellcheck", "shellcheck")
	s := Settings{Bucket: "my-backups", Prefix: "studio/it's", HomeDir: "/home/sagemaker-user", SourceDomain: "d-abc", Interval: 900, Force: true}
	b, err := BackupScript(s)
	if err != nil {
		t.Fatal(err)
	}
	r, err := RestoreScript(s)
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"backup": b, "restore": r} {
		if !strings.Contains(text, `BACKUP_PREFIX='studio/it'\''s'`) || !strings.HasPrefix(text, "#!/bin/bash\n") {
			t.Errorf("%s: settings not filled in as expected:\n%.400s", name, text)
		}
		if n := base64.StdEncoding.EncodedLen(len(text)); n > MaxContent {
			t.Errorf("%s: %d base64 characters", name, n)
		}
		p := filepath.Join(t.TempDir(), name+".sh")
		os.WriteFile(p, []byte(text), 0o755)
		if out, err := exec.Command("bash", "-n", p).CombinedOutput(); err != nil {
			t.Errorf("%s: bash -n: %v\n%s", name, err, out)
		}
		if out, err := exec.Command(sc, p).CombinedOutput(); err != nil {
			t.Errorf("%s: shellcheck: %v\n%s", name, err, out)
		}
	}
	if !strings.Contains(b, "BACKUP_INTERVAL=900") || strings.Contains(b, "RESTORE_FORCE") || !strings.Contains(r, "RESTORE_FORCE=1") {
		t.Error("backup/restore-only settings in the wrong script")
	}
	for _, bad := range []Settings{{}, {Bucket: "UPPER"}, {Bucket: "ok-bucket", Prefix: "a\nb"}, {Bucket: "ok-bucket", Interval: -1}} {
		if _, err := BackupScript(bad); err == nil {
			t.Errorf("settings %+v accepted", bad)
		}
	}
	if _, err := BackupScript(Settings{Bucket: "ok-bucket", Excludes: strings.Repeat("x", MaxContent)}); err == nil || !strings.Contains(err.Error(), "LCC limit") {
		t.Errorf("an oversized script: err %v", err)
	}
}
