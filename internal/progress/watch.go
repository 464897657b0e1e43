package progress

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/studio-migrator/studio-migrator/jobs"
)

// Options configure Watch. Zero values take the defaults.
type Options struct {
	// Terminal draws the bar and the per-home lines with ANSI codes; otherwise Watch
	// prints a plain line every Interval (and one per home as it ends).
	Terminal bool
	// Interval between polls of the job record (default: 500ms on a terminal, 5s
	// otherwise).
	Interval time.Duration
	// MaxHomes bounds the per-home lines on a terminal (default 8).
	MaxHomes int
}

// IsTerminal reports whether w is a terminal (a bar can be drawn on it).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Getter reads a job record (jobs.Client.Get bound to a job ID).
type Getter func(ctx context.Context) (*jobs.Status, error)

// Watch polls the job until it ends or ctx is done, drawing its progress to out,
// and returns the last record read. It ends with a one-line summary.
func Watch(ctx context.Context, out io.Writer, get Getter, o Options) (*jobs.Status, error) {
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
		if o.Terminal {
			o.Interval = 500 * time.Millisecond
		}
	}
	if o.MaxHomes <= 0 {
		o.MaxHomes = 8
	}
	var d display
	if o.Terminal {
		d = newBarDisplay(out, o.MaxHomes)
	} else {
		d = &lineDisplay{out: out, ended: map[string]bool{}}
	}
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	for {
		st, err := get(ctx)
		if err != nil {
			d.done(nil)
			return nil, err
		}
		if jobs.Terminal(st.State) {
			d.update(st)
			d.done(st)
			fmt.Fprintln(out, Summary(st))
			return st, nil
		}
		d.update(st)
		select {
		case <-ctx.Done():
			d.done(st)
			return st, ctx.Err()
		case <-t.C:
		}
	}
}

type display interface {
	update(*jobs.Status)
	// done leaves the display (the cursor below it); st may be nil.
	done(*jobs.Status)
}

// Summary is the one-line account of a job: state, homes, files, bytes, time.
func Summary(st *jobs.Status) string {
	var moved, failed, notMoved int
	for _, h := range st.Homes {
		switch h.State {
		case jobs.HomeSucceeded:
			moved++
		case jobs.HomeFailed:
			failed++
		case jobs.HomeNotMoved:
			notMoved++
		}
	}
	s := fmt.Sprintf("job %s %s after %s: %d of %d homes %s (%d files, %s)",
		st.ID, st.State, Seconds(st.Updated.Sub(st.Created)), moved, len(st.Homes), homesVerb(st.Spec.Kind), st.Totals.Files, MiB(st.Totals.Bytes))
	if failed > 0 {
		s += fmt.Sprintf(", %d failed", failed)
	}
	if notMoved > 0 {
		s += fmt.Sprintf(", %d not moved", notMoved)
	}
	if st.Error != "" {
		s += "; error: " + st.Error
	}
	return s
}

// homesVerb is what a job of this kind does to a home: a backup job moves nothing.
func homesVerb(kind string) string {
	switch kind {
	case jobs.KindBackup:
		return "backed up"
	case jobs.KindRestore:
		return "restored"
	}
	return "moved"
}

// MiB formats a byte count in MiB, as every summary line does.
func MiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// Seconds formats a duration in seconds.
func Seconds(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// active are the homes being copied, the busiest first.
func active(st *jobs.Status) []jobs.HomeStatus {
	var a []jobs.HomeStatus
	for _, h := range st.Homes {
		if h.State == jobs.HomeRunning {
			a = append(a, h)
		}
	}
	sort.Slice(a, func(i, j int) bool { return a[i].Key < a[j].Key })
	return a
}

func homeLine(h jobs.HomeStatus) string {
	s := fmt.Sprintf("  %s %s->%s: %d files, %s", h.Key, h.OldUID, h.NewUID, h.Files, MiB(h.Bytes))
	if h.TotalBytes > 0 {
		s += fmt.Sprintf(" of %s (%.0f%%)", MiB(h.TotalBytes), 100*float64(h.Bytes)/float64(h.TotalBytes))
	}
	if h.BytesPerSec > 0 {
		s += fmt.Sprintf(", %s/s", MiB(int64(h.BytesPerSec)))
	}
	if h.Worker != "" {
		s += " on " + h.Worker
	}
	return s
}

// barDisplay redraws a frame: the overall bar, then a line per active home. The bar
// is progressbar's rendering (rate and ETA included); the frame is ours, because
// the bar draws one line only.
type barDisplay struct {
	out      io.Writer
	bar      *progressbar.ProgressBar
	max      int64
	maxHomes int
	lines    int // lines of the last frame below the bar
}

func newBarDisplay(out io.Writer, maxHomes int) *barDisplay {
	return &barDisplay{out: out, maxHomes: maxHomes}
}

func (d *barDisplay) update(st *jobs.Status) {
	total := max(st.Totals.TotalBytes, st.Totals.Bytes, 1)
	if !jobs.Terminal(st.State) {
		// Totals grow as homes are counted: a bar at its max is finished for good
		// and stops drawing, so keep one byte to go until the job ends.
		total++
	}
	if d.bar == nil {
		d.max = total
		d.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(io.Discard), // we draw bar.String() in our frame
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(0),
			progressbar.OptionSetRenderBlankState(true),
		)
	} else if total != d.max {
		d.max = total
		d.bar.ChangeMax64(total)
	}
	d.bar.Describe(fmt.Sprintf("%s %-12s homes %d/%d", st.State, st.Step, st.Totals.HomesDone, st.Totals.Homes))
	_ = d.bar.Set64(min(st.Totals.Bytes, total))
	var b strings.Builder
	if d.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dF", d.lines) // to the start of the bar's line
	} else {
		b.WriteString("\r")
	}
	fmt.Fprintf(&b, "\x1b[2K%s\n", strings.Trim(d.bar.String(), "\r\n"))
	homes := active(st)
	n := 0
	for _, h := range homes {
		if n == d.maxHomes {
			fmt.Fprintf(&b, "\x1b[2K  ... and %d more homes being copied\n", len(homes)-n)
			n++
			break
		}
		fmt.Fprintf(&b, "\x1b[2K%s\n", homeLine(h))
		n++
	}
	for i := n; i < d.lines-1; i++ { // blank what the last frame drew below
		b.WriteString("\x1b[2K\n")
	}
	lines := max(n, d.lines-1) + 1
	d.lines = lines
	io.WriteString(d.out, b.String())
}

func (d *barDisplay) done(*jobs.Status) {}

// lineDisplay prints one line per poll, and one per home as it ends: for logs and
// pipes, where a redrawn bar would be noise.
type lineDisplay struct {
	out   io.Writer
	ended map[string]bool
}

func (d *lineDisplay) update(st *jobs.Status) {
	verb := "copied"
	switch {
	case st.Spec.Kind == jobs.KindBackup:
		verb = "backed up"
	case st.Spec.Kind == jobs.KindRestore, st.Spec.CopyFromBackup != nil:
		verb = "restored"
	}
	for _, h := range st.Homes {
		if d.ended[h.Key] {
			continue
		}
		switch h.State {
		case jobs.HomeSucceeded:
			fmt.Fprintf(d.out, "home %s %s->%s %s: %d files, %s in %s\n", h.Key, h.OldUID, h.NewUID, verb, h.Files, MiB(h.Bytes), Seconds(h.Finished.Sub(h.Started)))
		case jobs.HomeFailed:
			fmt.Fprintf(d.out, "home %s failed: %s\n", h.Key, h.Reason)
		case jobs.HomeNotMoved:
			fmt.Fprintf(d.out, "home %s not moved: %s\n", h.Key, h.Reason)
		default:
			continue
		}
		d.ended[h.Key] = true
	}
	t := st.Totals
	s := fmt.Sprintf("%s job %s %s step %s: homes %d/%d, %d files, %s", time.Now().UTC().Format(time.TimeOnly),
		st.ID, st.State, st.Step, t.HomesDone, t.Homes, t.Files, MiB(t.Bytes))
	if t.TotalBytes > 0 {
		s += fmt.Sprintf(" of %s (%.0f%%)", MiB(t.TotalBytes), 100*float64(t.Bytes)/float64(t.TotalBytes))
	}
	if t.BytesPerSec > 0 {
		s += fmt.Sprintf(", %s/s", MiB(int64(t.BytesPerSec)))
		if left := t.TotalBytes - t.Bytes; left > 0 {
			s += ", ETA " + Seconds(time.Duration(float64(left)/t.BytesPerSec*float64(time.Second)))
		}
	}
	fmt.Fprintln(d.out, s)
}

func (d *lineDisplay) done(*jobs.Status) {}
