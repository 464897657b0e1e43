package efs

import "time"

// Progress is a snapshot of a running copy or verify. The copier pushes one to its
// Reporter periodically and a final one when it ends; totals are not known in
// advance (the walk streams), so there is no percentage, only counts and rates.
type Progress struct {
	// Entries is every entry handled so far (files, dirs, links, skipped specials).
	Entries int64 `json:"entries"`
	// Files and Bytes count regular files handled and their size (copied or not).
	Files int64 `json:"files"`
	Bytes int64 `json:"bytes"`
	// CopiedBytes is what was actually written; a resumed run writes less than Bytes.
	CopiedBytes int64 `json:"copiedBytes"`
	// Unchanged entries were already identical in the destination.
	Unchanged int64         `json:"unchanged"`
	Errors    int64         `json:"errors"`
	Elapsed   time.Duration `json:"elapsed"`
	// FilesPerSec and BytesPerSec are averages since the start.
	FilesPerSec float64 `json:"filesPerSec"`
	BytesPerSec float64 `json:"bytesPerSec"`
	// Done is set on the last snapshot.
	Done bool `json:"done"`
}

// Reporter receives progress snapshots. Update is called from one goroutine at a
// time and must not block for long: the copy does not wait on a slow terminal.
type Reporter interface {
	Update(p Progress)
}

// ReporterFunc adapts a function to Reporter.
type ReporterFunc func(Progress)

// Update calls f.
func (f ReporterFunc) Update(p Progress) { f(p) }

type nopReporter struct{}

func (nopReporter) Update(Progress) {}

// NopReporter discards progress; it is the default.
var NopReporter Reporter = nopReporter{}

// DefaultProgressInterval is how often snapshots are pushed when not set.
const DefaultProgressInterval = time.Second

func withRates(p Progress) Progress {
	if s := p.Elapsed.Seconds(); s > 0 {
		p.FilesPerSec = float64(p.Files) / s
		p.BytesPerSec = float64(p.CopiedBytes) / s
	}
	return p
}
