package studio

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// policySnapshot is a small domain with a default role, a default space role, two
// profiles with their own roles and one using the default.
func policySnapshot(authMode string) *Snapshot {
	return &Snapshot{
		SchemaVersion: SchemaVersion,
		Region:        "eu-west-1",
		Domain: Domain{
			ID: "d-abcdefghijkl", ARN: "arn:aws:sagemaker:eu-west-1:111122223333:domain/d-abcdefghijkl",
			Name: "research", AuthMode: authMode, VpcID: "vpc-0a1b2c3d4e5f60718",
			KmsKeyID:             "1234abcd-12ab-34cd-56ef-1234567890ab",
			HomeEfsFileSystemID:  "fs-0123456789abcdef0",
			DefaultUserSettings:  json.RawMessage(`{"ExecutionRole":"arn:aws:iam::111122223333:role/StudioDefault","SecurityGroups":["sg-0123456789abcdef0"]}`),
			DefaultSpaceSettings: json.RawMessage(`{"ExecutionRole":"arn:aws:iam::111122223333:role/StudioSpaces"}`),
		},
		UserProfiles: []UserProfile{
			{Name: "alice", HomeEfsFileSystemUID: "200001", ExecutionRole: "arn:aws:iam::111122223333:role/Alice", UserSettings: json.RawMessage(`{"ExecutionRole":"arn:aws:iam::111122223333:role/Alice"}`)},
			{Name: "bob", HomeEfsFileSystemUID: "200002", ExecutionRole: "arn:aws:iam::111122223333:role/StudioDefault"},
			{Name: "carol", HomeEfsFileSystemUID: "200003"},
		},
	}
}

func TestIAMPolicyGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *Snapshot
		o    IAMPolicyOptions
	}{
		{"iam_minimal", policySnapshot("IAM"), IAMPolicyOptions{}},
		{"sso_s3_efs_cleanup", policySnapshot("SSO"), IAMPolicyOptions{
			S3Bucket: "backups", S3Prefix: "/studio/research/", EFSFileSystemIDs: []string{"fs-0fedcba9876543210"},
			AllowCleanup: true, KMSKeyIDs: []string{"arn:aws:kms:eu-west-1:111122223333:key/new"},
		}},
		{"iam_to_sso_known_domain", policySnapshot("IAM"), IAMPolicyOptions{NewAuthMode: "SSO", NewDomainID: "d-newnewnewnew"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := IAMPolicy(tc.s, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := MarshalPolicy(p)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "iampolicy_"+tc.name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("policy differs from %s (-want +got):\n%s", golden, diff)
			}
			checkPolicyInvariants(t, tc.s, tc.o, p)
		})
	}
}

// checkPolicyInvariants states the least-privilege rules the golden files must keep.
func checkPolicyInvariants(t *testing.T, s *Snapshot, o IAMPolicyOptions, p *PolicyDocument) {
	t.Helper()
	sids := map[string]PolicyStatement{}
	for _, st := range p.Statement {
		sids[st.Sid] = st
		for _, a := range st.Action {
			if strings.Contains(a, "*") {
				t.Errorf("%s: wildcard action %s", st.Sid, a)
			}
		}
		if slices.Contains(st.Resource, "*") && !strings.HasPrefix(st.Sid, "SageMakerList") && st.Sid != "IdentityCenterInstances" && st.Sid != "IdentityCenterDomainApplication" &&
			st.Sid != "PreflightReadNetwork" && st.Sid != "PreflightReadQuotas" { // EC2 Describe* and ListServiceQuotas take no resource scoping
			t.Errorf("%s: Resource * on actions that can be scoped", st.Sid)
		}
	}
	pass := sids["PassExecutionRoles"]
	wantRoles := []string{"arn:aws:iam::111122223333:role/Alice", "arn:aws:iam::111122223333:role/StudioDefault", "arn:aws:iam::111122223333:role/StudioSpaces"}
	if diff := cmp.Diff(wantRoles, pass.Resource); diff != "" {
		t.Errorf("PassRole resources (-want +got):\n%s", diff)
	}
	if pass.Condition["StringEquals"]["iam:PassedToService"] != "sagemaker.amazonaws.com" {
		t.Errorf("PassRole condition %v", pass.Condition)
	}
	create := sids["SageMakerCreateTagged"]
	if !slices.Contains(create.Action, "sagemaker:CreateDomain") || create.Condition["Null"]["aws:RequestTag/"+JobTagKey] != "false" {
		t.Errorf("CreateDomain is not conditioned on the job tag: %+v", create)
	}
	_, hasSSO := sids["IdentityCenterAssignments"]
	if wantSSO := s.Domain.AuthMode == "SSO" || o.NewAuthMode == "SSO"; hasSSO != wantSSO {
		t.Errorf("Identity Center statements present %v, want %v", hasSSO, wantSSO)
	}
	_, hasCleanup := sids["SageMakerCleanupOldDomain"]
	if hasCleanup != o.AllowCleanup {
		t.Errorf("cleanup statement present %v, want %v", hasCleanup, o.AllowCleanup)
	}
	efs := sids["EFSHomeCopy"]
	if !slices.Contains(efs.Action, "elasticfilesystem:ClientRootAccess") || len(efs.Resource) != 1+len(o.EFSFileSystemIDs) {
		t.Errorf("EFS statement %+v", efs)
	}
	for _, st := range p.Statement {
		for _, r := range st.Resource {
			if strings.Contains(r, "sagemaker") && !strings.Contains(r, ":111122223333:") {
				t.Errorf("%s: resource %s outside the account", st.Sid, r)
			}
		}
	}
}

func TestIAMPolicyNeedsAnAccount(t *testing.T) {
	s := policySnapshot("IAM")
	s.Domain.ARN = ""
	if _, err := IAMPolicy(s, IAMPolicyOptions{}); err == nil {
		t.Error("a policy without an account was produced")
	}
	p, err := IAMPolicy(s, IAMPolicyOptions{AccountID: "444455556666"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Statement[2].Resource[0], ":444455556666:") {
		t.Errorf("account not used: %v", p.Statement[2].Resource)
	}
}

// CreateDomain passes the RStudio domain execution role too: without iam:PassRole on
// it the generated policy's CreateDomain is denied.
func TestIAMPolicyPassesTheRStudioDomainRole(t *testing.T) {
	s := policySnapshot("IAM")
	const rstudio = "arn:aws:iam::111122223333:role/RStudioDomain"
	s.Domain.DomainSettings = json.RawMessage(`{"RStudioServerProDomainSettings":{"DomainExecutionRoleArn":"` + rstudio + `"}}`)
	p, err := IAMPolicy(s, IAMPolicyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range p.Statement {
		if st.Sid == "PassExecutionRoles" {
			if !slices.Contains(st.Resource, rstudio) {
				t.Errorf("PassExecutionRoles resources %v: want %s", st.Resource, rstudio)
			}
			return
		}
	}
	t.Error("no PassExecutionRoles statement")
}
