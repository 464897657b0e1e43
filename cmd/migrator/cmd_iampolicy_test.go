package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studio-migrator/studio-migrator/internal/cli"
	"github.com/studio-migrator/studio-migrator/internal/studio"
)

func TestIAMPolicyCommand(t *testing.T) {
	s := &studio.Snapshot{
		SchemaVersion: studio.SchemaVersion,
		Region:        "us-east-1",
		Domain: studio.Domain{
			ID: "d-abcdefghijkl", ARN: "arn:aws:sagemaker:us-east-1:111122223333:domain/d-abcdefghijkl",
			Name: "research", AuthMode: "IAM", HomeEfsFileSystemID: "fs-0123456789abcdef0",
			DefaultUserSettings: json.RawMessage(`{"ExecutionRole":"arn:aws:iam::111122223333:role/StudioDefault"}`),
		},
		UserProfiles: []studio.UserProfile{{Name: "alice", HomeEfsFileSystemUID: "200001", ExecutionRole: "arn:aws:iam::111122223333:role/Alice"}},
	}
	b, err := studio.MarshalSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "snapshot.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	g := &cli.Globals{Stdout: &out}
	opts := &iamPolicyOptions{snapshot: path, s3Bucket: "backups", s3Prefix: "studio", efsIDs: []string{"fs-0fedcba9876543210"}}
	if err := runIAMPolicy(context.Background(), g, opts); err != nil {
		t.Fatal(err)
	}
	p, err := studio.IAMPolicy(s, studio.IAMPolicyOptions{S3Bucket: "backups", S3Prefix: "studio", EFSFileSystemIDs: []string{"fs-0fedcba9876543210"}})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := studio.MarshalPolicy(p)
	if out.String() != string(want) {
		t.Errorf("printed policy differs from studio.IAMPolicy's:\n%s", out.String())
	}
	for _, s := range []string{"arn:aws:s3:::backups/studio/*", "file-system/fs-0fedcba9876543210", "role/Alice"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("policy lacks %s", s)
		}
	}

	for _, bad := range []*iamPolicyOptions{
		{},
		{snapshot: path, s3Prefix: "x"},
		{snapshot: path, newAuthMode: "sso-ish"},
		{snapshot: filepath.Join(t.TempDir(), "missing.json")},
	} {
		if err := runIAMPolicy(context.Background(), g, bad); err == nil {
			t.Errorf("options %+v accepted", bad)
		}
	}
}
