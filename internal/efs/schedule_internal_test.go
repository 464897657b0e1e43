//go:build linux

package efs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The widest directory's walk goes first (it makes the most subdirectories, one at
// a time under its lock: the copy's longest chain), then the most recently queued
// among equals (depth first). Last in, first out alone, as before, would give
// leaf2, refs, objects, leaf1.
func TestSchedulerWalksWidestFirst(t *testing.T) {
	s := newScheduler(4, 1, 2)
	mk := func(name string, nlink uint64) *dirNode {
		return &dirNode{name: name, src: Info{Nlink: nlink}}
	}
	s.addWalks(mk("leaf1", 2), mk("objects", 258), mk("refs", 4))
	s.addWalks(mk("leaf2", 2))
	var got []string
	for range 4 {
		n, ok := s.nextWalk()
		if !ok {
			t.Fatal("scheduler ended with walks queued")
		}
		got = append(got, n.name)
		s.walkDone()
	}
	if want := []string{"objects", "refs", "leaf2", "leaf1"}; !slices.Equal(got, want) {
		t.Fatalf("walk order %v, want %v", got, want)
	}
	if _, ok := s.nextWalk(); ok {
		t.Fatal("a walk after the last one")
	}
}

// A wide listing described in parallel (as when each lstat is a round trip) gives
// the same entries in the same order as the serial path, leaving out a removed one.
func TestStatEntriesParallel(t *testing.T) {
	dir := t.TempDir()
	var names []string
	for i := range 100 {
		name := fmt.Sprintf("f%03d", i)
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, i), 0o600); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	names = append(names, "removed-since-the-listing")
	fd, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	serial, err := statEntries(int(fd.Fd()), names)
	if err != nil {
		t.Fatal(err)
	}
	old := statSlow
	statSlow = 0 // every lstat counts as slow: the parallel path after the probe
	defer func() { statSlow = old }()
	par, err := statEntries(int(fd.Fd()), names)
	if err != nil {
		t.Fatal(err)
	}
	if len(par) != 100 || len(serial) != 100 {
		t.Fatalf("%d entries in parallel, %d serially, want 100", len(par), len(serial))
	}
	for i := range par {
		if par[i].Name != names[i] || par[i].Size != int64(i) || par[i] != serial[i] {
			t.Fatalf("entry %d: parallel %+v, serial %+v", i, par[i], serial[i])
		}
	}
	if _, err := statEntries(int(fd.Fd()), []string{"f000", "f001/x"}); err == nil {
		t.Fatal("an lstat error was not returned")
	}
}

// fakeCopy drives s as the copier does, with real goroutines started on demand:
// walking a directory queues its subdirectories (subdirs[name]) and its files
// (files[name] of them); each file runs work. It returns once the scheduler has
// no work left.
func fakeCopy(s *scheduler, subdirs map[string][]string, files map[string]int, work func()) {
	var wg sync.WaitGroup
	s.startGoroutines(func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j, ok := s.nextFile()
				if !ok {
					return
				}
				work()
				s.fileDone(j.dir)
			}
		}()
	}, func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, ok := s.nextWalk()
				if !ok {
					return
				}
				var kids []*dirNode
				for _, d := range subdirs[n.name] {
					kids = append(kids, &dirNode{name: d})
				}
				s.addWalks(kids...)
				var jobs []job
				for i := range files[n.name] {
					jobs = append(jobs, job{dir: n, name: fmt.Sprintf("%s/f%d", n.name, i)})
				}
				s.addFiles(n, jobs)
				s.walkDone()
			}
		}()
	})
	s.addWalks(&dirNode{name: "."})
	wg.Wait()
}

// Workers and walkers start as work appears: an empty tree starts one walker and
// no worker, a one-file tree one of each, however big the pool may grow (each
// goroutine is a stack to allocate: most of an empty copy's start-up when all
// 128 + 32 started at once).
func TestSchedulerStartsGoroutinesOnDemand(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		files                  map[string]int
		subdirs                map[string][]string
		maxWorkers, maxWalkers int
	}{
		{name: "empty", maxWorkers: 0, maxWalkers: 1},
		{name: "one file", files: map[string]int{".": 1}, maxWorkers: 1, maxWalkers: 1},
		{name: "one subdirectory", subdirs: map[string][]string{".": {"a"}}, maxWorkers: 0, maxWalkers: 2},
	} {
		s := newScheduler(128, 32, 8)
		var ran atomic.Int64
		fakeCopy(s, tc.subdirs, tc.files, func() { ran.Add(1) })
		want := 0
		for _, n := range tc.files {
			want += n
		}
		if ran.Load() != int64(want) {
			t.Errorf("%s: %d files copied, want %d", tc.name, ran.Load(), want)
		}
		if s.workersUp > tc.maxWorkers || s.walkersUp > tc.maxWalkers {
			t.Errorf("%s: %d workers and %d walkers started, want at most %d and %d",
				tc.name, s.workersUp, s.walkersUp, tc.maxWorkers, tc.maxWalkers)
		}
	}
}

// On a wide tree, and in one flat directory, the pool still grows to every
// worker: each file waits until all 16 are in flight at once, which only a full
// pool reaches (one short, and the copy would hang until the deadline below).
func TestSchedulerOnDemandReachesFullPool(t *testing.T) {
	const workers = 16
	wide := map[string][]string{}
	wideFiles := map[string]int{".": 3}
	for i := range 40 {
		d := fmt.Sprintf("d%02d", i)
		wide["."] = append(wide["."], d)
		wideFiles[d] = 10
	}
	for _, tc := range []struct {
		name    string
		subdirs map[string][]string
		files   map[string]int
		perDir  int
	}{
		{"wide", wide, wideFiles, 2},
		{"flat", nil, map[string]int{".": 200}, workers},
	} {
		s := newScheduler(workers, 4, tc.perDir)
		var (
			inFlight, peak atomic.Int64
			full           = make(chan struct{})
			once           sync.Once
			deadline       = time.After(30 * time.Second)
			timedOut       atomic.Bool
		)
		fakeCopy(s, tc.subdirs, tc.files, func() {
			n := inFlight.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			if n == workers {
				once.Do(func() { close(full) })
			}
			select {
			case <-full:
			case <-deadline:
				timedOut.Store(true)
				once.Do(func() { close(full) })
			}
			inFlight.Add(-1)
		})
		if timedOut.Load() || peak.Load() != workers {
			t.Fatalf("%s: at most %d files in flight (timed out: %v), want %d", tc.name, peak.Load(), timedOut.Load(), workers)
		}
		if s.workersUp != workers || s.walkersUp > 4 {
			t.Errorf("%s: %d workers and %d walkers started, want %d and at most 4", tc.name, s.workersUp, s.walkersUp, workers)
		}
	}
}
