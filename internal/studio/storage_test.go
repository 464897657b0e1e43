package studio

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPlanSaysWhereHomesLive: profiles and Studio Classic spaces are on the EFS,
// JupyterLab and Code Editor spaces on their own EBS volumes.
func TestPlanSaysWhereHomesLive(t *testing.T) {
	s := iamSnapshot()
	s.Spaces = append(s.Spaces, Space{Name: "classic", HomeEfsFileSystemUID: "200010", AppType: ""})
	p, err := NewPlan(s, Overrides{DomainName: "v2"}, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range p.Actions {
		if a.Kind == ActionCopyHome {
			got[a.Target] = a.Storage
		}
	}
	want := map[string]string{
		"user-profile/alice": StorageEFS, "user-profile/bob": StorageEFS,
		"space/team": StorageEBS, "space/bob-code": StorageEBS, "space/classic": StorageEFS,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("copy-home storage (-want +got):\n%s", d)
	}
	for _, sp := range s.Spaces {
		if HomeStorage(sp) != want["space/"+sp.Name] {
			t.Errorf("HomeStorage(%s) = %s", sp.Name, HomeStorage(sp))
		}
	}
}
