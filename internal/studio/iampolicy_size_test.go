package studio

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// bigSnapshot is policySnapshot with n per-user profiles, each with its own role
// named by name(i).
func bigSnapshot(n int, name func(int) string) *Snapshot {
	s := policySnapshot("SSO")
	s.UserProfiles = nil
	for i := range n {
		r := "arn:aws:iam::111122223333:role/" + name(i)
		s.UserProfiles = append(s.UserProfiles, UserProfile{
			Name: fmt.Sprintf("user-%03d", i), HomeEfsFileSystemUID: fmt.Sprint(200001 + i), ExecutionRole: r,
			UserSettings: json.RawMessage(`{"ExecutionRole":"` + r + `"}`),
		})
	}
	return s
}

// passResources returns every PassRole resource of the set, and checks each policy
// is within IAM's limit.
func passResources(t *testing.T, ps []NamedPolicy) []string {
	t.Helper()
	var out []string
	for _, p := range ps {
		b, _ := json.Marshal(p.Document)
		if len(b) > MaxManagedPolicySize {
			t.Errorf("policy %s is %d characters, over IAM's %d", p.Name, len(b), MaxManagedPolicySize)
		}
		for _, st := range p.Document.Statement {
			if slices.Contains(st.Action, "iam:PassRole") {
				if st.Condition["StringEquals"]["iam:PassedToService"] != "sagemaker.amazonaws.com" {
					t.Errorf("%s: PassRole without the PassedToService condition", p.Name)
				}
				out = append(out, st.Resource...)
			}
		}
	}
	return out
}

func TestIAMPolicyWith300Roles(t *testing.T) {
	for _, tc := range []struct {
		name     string
		role     func(int) string
		policies int
		want     []string // PassRole resources that must be there
		note     string
	}{
		{"shared name prefix", func(i int) string { return fmt.Sprintf("SageMakerUser-person%03d", i) }, 1,
			[]string{"arn:aws:iam::111122223333:role/SageMakerUser-person*"}, "scoped by role name prefix role/SageMakerUser-person* (300 roles)"},
		{"shared path", func(i int) string { return fmt.Sprintf("studio/users/%03d-%c", i, 'a'+i%26) }, 1,
			[]string{"arn:aws:iam::111122223333:role/studio/users/*"}, "scoped by role path role/studio/users/* (300 roles)"},
		{"nothing shared", func(i int) string { return fmt.Sprintf("%03d-analyst-exec-role", i) }, 4, nil, "scoped by role name prefix role/Studio* (2 roles), split over 3 policies"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := bigSnapshot(300, tc.role)
			if whole, _ := iamPolicy(s, IAMPolicyOptions{}); policySize(whole) <= MaxManagedPolicySize {
				t.Fatalf("the unshortened policy is only %d characters: the test proves nothing", policySize(whole))
			}
			ps, err := IAMPolicies(s, IAMPolicyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != tc.policies {
				t.Fatalf("%d policies, want %d (note %q)", len(ps), tc.policies, ps[0].Note)
			}
			if !strings.Contains(ps[0].Note, tc.note) {
				t.Errorf("note %q does not say %q", ps[0].Note, tc.note)
			}
			got := passResources(t, ps)
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("PassRole resources %v lack %s", got, w)
				}
			}
			// Every role the snapshot names is passable, by name or wildcard.
			for _, r := range executionRoles(s) {
				if !slices.ContainsFunc(got, func(g string) bool { return wildcardMatch(g, r) }) {
					t.Errorf("role %s is not covered by %v", r, got)
				}
			}
			// The preflight's reads are in the first policy.
			var actions []string
			for _, st := range ps[0].Document.Statement {
				actions = append(actions, st.Action...)
			}
			for _, a := range []string{"ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "kms:DescribeKey", "kms:GetKeyPolicy", "iam:GetRole", "servicequotas:ListServiceQuotas", "elasticfilesystem:DescribeFileSystems", "elasticfilesystem:DescribeMountTargets", "sagemaker:DescribeStudioLifecycleConfig", "identitystore:GetUserId", "sso:ListInstances"} {
				if !slices.Contains(actions, a) {
					t.Errorf("the policy lacks %s, which the preflight calls", a)
				}
			}
			if tc.policies == 1 {
				if _, err := IAMPolicy(s, IAMPolicyOptions{}); err != nil {
					t.Errorf("IAMPolicy of a set that fits in one: %v", err)
				}
			} else if _, err := IAMPolicy(s, IAMPolicyOptions{}); !errorsIs(err, ErrPolicyTooLarge) {
				t.Errorf("IAMPolicy of a split set: %v, want ErrPolicyTooLarge", err)
			}
		})
	}
}

func TestCompressRolesKeepsFewRolesExact(t *testing.T) {
	s := bigSnapshot(5, func(i int) string { return fmt.Sprintf("User%d", i) })
	ps, err := IAMPolicies(s, IAMPolicyOptions{})
	if err != nil || len(ps) != 1 || ps[0].Note != "" {
		t.Fatalf("small snapshot: %d policies, note %q, %v", len(ps), ps[0].Note, err)
	}
	got := passResources(t, ps)
	if slices.ContainsFunc(got, func(r string) bool { return strings.Contains(r, "*") }) {
		t.Errorf("wildcards in a policy that fits without them: %v", got)
	}
}
