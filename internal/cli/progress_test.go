package cli

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBytesBar: totals, percent, bytes done of the total, rate and ETA, in IEC units;
// the total may come after the first updates.
func TestBytesBar(t *testing.T) {
	var buf bytes.Buffer
	b := NewBytesBar(&buf, "copying")
	b.Set(1<<20, "10 files")
	time.Sleep(150 * time.Millisecond) // past the bar's 100 ms throttle
	b.SetTotal(4 << 20)
	time.Sleep(150 * time.Millisecond)
	b.Set(2<<20, "20/40 files")
	out := buf.String()
	for _, want := range []string{"copying 20/40 files", "50%", "2.0/4.0 MiB", "MiB/s", ":"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar lacks %q:\n%q", want, out)
		}
	}
	if regexp.MustCompile(`\d (kB|MB|GB)`).MatchString(out) {
		t.Errorf("SI units in the bar:\n%q", out)
	}
	// Done bytes equal to the total stay below 100% until Finish: the bar does not
	// vanish while the last (big) file is still being written.
	time.Sleep(150 * time.Millisecond)
	b.Set(4<<20, "40/40 files")
	if strings.Contains(buf.String(), "100%") {
		t.Errorf("100%% before Finish:\n%q", buf.String())
	}
	b.Finish()
	b.Set(5<<20, "after") // ignored
	if strings.Contains(buf.String(), "after") {
		t.Error("updated after Finish")
	}
}
