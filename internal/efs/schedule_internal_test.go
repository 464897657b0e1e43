//go:build linux

package efs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
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
