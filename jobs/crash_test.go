//go:build linux

package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// addFiles adds n small files in subdirectories of 100 to a home, owned by uid.
func addFiles(t *testing.T, dir string, uid, n int) {
	t.Helper()
	for i := range n {
		sub := filepath.Join(dir, "data", fmt.Sprintf("d%03d", i/100))
		if i%100 == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("x%05d", i)), []byte(strconv.Itoa(i)+" some data\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	chownTree(t, filepath.Join(dir, "data"), uid)
}

func stepOf(st *Status, name string) StepStatus {
	for _, s := range st.Steps {
		if s.Name == name {
			return s
		}
	}
	return StepStatus{}
}

func homeOf(st *Status, key string) HomeStatus {
	for _, h := range st.Homes {
		if h.Key == key {
			return h
		}
	}
	return HomeStatus{}
}

// TestCrashTakeover kills worker processes with SIGKILL in the middle of
// create-profiles and again in the middle of a home's copy, starting replacements:
// the job succeeds, no profile is created twice, the interrupted home resumes
// (not copied from scratch), each takeover happens within 30 s, and verify finds
// no difference.
func TestCrashTakeover(t *testing.T) {
	const profiles = 30
	w := newWorld(t, profiles, 2, 10)
	big := map[string]bool{}
	for _, m := range w.old.UIDMap[:2] {
		uid, _ := strconv.Atoi(m.NewUID)
		addFiles(t, filepath.Join(w.efsRoot, w.old.Domain.HomeEfsFileSystemID, m.NewUID), uid, 2500)
		big[m.Kind+"/"+m.Name] = true
	}
	// 2,500 files at 2 ms each keep a big home's copy running for at least 5 s:
	// without it a fast machine finished both big homes between two polls.
	w.slowOpen = 2 * time.Millisecond
	c := w.client(t)
	creates := w.em.Calls("CreateUserProfile")
	const ttl = 5 * time.Second
	procs := map[string]*proc{}
	for _, n := range []string{"proc-a", "proc-b"} {
		procs[n] = w.startProc(t, n, ttl)
	}
	sp := w.spec()
	sp.Workers = 1      // a slow copy, so the kill lands in the middle of one
	sp.Checksum = false // checkNewHomes compares checksums at the end
	id, err := c.Submit(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}

	// 1. In the middle of create-profiles.
	st := waitFor(t, c, id, 60*time.Second, "create-profiles to be under way", func(s *Status) bool {
		step := stepOf(s, StepCreateProfiles)
		return step.State == unitRunning && w.em.Calls("CreateUserProfile")-creates >= 3
	})
	victim := stepOf(st, StepCreateProfiles).Worker
	killed := procs[victim].kill(t)
	madeAtKill := w.em.Calls("CreateUserProfile") - creates
	procs["proc-c"] = w.startProc(t, "proc-c", ttl)
	st = waitFor(t, c, id, 45*time.Second, "another worker to take create-profiles over", func(s *Status) bool {
		step := stepOf(s, StepCreateProfiles)
		return step.Worker != victim && step.Worker != ""
	})
	takeover1 := time.Since(killed)
	t.Logf("killed %s with %d of %d profiles created; %s took create-profiles over after %v",
		victim, madeAtKill, profiles, stepOf(st, StepCreateProfiles).Worker, takeover1.Round(time.Millisecond))
	if madeAtKill >= profiles {
		t.Errorf("the kill came after every profile was created (%d): not in the middle of create-profiles", madeAtKill)
	}

	// 2. In the middle of a big home's copy.
	var home string
	st = waitFor(t, c, id, 60*time.Second, "a big home's copy to be under way", func(s *Status) bool {
		for _, h := range s.Homes {
			if big[h.Key] && h.State == HomeRunning && h.Files > 0 && h.Files < h.TotalFiles && procs[h.Worker] != nil {
				home = h.Key
				return true
			}
		}
		return false
	})
	h := homeOf(st, home)
	victim2 := h.Worker
	killed = procs[victim2].kill(t)
	t.Logf("killed %s copying %s at %d of %d files", victim2, home, h.Files, h.TotalFiles)
	procs["proc-d"] = w.startProc(t, "proc-d", ttl)
	st = waitFor(t, c, id, 45*time.Second, "another worker to take "+home+" over", func(s *Status) bool {
		h := homeOf(s, home)
		return h.Worker != victim2 && h.Worker != ""
	})
	takeover2 := time.Since(killed)
	t.Logf("%s took %s over after %v", homeOf(st, home).Worker, home, takeover2.Round(time.Millisecond))

	st = waitDone(t, c, id, 90*time.Second)
	if st.State != StateSucceeded {
		t.Fatalf("job ended %s: %s", st.State, st.Error)
	}
	for what, d := range map[string]time.Duration{"create-profiles": takeover1, home: takeover2} {
		if d > 30*time.Second {
			t.Errorf("takeover of %s took %v, want within 30s", what, d)
		}
	}
	if n := w.em.Calls("CreateUserProfile") - creates; n != profiles {
		t.Errorf("CreateUserProfile called %d times for %d profiles: a profile was created twice", n, profiles)
	}
	h = homeOf(st, home)
	if h.Copy == nil || h.Copy.Unchanged == 0 || h.Copy.CopiedBytes >= h.Copy.Bytes || h.Attempts < 2 {
		t.Errorf("home %s after the takeover: attempts %d, copy %+v: want a resumed copy (unchanged > 0, fewer bytes written than the home holds)", home, h.Attempts, h.Copy)
	} else {
		t.Logf("%s resumed: %d of %d entries unchanged, %d of %d bytes written", home, h.Copy.Unchanged, h.Copy.Files+h.Copy.Dirs+h.Copy.Symlinks, h.Copy.CopiedBytes, h.Copy.Bytes)
	}
	for _, x := range st.Homes {
		if x.Key != home && x.Attempts > 1 && x.Copy != nil && x.Copy.Unchanged == 0 && x.Copy.Files > 0 {
			t.Errorf("home %s ran %d times and its last run copied everything again: %+v", x.Key, x.Attempts, x.Copy)
		}
		if x.State == HomeSucceeded && (x.Verify == nil || !x.Verify.OK()) {
			t.Errorf("home %s: verify %+v", x.Key, x.Verify)
		}
	}
	checkNewHomes(t, w, st)
}
