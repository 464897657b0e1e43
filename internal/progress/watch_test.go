package progress

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/studio-migrator/studio-migrator/jobs"
)

// frames is a job seen three times: copying two homes, one done, then succeeded.
func frames() []*jobs.Status {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	home := func(name, state string, bytes, total int64) jobs.HomeStatus {
		return jobs.HomeStatus{Key: "user-profile/" + name, Kind: "user-profile", Name: name, OldUID: "200001", NewUID: "200011",
			State: state, Files: bytes / 1024, Bytes: bytes, TotalBytes: total, Worker: "w1", Started: t0, Finished: t0.Add(3 * time.Second)}
	}
	st := func(state string, homes ...jobs.HomeStatus) *jobs.Status {
		s := &jobs.Status{ID: "migrate-x", State: state, Step: "copy-homes", Created: t0, Updated: t0.Add(4 * time.Second), Homes: homes}
		for _, h := range homes {
			s.Totals.Homes++
			if h.State == jobs.HomeSucceeded {
				s.Totals.HomesDone++
			}
			s.Totals.Bytes += h.Bytes
			s.Totals.TotalBytes += h.TotalBytes
			s.Totals.Files += h.Files
		}
		s.Totals.BytesPerSec = 2 << 20
		return s
	}
	return []*jobs.Status{
		st(jobs.StateRunning, home("alice", jobs.HomeRunning, 3<<20, 8<<20), home("bob", jobs.HomeRunning, 1<<20, 4<<20)),
		st(jobs.StateRunning, home("alice", jobs.HomeSucceeded, 8<<20, 8<<20), home("bob", jobs.HomeRunning, 2<<20, 4<<20)),
		st(jobs.StateSucceeded, home("alice", jobs.HomeSucceeded, 8<<20, 8<<20), home("bob", jobs.HomeSucceeded, 4<<20, 4<<20)),
	}
}

func getter(fs []*jobs.Status) Getter {
	i := 0
	return func(context.Context) (*jobs.Status, error) {
		s := fs[min(i, len(fs)-1)]
		i++
		return s, nil
	}
}

func TestWatchPlainLines(t *testing.T) {
	var out bytes.Buffer
	st, err := Watch(context.Background(), &out, getter(frames()), Options{Interval: time.Millisecond})
	if err != nil || st.State != jobs.StateSucceeded {
		t.Fatalf("Watch: %v, %v", st, err)
	}
	s := out.String()
	if strings.Contains(s, "\x1b[") {
		t.Errorf("plain output holds ANSI codes:\n%q", s)
	}
	for _, want := range []string{
		"homes 0/2, 4096 files, 4.0 MiB of 12.0 MiB (33%), 2.0 MiB/s, ETA 4.0s",
		"home user-profile/alice 200001->200011 copied: 8192 files, 8.0 MiB in 3.0s",
		"job migrate-x succeeded after 4.0s: 2 of 2 homes moved (12288 files, 12.0 MiB)",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if n := strings.Count(s, "home user-profile/alice"); n != 1 {
		t.Errorf("alice's end printed %d times, want once:\n%s", n, s)
	}
}

func TestWatchBar(t *testing.T) {
	var out bytes.Buffer
	if _, err := Watch(context.Background(), &out, getter(frames()), Options{Terminal: true, Interval: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"MiB",     // IEC units
		"/12 MiB", // the total
		"  user-profile/bob 200001->200011: 1024 files, 1.0 MiB of 4.0 MiB (25%) on w1", // a line per active home
		"\x1b[3F", // the first frame (bar + 2 homes) redrawn in place
		"job migrate-x succeeded",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("bar output lacks %q:\n%q", want, s)
		}
	}
	if strings.Contains(s, "KB") || strings.Contains(s, " MB") {
		t.Errorf("bar output uses SI units:\n%q", s)
	}
}

// TestSummaryNamesWhatTheJobDid: a backup job backs homes up and a restore job
// restores them; neither "moves" a home.
func TestSummaryNamesWhatTheJobDid(t *testing.T) {
	for kind, want := range map[string]string{
		jobs.KindMigrate: "2 of 2 homes moved",
		jobs.KindBackup:  "2 of 2 homes backed up",
		jobs.KindRestore: "2 of 2 homes restored",
	} {
		st := frames()[2]
		st.Spec.Kind = kind
		if got := Summary(st); !strings.Contains(got, want) {
			t.Errorf("%s job: %q lacks %q", kind, got, want)
		}
	}
}
