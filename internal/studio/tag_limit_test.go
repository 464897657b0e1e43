package studio

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/studio-migrator/studio-migrator/internal/emulator"
)

// A resource may carry 50 tags, and the migrator adds its job tag to each create: a
// profile that already has 50 must be a plan error, not a CreateUserProfile that
// fails halfway through Apply, after the domain and other profiles exist.
func TestPlanRefusesResourcesWithoutRoomForTheJobTag(t *testing.T) {
	s := iamSnapshot()
	for i := range s.UserProfiles {
		if s.UserProfiles[i].Name != "bob" {
			continue
		}
		tags := []Tag{{JobTagKey, "job-old"}, {"aws:cloudformation:stack-name", "x"}}
		for j := range 50 {
			tags = append(tags, Tag{fmt.Sprintf("k%02d", j), "v"})
		}
		s.UserProfiles[i].Tags = tags
	}
	p, err := NewPlan(s, Overrides{DomainName: "research-v2"}, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range p.Errors() {
		if e.Resource == profileResource("bob") {
			found = true
		}
	}
	if !found {
		t.Errorf("plan errors %v: want one for user-profile/bob and its 50 tags", p.Errors())
	}
	em, c := newTestEnv(t, emulator.Options{})
	if _, err := testApplier(c).Apply(context.Background(), p); !errors.Is(err, ErrPlanHasErrors) {
		t.Errorf("Apply: %v, want ErrPlanHasErrors before any create", err)
	}
	if n := em.Calls("CreateDomain"); n != 0 {
		t.Errorf("%d CreateDomain calls, want none", n)
	}

	// 49 tags (and the old job tag, which is replaced) leave room.
	for i := range s.UserProfiles {
		if s.UserProfiles[i].Name == "bob" {
			s.UserProfiles[i].Tags = s.UserProfiles[i].Tags[:51]
		}
	}
	if p, err = NewPlan(s, Overrides{DomainName: "research-v2"}, PlanOptions{}); err != nil {
		t.Fatal(err)
	}
	if errs := p.Errors(); len(errs) > 0 {
		t.Errorf("49 tags: plan errors %v, want none", errs)
	}
}
