package backup_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/studio-migrator/studio-migrator/internal/backup"
)

func TestBucketPolicy(t *testing.T) {
	role := "arn:aws:iam::123456789012:role/StudioExec"
	p, err := backup.BucketPolicy("bk", "/studio/", []string{role})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statement []struct {
			Sid, Effect string
			Resource    []string
			NotResource []string
			Condition   map[string]map[string]any
		}
	}
	if err := json.Unmarshal(p.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, s := range doc.Statement {
		got[s.Sid] = true
		if s.Effect == "Deny" && !strings.Contains(string(mustJSON(s.Condition)), role) {
			t.Errorf("%s denies without scoping to the Studio roles: %v", s.Sid, s.Condition)
		}
		if s.Sid == "StudioSessionsOnlyTheirOwnProfileObjects" {
			if s.NotResource[0] != "arn:aws:s3:::bk/studio/*/profile/${aws:SourceIdentity}/*" {
				t.Errorf("own-prefix resource %q", s.NotResource[0])
			}
		}
		if s.Sid == "StudioSessionsNeedASourceIdentity" && s.Condition["Null"]["aws:SourceIdentity"] != "true" {
			t.Errorf("sessions without a source identity are not denied: %v", s.Condition)
		}
	}
	for _, sid := range []string{"StudioSessionsNeedASourceIdentity", "StudioSessionsOnlyTheirOwnProfileObjects", "StudioSessionsListOnlyTheirOwnProfile"} {
		if !got[sid] {
			t.Errorf("no statement %s", sid)
		}
	}
	for _, bad := range [][]string{nil, {"StudioExec"}, {"arn:aws:iam::1:user/x"}} {
		if _, err := backup.BucketPolicy("bk", "", bad); err == nil {
			t.Errorf("roles %v accepted", bad)
		}
	}
	if _, err := backup.BucketPolicy("bk/x", "", []string{role}); err == nil {
		t.Error("a bucket name with a slash was accepted")
	}
}

func TestWorkerS3Statements(t *testing.T) {
	st := backup.WorkerS3Statements("bk", "studio")
	b := string(mustJSON(st))
	for _, want := range []string{`"arn:aws:s3:::bk"`, `"arn:aws:s3:::bk/studio/*"`, `"s3:prefix":"studio/*"`, `"s3:PutObject"`, `"s3:GetObject"`, `"s3:ListBucket"`} {
		if !strings.Contains(b, want) {
			t.Errorf("worker statements lack %s: %s", want, b)
		}
	}
	if strings.Contains(b, "DeleteObject") {
		t.Errorf("the worker never deletes backups, yet: %s", b)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
