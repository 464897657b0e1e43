package studio

import (
	"errors"
	"testing"
)

// A home directory UID becomes a path (/<uid> on the old EFS) that copy-home reads
// and re-owns into the new home: a snapshot file whose UID is not a number (an edited
// or a crafted document) must be refused before it can name ../ or an absolute path.
func TestSnapshotRefusesUIDsThatAreNotNumbers(t *testing.T) {
	for _, uid := range []string{"../../etc", "/etc", "200001/..", "2000 01", "-1"} {
		s := iamSnapshot()
		s.UserProfiles[0].HomeEfsFileSystemUID = uid
		if err := s.Validate(); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("profile UID %q: Validate %v, want ErrBadSnapshot", uid, err)
		}
		s = iamSnapshot()
		s.Spaces[0].HomeEfsFileSystemUID = uid
		if _, err := NewPlan(s, Overrides{}, PlanOptions{}); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("space UID %q: NewPlan %v, want ErrBadSnapshot", uid, err)
		}
	}
	s := iamSnapshot()
	s.UserProfiles[0].HomeEfsFileSystemUID = "" // no home yet: fine
	if err := s.Validate(); err != nil {
		t.Errorf("empty UID: %v", err)
	}
}
