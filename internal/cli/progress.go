package cli

// Progress conventions (README "Conventions"): progress goes to stderr; a bar only
// on a terminal (--progress auto), plain log lines otherwise; sizes in IEC units
// (KiB, MiB, GiB) everywhere, durations in seconds.

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress display modes (--progress).
const (
	ProgressAuto = "auto"
	ProgressBar  = "bar"
	ProgressLog  = "log"
	ProgressNone = "none"
)

// CheckProgress is the usage error for a bad --progress value.
func CheckProgress(mode string) error {
	switch mode {
	case ProgressAuto, ProgressBar, ProgressLog, ProgressNone:
		return nil
	}
	return UsageErrorf("--progress %q: want auto, bar, log or none", mode)
}

// ResolveProgress turns auto into bar on a terminal and log elsewhere.
func ResolveProgress(mode string, w io.Writer) string {
	if mode != ProgressAuto {
		return mode
	}
	if IsTerminal(w) {
		return ProgressBar
	}
	return ProgressLog
}

func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// BytesBar is a one-line progress display in the style of rclone -P: bytes done of
// the total, percent, rate and ETA in IEC units, plus a status text (file counts).
// The total may arrive late, counted alongside the work: until then the line shows
// the bytes done and the rate. It reaches 100% only at Finish, so a count that
// moves when work starts (a big file is counted before it is copied) never makes
// the bar vanish early. Safe for concurrent use; commands that follow a job (watch)
// drive it the same way from their own progress records.
type BytesBar struct {
	mu       sync.Mutex
	w        io.Writer
	desc     string
	bar      *progressbar.ProgressBar
	total    int64 // 0 until known
	done     int64
	finished bool
}

func NewBytesBar(w io.Writer, desc string) *BytesBar {
	b := &BytesBar{w: w, desc: desc}
	b.bar = b.newBar(-1)
	return b
}

func (b *BytesBar) newBar(max int64) *progressbar.ProgressBar {
	return progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(b.desc),
		progressbar.OptionShowBytes(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetWidth(24),
		progressbar.OptionSpinnerType(14),
		// The spinner turns on each update: its own ticker goroutine would write
		// to w behind LogWriter's back.
		progressbar.OptionSetSpinnerChangeInterval(0),
		// No throttle: Set renders the new status and bytes together (with one,
		// the second of two quick renders is dropped and the line lags a tick).
		// Callers update a few times a second.
		progressbar.OptionThrottle(0),
		progressbar.OptionClearOnFinish(),
	)
}

// SetTotal gives the bar its total once it is known (0: still unknown).
func (b *BytesBar) SetTotal(total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished || total <= 0 || total == b.total {
		return
	}
	if b.total == 0 {
		// From a spinner to a bar: a new bar, or percent and ETA stay off.
		_ = b.bar.Finish() // clears it (OptionClearOnFinish)
		b.bar = b.newBar(total)
		b.total = total
		b.setLocked(b.done)
		return
	}
	b.total = total
	b.bar.ChangeMax64(total)
	b.setLocked(b.done)
}

// Set shows done bytes and status (e.g. "1200/5000 files").
func (b *BytesBar) Set(done int64, status string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	if status != "" {
		b.bar.Describe(b.desc + " " + status)
	}
	b.setLocked(done)
}

// LogWriter returns a writer for log lines that clears the bar before each write
// and draws it again after, so logs and the bar share stderr without garbling.
func (b *BytesBar) LogWriter() io.Writer { return barLogWriter{b} }

type barLogWriter struct{ b *BytesBar }

func (lw barLogWriter) Write(p []byte) (int, error) {
	b := lw.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.finished {
		_ = b.bar.Clear()
	}
	n, err := b.w.Write(p)
	if !b.finished {
		_ = b.bar.Add64(0) // redraw
	}
	return n, err
}

func (b *BytesBar) setLocked(done int64) {
	b.done = done
	if b.total > 0 && done >= b.total {
		// Held just below the total: the bar finishes (and clears) at Finish
		// only. More than counted (files grew or appeared) widens it.
		if done > b.total {
			b.total = done
			b.bar.ChangeMax64(done)
		}
		done = b.total - 1
	}
	_ = b.bar.Set64(done)
}

// Finish completes and clears the bar, so what follows starts on a clean line.
func (b *BytesBar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	_ = b.bar.Finish()
}

// MiB formats a byte count in MiB with two decimals, the unit of every summary; a
// count too small to show that way is given in bytes rather than as "0.00 MiB".
func MiB(n int64) string {
	if n > 0 && n < 10<<10 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
}

// Seconds formats a duration in seconds with two decimals.
func Seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
