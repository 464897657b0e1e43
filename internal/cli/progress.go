package cli

// Progress conventions (README "Conventions"): progress goes to stderr; a bar only
// on a terminal (--progress auto), plain log lines otherwise; sizes in IEC units
// (KiB, MiB, GiB) everywhere, durations in seconds.

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

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

// IsTerminal reports whether w is a terminal (a bar can be drawn on it).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// BytesBar is a one-line progress display in the style of rclone -P: bytes done of
// the total, percent, rate and ETA in IEC units, plus a status text (file counts).
// The total may arrive late, counted alongside the work: until then the line shows
// a spinner, the bytes done and the rate. It reaches 100% only at Finish, so a
// count that moves when work starts (a big file is counted before it is copied)
// never makes the bar vanish early. Safe for concurrent use.
//
// Drawn here rather than by a progress bar library: the one used before linked
// net/http, crypto/tls, compress/gzip and a regexp-compiling colour package into
// every binary with a bar, whose package initialisation was ~8% of the start-up
// of migrator-copy-home (which starts once per home, and at the far end of every
// sftp:// session).
type BytesBar struct {
	mu       sync.Mutex
	w        io.Writer
	desc     string
	status   string
	start    time.Time
	total    int64 // 0 until known
	done     int64
	spin     int
	drawn    bool // a line is on the terminal (Clear has something to clear)
	finished bool
}

// barWidth is the bar's width in cells.
const barWidth = 24

// spinner turns one step per update while the total is unknown.
var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// NewBytesBar draws a bar labelled desc on w, its total still unknown.
func NewBytesBar(w io.Writer, desc string) *BytesBar {
	b := &BytesBar{w: w, desc: desc, start: time.Now()}
	b.mu.Lock()
	b.drawLocked()
	b.mu.Unlock()
	return b
}

// SetTotal gives the bar its total once it is known (0: still unknown).
func (b *BytesBar) SetTotal(total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished || total <= 0 || total == b.total {
		return
	}
	b.total = total
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
		b.status = status
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
	b.clearLocked()
	n, err := b.w.Write(p)
	if !b.finished {
		b.drawLocked()
	}
	return n, err
}

func (b *BytesBar) setLocked(done int64) {
	b.done = done
	if b.total > 0 && done > b.total {
		// More than counted (files grew or appeared): the bar widens.
		b.total = done
	}
	b.drawLocked()
}

// Finish clears the bar, so what follows starts on a clean line. Later updates are
// ignored.
func (b *BytesBar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	b.clearLocked()
}

func (b *BytesBar) clearLocked() {
	if b.drawn {
		io.WriteString(b.w, "\r\x1b[K")
		b.drawn = false
	}
}

// drawLocked redraws the line: "desc status  50% |████    | (2.0/4.0 MiB, 10.0
// MiB/s) [3s:3s]" once the total is known, "⠋ desc status (1.0 MiB, 5.0 MiB/s)
// [3s]" before.
func (b *BytesBar) drawLocked() {
	elapsed := time.Since(b.start)
	rate := 0.0
	if secs := elapsed.Seconds(); secs > 0 {
		rate = float64(b.done) / secs
	}
	text := b.desc
	if b.status != "" {
		text += " " + b.status
	}
	var line string
	if b.total <= 0 {
		b.spin = (b.spin + 1) % len(spinner)
		line = fmt.Sprintf("%s %s (%s, %s/s) [%s]", spinner[b.spin], text, iecBytes(b.done), iecBytes(int64(rate)), roundSeconds(elapsed))
	} else {
		// Held just below the total until Finish: the last (big) file may still
		// be in flight when the counts say everything is done.
		done := min(b.done, b.total-1)
		frac := float64(done) / float64(b.total)
		cells := int(frac * barWidth)
		eta := "?"
		if rate > 0 {
			eta = roundSeconds(time.Duration(float64(b.total-done) / rate * float64(time.Second)))
		}
		unit, div := iecUnit(b.total)
		line = fmt.Sprintf("%s %3d%% |%s%s| (%.1f/%.1f %s, %s/s) [%s:%s]", text, int(frac*100),
			strings.Repeat("█", cells), strings.Repeat(" ", barWidth-cells),
			float64(done)/div, float64(b.total)/div, unit, iecBytes(int64(rate)), roundSeconds(elapsed), eta)
	}
	io.WriteString(b.w, "\r"+line+"\x1b[K")
	b.drawn = true
}

// iecUnit is the IEC unit n is best shown in, and its size.
func iecUnit(n int64) (string, float64) {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i, div := 0, 1.0
	for float64(n) >= div*1024 && i < len(units)-1 {
		div *= 1024
		i++
	}
	return units[i], div
}

// iecBytes formats n in IEC units with one decimal: "1.5 MiB".
func iecBytes(n int64) string {
	unit, div := iecUnit(n)
	if unit == "B" {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", float64(n)/div, unit)
}

// roundSeconds formats d to whole seconds: "3s", "1m5s".
func roundSeconds(d time.Duration) string { return d.Round(time.Second).String() }

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
