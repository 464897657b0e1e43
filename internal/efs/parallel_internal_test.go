package efs

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestParallelFor: every index runs once, never more than par at a time, and a
// failure is returned (serial and parallel).
func TestParallelFor(t *testing.T) {
	for _, par := range []int{1, 4} {
		var (
			mu             sync.Mutex
			seen           = map[int]int{}
			inFlight, peak atomic.Int64
		)
		err := parallelFor(50, par, func(i int) error {
			if n := inFlight.Add(1); n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(time.Millisecond)
			inFlight.Add(-1)
			mu.Lock()
			seen[i]++
			mu.Unlock()
			return nil
		})
		if err != nil {
			t.Fatalf("par %d: %v", par, err)
		}
		for i := range 50 {
			if seen[i] != 1 {
				t.Errorf("par %d: index %d ran %d times", par, i, seen[i])
			}
		}
		if p := peak.Load(); p > int64(par) {
			t.Errorf("par %d: %d calls at once", par, p)
		}
		boom := errors.New("boom")
		if err := parallelFor(50, par, func(i int) error {
			if i == 7 {
				return boom
			}
			return nil
		}); !errors.Is(err, boom) {
			t.Errorf("par %d: error %v, want boom", par, err)
		}
	}
}
