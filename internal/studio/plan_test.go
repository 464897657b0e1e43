package studio

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// iamSnapshot is a small IAM domain: two profiles with homes, one with its own
// security groups, a shared and a private space.
func iamSnapshot() *Snapshot {
	return &Snapshot{
		SchemaVersion: SchemaVersion, Region: "us-east-1", AccountID: testAccount,
		Domain: Domain{
			ID: "d-old000000001", Name: "research", AuthMode: "IAM",
			VpcID: "vpc-0a1b2c3d4e5f60718", SubnetIDs: []string{"subnet-0123456789abcdef0"},
			AppNetworkAccessType: "PublicInternetOnly", HomeEfsFileSystemID: "fs-0123456789abcdef0",
			DefaultUserSettings:  raw(`{"ExecutionRole":"` + role("Default") + `","SecurityGroups":["sg-0aaaaaaaaaaaaaaa1"],"FutureMember":1}`),
			DefaultSpaceSettings: raw(`{"ExecutionRole":"` + role("Spaces") + `","SecurityGroups":["sg-0aaaaaaaaaaaaaaa1"]}`),
			DomainSettings:       raw(`{"SecurityGroupIds":["sg-0bbbbbbbbbbbbbbb2"],"ExecutionRoleIdentityConfig":"USER_PROFILE_NAME"}`),
			Tags:                 []Tag{{"team", "research"}, {JobTagKey, "job-old"}},
		},
		UserProfiles: []UserProfile{
			{Name: "bob", HomeEfsFileSystemUID: "200002", Status: "InService", Tags: []Tag{{"studiouserid", "bob"}}},
			{Name: "alice", HomeEfsFileSystemUID: "200001", Status: "InService", ExecutionRole: role("Alice"),
				UserSettings: raw(`{"ExecutionRole":"` + role("Alice") + `","SecurityGroups":["sg-0ccccccccccccccc3"]}`),
				Tags:         []Tag{{"studiouserid", "alice"}, {"aws:cloudformation:stack-name", "x"}}},
		},
		Spaces: []Space{
			{Name: "team", HomeEfsFileSystemUID: "200003", Status: "InService", OwnerUserProfileName: "alice", SharingType: "Shared", AppType: "JupyterLab",
				OwnershipSettings: raw(`{"OwnerUserProfileName":"alice"}`), SpaceSharingSettings: raw(`{"SharingType":"Shared"}`), SpaceSettings: raw(`{"AppType":"JupyterLab"}`)},
			{Name: "bob-code", HomeEfsFileSystemUID: "200004", Status: "InService", OwnerUserProfileName: "bob", SharingType: "Private", AppType: "CodeEditor",
				OwnershipSettings: raw(`{"OwnerUserProfileName":"bob"}`), SpaceSharingSettings: raw(`{"SharingType":"Private"}`), SpaceSettings: raw(`{"AppType":"CodeEditor"}`)},
		},
	}
}

// ssoSnapshot is an Identity Center domain with trusted identity propagation.
func ssoSnapshot() *Snapshot {
	return &Snapshot{
		SchemaVersion: SchemaVersion, Region: "us-east-1",
		Domain: Domain{
			ID: "d-old000000002", Name: "sso-studio", AuthMode: "SSO",
			VpcID: "vpc-0a1b2c3d4e5f60718", SubnetIDs: []string{"subnet-0123456789abcdef0"},
			HomeEfsFileSystemID: "fs-0123456789abcdef1",
			DefaultUserSettings: raw(`{"ExecutionRole":"` + role("SSODefault") + `"}`),
			DomainSettings:      raw(`{"ExecutionRoleIdentityConfig":"USER_PROFILE_NAME","TrustedIdentityPropagationSettings":{"Status":"ENABLED"}}`),
		},
		UserProfiles: []UserProfile{
			{Name: "dana", HomeEfsFileSystemUID: "200001", SingleSignOnUserIdentifier: "UserName", SingleSignOnUserValue: "dana@example.com"},
			{Name: "eve", HomeEfsFileSystemUID: "200002", SingleSignOnUserIdentifier: "UserName", SingleSignOnUserValue: "eve@example.com"},
		},
		Spaces: []Space{
			{Name: "dana-lab", HomeEfsFileSystemUID: "200003", OwnerUserProfileName: "dana", SharingType: "Private", AppType: "JupyterLab",
				OwnershipSettings: raw(`{"OwnerUserProfileName":"dana"}`), SpaceSharingSettings: raw(`{"SharingType":"Private"}`), SpaceSettings: raw(`{"AppType":"JupyterLab"}`)},
		},
	}
}

// problemKeys projects problems to "severity resource" for cmp, and keeps the
// messages to check their advice.
func problemKeys(ps []Problem) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, string(p.Severity)+" "+p.Resource)
	}
	return out
}

func TestNewPlanProblems(t *testing.T) {
	sameName := "warning domain" // the default: new name == old name, same region
	tests := []struct {
		name     string
		snap     func() *Snapshot
		o        Overrides
		opts     PlanOptions
		want     []string // "severity resource", in plan order
		messages []string // substrings some problem must contain
	}{
		{
			name: "iam unchanged",
			snap: iamSnapshot,
			o:    Overrides{},
			want: []string{sameName, "warning user-profile/alice"},
			// alice's reserved aws: tag is dropped, with a warning.
			messages: []string{"same name", "aws:cloudformation:stack-name"},
		},
		{
			name: "new name, other region",
			snap: iamSnapshot,
			o:    Overrides{DomainName: "research-v2"},
			opts: PlanOptions{Region: "eu-west-1"},
			want: []string{"warning user-profile/alice"},
		},
		{
			name: "malformed overrides",
			snap: iamSnapshot,
			o: Overrides{DomainName: "bad name!", VpcID: "vpc-xyz", SubnetIDs: []string{"sub-1"}, SecurityGroupIDs: []string{"group"},
				KmsKeyID: "not a key", AppNetworkAccessType: "Open", AuthMode: "LDAP"},
			want: []string{"error domain", "error domain", "error domain", "error domain", "error domain", "error domain", "error domain", "warning user-profile/alice"},
			messages: []string{`domain name "bad name!"`, `auth mode "LDAP"`, `"Open"`, `VPC ID "vpc-xyz"`, `subnet ID "sub-1"`,
				`security group ID "group"`, `KMS key "not a key"`},
		},
		{
			name:     "new VPC without subnets or security groups",
			snap:     iamSnapshot,
			o:        Overrides{DomainName: "v2", VpcID: "vpc-0123456789abcdef0"},
			want:     []string{"error domain", "error domain", "warning user-profile/alice"},
			messages: []string{"pass --subnet-ids with subnets of vpc-0123456789abcdef0", "sg-0aaaaaaaaaaaaaaa1, sg-0bbbbbbbbbbbbbbb2, sg-0ccccccccccccccc3"},
		},
		{
			name: "new VPC with subnets and security groups",
			snap: iamSnapshot,
			o: Overrides{DomainName: "v2", VpcID: "vpc-0123456789abcdef0", SubnetIDs: []string{"subnet-11111111", "subnet-22222222"},
				SecurityGroupIDs: []string{"sg-0ddddddddddddddd4"}, KmsKeyID: "alias/studio", AppNetworkAccessType: "VpcOnly"},
			want: []string{"warning user-profile/alice"},
		},
		{
			name:     "VpcOnly without any security group",
			snap:     func() *Snapshot { s := ssoSnapshot(); s.Domain.AuthMode = "SSO"; return s },
			o:        Overrides{DomainName: "v2", AppNetworkAccessType: "VpcOnly"},
			want:     []string{"error domain"},
			messages: []string{"VpcOnly network access needs security groups"},
		},
		{
			name: "VpcOnly with security groups only in DomainSettings",
			snap: func() *Snapshot {
				s := iamSnapshot()
				s.Domain.DefaultUserSettings = raw(`{"ExecutionRole":"` + role("Default") + `"}`)
				return s
			},
			o:        Overrides{DomainName: "v2", AppNetworkAccessType: "VpcOnly"},
			want:     []string{"error domain", "warning user-profile/alice"},
			messages: []string{"security groups in DefaultUserSettings"},
		},
		{
			name: "IAM to SSO with partial mapping",
			snap: iamSnapshot,
			o:    Overrides{DomainName: "v2", AuthMode: "SSO", UserMapping: map[string]string{"alice": "alice@example.com", "zed": "zed@example.com"}},
			want: []string{
				"error domain",               // bob has no mapping
				"error user-profile/zed",     // mapping names an unknown profile
				"warning domain",             // auth mode changes
				"warning user-profile/alice", // aws: tag
			},
			messages: []string{"missing for 1: bob", "--user-mapping", `user profile "zed", which is not in the snapshot`},
		},
		{
			name:     "IAM to SSO, two profiles on one user",
			snap:     iamSnapshot,
			o:        Overrides{DomainName: "v2", AuthMode: "SSO", UserMapping: map[string]string{"alice": "Same@example.com", "bob": "same@example.com"}},
			want:     []string{"error domain", "warning domain", "warning user-profile/alice"},
			messages: []string{`mapped to 2 user profiles (alice, bob)`},
		},
		{
			name: "SSO stays SSO",
			snap: ssoSnapshot,
			o:    Overrides{DomainName: "v2"},
			want: []string{},
		},
		{
			name:     "SSO to IAM",
			snap:     ssoSnapshot,
			o:        Overrides{DomainName: "v2", AuthMode: "IAM"},
			want:     []string{"warning domain", "warning domain", "warning domain"},
			messages: []string{"trusted identity propagation is turned off", "the Identity Center users of 2 user profiles are dropped (dana, eve)", "changes from SSO to IAM"},
		},
		{
			name: "SSO domain with classic and shared spaces",
			snap: func() *Snapshot {
				s := ssoSnapshot()
				s.Spaces = append(s.Spaces,
					Space{Name: "classic", HomeEfsFileSystemUID: "200010"},
					Space{Name: "shared", HomeEfsFileSystemUID: "200011", OwnerUserProfileName: "eve", SharingType: "Shared", AppType: "JupyterLab"})
				return s
			},
			o: Overrides{DomainName: "v2"},
			// Shared spaces are allowed on SSO domains (see spaceSpecs); Studio Classic
			// spaces get a warning.
			want:     []string{"warning space/classic"},
			messages: []string{"a Studio Classic space"},
		},
		{
			name: "SSO profile without a user",
			snap: func() *Snapshot { s := ssoSnapshot(); s.UserProfiles[1].SingleSignOnUserValue = ""; return s },
			o:    Overrides{DomainName: "v2"},
			want: []string{"error domain"},
		},
		{
			name: "no UID, failed, unknown owner",
			snap: func() *Snapshot {
				s := iamSnapshot()
				s.UserProfiles[0].HomeEfsFileSystemUID = ""
				s.UserProfiles[1].Status = "Failed"
				s.Spaces[1].OwnerUserProfileName = "ghost"
				s.Spaces[1].Status = "Deleting"
				return s
			},
			o:        Overrides{DomainName: "v2"},
			want:     []string{"error space/bob-code", "warning space/bob-code", "warning user-profile/alice", "warning user-profile/alice", "warning user-profile/bob"},
			messages: []string{`owner "ghost"`, "no home directory to copy", "status Failed", "status Deleting"},
		},
		{
			name:     "mapping given for an IAM target",
			snap:     iamSnapshot,
			o:        Overrides{DomainName: "v2", UserMapping: map[string]string{"alice": "a"}},
			want:     []string{"warning domain", "warning user-profile/alice"},
			messages: []string{"the user mapping is ignored"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlan(tc.snap(), tc.o, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, problemKeys(p.Problems)); d != "" {
				t.Errorf("problems (-want +got):\n%s\nall: %+v", d, p.Problems)
			}
			var all strings.Builder
			for _, pr := range p.Problems {
				all.WriteString(pr.Message + "\n")
			}
			for _, m := range tc.messages {
				if !strings.Contains(all.String(), m) {
					t.Errorf("no problem says %q; problems:\n%s", m, all.String())
				}
			}
		})
	}
}

func TestNewPlanSpecs(t *testing.T) {
	s := iamSnapshot()
	sgs := []string{"sg-0ddddddddddddddd4", "sg-0eeeeeeeeeeeeeee5"}
	p, err := NewPlan(s, Overrides{
		DomainName: "research-v2", VpcID: "vpc-0123456789abcdef0", SubnetIDs: []string{"subnet-11111111"},
		SecurityGroupIDs: sgs, KmsKeyID: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		AppNetworkAccessType: "VpcOnly",
	}, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if errs := p.Errors(); len(errs) > 0 {
		t.Fatalf("unexpected errors: %v", errs)
	}
	wantDomain := DomainSpec{
		Name: "research-v2", AuthMode: "IAM", VpcID: "vpc-0123456789abcdef0", SubnetIDs: []string{"subnet-11111111"},
		KmsKeyID: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", AppNetworkAccessType: "VpcOnly",
		// Security groups replaced everywhere; unknown members and the identity config kept.
		DefaultUserSettings:  raw(`{"ExecutionRole":"` + role("Default") + `","FutureMember":1,"SecurityGroups":["sg-0ddddddddddddddd4","sg-0eeeeeeeeeeeeeee5"]}`),
		DefaultSpaceSettings: raw(`{"ExecutionRole":"` + role("Spaces") + `","SecurityGroups":["sg-0ddddddddddddddd4","sg-0eeeeeeeeeeeeeee5"]}`),
		DomainSettings:       raw(`{"ExecutionRoleIdentityConfig":"USER_PROFILE_NAME","SecurityGroupIds":["sg-0ddddddddddddddd4","sg-0eeeeeeeeeeeeeee5"]}`),
		// The old job tag is not carried over: Apply adds the new job's.
		Tags: []Tag{{"team", "research"}},
	}
	if d := cmp.Diff(wantDomain, p.Domain, jsonComparer); d != "" {
		t.Errorf("domain spec (-want +got):\n%s", d)
	}
	wantProfiles := []ProfileSpec{
		{Name: "alice", OldUID: "200001", UserSettings: raw(`{"ExecutionRole":"` + role("Alice") + `","SecurityGroups":["sg-0ddddddddddddddd4","sg-0eeeeeeeeeeeeeee5"]}`),
			Tags: []Tag{{"studiouserid", "alice"}}},
		// bob inherits the domain's security groups, and keeps inheriting them.
		{Name: "bob", OldUID: "200002", Tags: []Tag{{"studiouserid", "bob"}}},
	}
	if d := cmp.Diff(wantProfiles, p.UserProfiles, jsonComparer); d != "" {
		t.Errorf("profile specs (-want +got):\n%s", d)
	}
	if len(p.Spaces) != 2 || p.Spaces[0].Name != "bob-code" || p.Spaces[1].OwnerUserProfileName != "alice" || string(p.Spaces[1].SpaceSharingSettings) != `{"SharingType":"Shared"}` {
		t.Errorf("space specs: %+v", p.Spaces)
	}
	var kinds []string
	for _, a := range p.Actions {
		kinds = append(kinds, a.Kind+" "+a.Target)
	}
	wantActions := []string{
		"create-domain research-v2",
		"create-user-profile alice", "create-user-profile bob",
		"create-space bob-code", "create-space team",
		"copy-home user-profile/alice", "copy-home user-profile/bob", "copy-home space/bob-code", "copy-home space/team",
	}
	if d := cmp.Diff(wantActions, kinds); d != "" {
		t.Errorf("actions (-want +got):\n%s", d)
	}
	if !strings.Contains(p.Actions[5].Detail, "/200001 on fs-0123456789abcdef0") {
		t.Errorf("copy-home detail %q", p.Actions[5].Detail)
	}
}

func TestNewPlanSSO(t *testing.T) {
	// IAM -> SSO: mapped users, assignments, and the Identity Center identifier.
	s := iamSnapshot()
	s.Spaces = s.Spaces[1:] // drop the shared space
	p, err := NewPlan(s, Overrides{DomainName: "v2", AuthMode: "SSO", UserMapping: map[string]string{"alice": "alice@example.com", "bob": "bob@example.com"}}, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if errs := p.Errors(); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	for _, ps := range p.UserProfiles {
		if ps.SingleSignOnUserIdentifier != "UserName" || ps.SingleSignOnUserValue != ps.Name+"@example.com" {
			t.Errorf("%s: %q=%q", ps.Name, ps.SingleSignOnUserIdentifier, ps.SingleSignOnUserValue)
		}
	}
	var assigned []string
	for _, a := range p.Actions {
		if a.Kind == ActionAssignUser {
			assigned = append(assigned, a.Target)
		}
	}
	if d := cmp.Diff([]string{"alice", "bob"}, assigned); d != "" {
		t.Errorf("assign-user actions (-want +got):\n%s", d)
	}

	// SSO stays SSO: trusted identity propagation and the identity config are kept.
	p, err = NewPlan(ssoSnapshot(), Overrides{DomainName: "v2"}, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(raw(`{"ExecutionRoleIdentityConfig":"USER_PROFILE_NAME","TrustedIdentityPropagationSettings":{"Status":"ENABLED"}}`), p.Domain.DomainSettings, jsonComparer); d != "" {
		t.Errorf("DomainSettings (-want +got):\n%s", d)
	}
	// SSO -> IAM: both go, but the identity config stays (IAM domains have it too).
	p, err = NewPlan(ssoSnapshot(), Overrides{DomainName: "v2", AuthMode: "IAM"}, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(raw(`{"ExecutionRoleIdentityConfig":"USER_PROFILE_NAME"}`), p.Domain.DomainSettings, jsonComparer); d != "" {
		t.Errorf("DomainSettings (-want +got):\n%s", d)
	}
	for _, ps := range p.UserProfiles {
		if ps.SingleSignOnUserValue != "" || ps.SingleSignOnUserIdentifier != "" {
			t.Errorf("%s keeps SSO values in an IAM domain", ps.Name)
		}
	}
}

func TestNewPlanUnusableInput(t *testing.T) {
	if _, err := NewPlan(nil, Overrides{}, PlanOptions{}); err == nil {
		t.Error("nil snapshot accepted")
	}
	s := iamSnapshot()
	s.SchemaVersion = SchemaVersion + 1
	if _, err := NewPlan(s, Overrides{}, PlanOptions{}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("future schema: %v", err)
	}
}

// TestPlanFromGoldenSnapshot plans from a real snapshot document and checks the
// text rendering carries the summary, problems first, and grouped actions.
func TestPlanFromGoldenSnapshot(t *testing.T) {
	f, err := os.ReadFile("testdata/snapshot_iam.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ReadSnapshot(bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(s, Overrides{DomainName: "research-v2", AuthMode: "SSO", UserMapping: map[string]string{"alice": "alice@example.com"}}, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := p.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		`Plan: rebuild domain research (` + s.Domain.ID + `, IAM, us-east-1) as "research-v2" (SSO)`,
		"3 user profiles, 3 spaces, 6 home directories to copy",
		"ERROR   domain: switching from IAM to SSO needs an Identity Center user for every user profile; missing for 2: bob, carol",
		"WARNING space/classic: a Studio Classic space",
		"WARNING user-profile/carol: status Failed",
		"  create-user-profile (3)\n    alice: execution role " + role("AliceExec") + "; Identity Center user alice@example.com\n",
		"  assign-user (1)\n",
		"This plan has 1 error",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text plan lacks %q:\n%s", want, out)
		}
	}
	// The whole rendering, for review. It depends on the IAM snapshot golden file:
	// refresh both with -run 'TestSnapshotGolden|TestPlanFromGoldenSnapshot' -update.
	goldenCompare(t, "plan_iam_to_sso.golden.txt", buf.Bytes())
	if strings.Index(out, "ERROR") > strings.Index(out, "WARNING") {
		t.Errorf("warnings printed before errors:\n%s", out)
	}
	// JSON is the same plan.
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(*p, back, jsonComparer); d != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", d)
	}
}

// jsonComparer compares raw JSON by meaning (both sides canonicalized).
var jsonComparer = cmp.Comparer(func(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	ca, err1 := canonicalJSON(a)
	cb, err2 := canonicalJSON(b)
	return err1 == nil && err2 == nil && bytes.Equal(ca, cb)
})

func TestReadUserMapping(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
		err      string
	}{
		{name: "header, comments, spaces", in: "# who is who\nprofile,ssoUserName\n\nalice, alice@example.com\nbob,bob.smith\n",
			want: map[string]string{"alice": "alice@example.com", "bob": "bob.smith"}},
		{name: "no header", in: "alice,a\n", want: map[string]string{"alice": "a"}},
		// As a spreadsheet saves "CSV UTF-8": a byte order mark and CRLF.
		{name: "BOM and header", in: "\uFEFFprofile,ssoUserName\r\nalice,a\r\n", want: map[string]string{"alice": "a"}},
		{name: "BOM, no header", in: "\uFEFFalice,a\n", want: map[string]string{"alice": "a"}},
		{name: "three columns", in: "alice,a\nbob,b,extra\n", err: "m.csv line 2: want 2 columns (profile,ssoUserName), got 3"},
		{name: "one column", in: "alice\n", err: "line 1: want 2 columns"},
		{name: "empty user", in: "alice,\n", err: `line 1: no Identity Center user name for profile "alice"`},
		{name: "empty profile", in: " ,a\n", err: "line 1: the profile name is empty"},
		{name: "twice", in: "alice,a\n\nalice,b\n", err: `line 3: profile "alice" is already mapped on line 1`},
		{name: "bad quoting", in: "alice,\"a\n", err: "m.csv"},
		{name: "empty", in: "# nothing\n", err: "no profile,ssoUserName lines"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadUserMapping(strings.NewReader(tc.in), "m.csv")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	if _, err := ReadUserMappingFile("testdata/does-not-exist.csv"); err == nil || !strings.Contains(err.Error(), "reading user mapping") {
		t.Errorf("missing file: %v", err)
	}
}
