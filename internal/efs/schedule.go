package efs

import (
	"container/heap"
	"sync"
)

// scheduler hands the copy's work to its goroutines: directory walks to walkers,
// files and symlinks to workers.
//
// Why not one FIFO queue: Linux takes a directory's lock exclusively for every
// create, link, symlink, unlink and rename in it (NFS included), so on EFS one
// directory takes one creation at a time (~3 ms each). A single queue fills with one
// directory's files at a time, and most workers then wait on that one lock while
// other directories sit idle. Here every directory that has files waiting gets its
// own queue; workers take files round-robin over those directories, at most perDir
// of them in flight per directory, so the pool spreads over every directory that has
// work (and a flat directory runs at its lock's pace with a few files in flight,
// the rest of the pool free for other directories).
//
// Walks go widest first: a directory's walk makes its subdirectories, and the
// kernel makes them one at a time (its lock, ~4 ms each on EFS), so the walk of a
// wide level such as .git/objects (256 subdirectories) is the longest chain of a
// home's copy and must start as soon as its parent has made it, not after every
// other directory found so far. Width is known before the listing from the
// directory's link count (2 + its subdirectories on Linux file systems, NFS and
// EFS included); where a backend reports none, every walk ties. Ties go last in,
// first out: depth first, so pending walks stay few.
//
// Nothing blocks a walker: a walk queues all of its directory's files at once (the
// listing is in memory anyway) and returns. Memory stays bounded because a walk only
// starts while fewer than highWater files are queued, or when no queued file can
// start (every directory with files waiting is at its cap), where listing another
// directory is the only way to give idle workers something to do.
//
// Goroutines start on demand (see startGoroutines): a worker or walker is started
// when work is ready and none of those started is idle, up to workers and walkers.
// A copy of an empty or small tree starts a few, not 128 + 32 (each a stack to
// allocate, page by page, before anything is copied: on the empty tree most of
// the process's run time), and a big tree still reaches the full pool within its
// first listings: every taken file or walk that leaves more ready behind starts
// one more.
type scheduler struct {
	mu sync.Mutex
	// Two conditions, so that a finished file wakes one worker and not every
	// walker and worker (on tmpfs the copy is CPU-bound, and a broadcast per file
	// costs a wake-up of the whole pool).
	walkCond, fileCond *sync.Cond

	perDir    int // files in flight per directory
	workers   int // files in flight in all
	maxWalks  int // directories listed at once
	highWater int // files queued above which no walk starts (unless none can run)

	walks   walkHeap   // widest first, then last in first out
	seq     uint64     // walks queued so far: the tie-break
	ready   []*dirNode // FIFO ring of directories with files waiting and room (ready[head:])
	head    int
	queued  int // files waiting
	running int // files in flight
	walking int // walks in flight
	done    bool

	// Set by startGoroutines (nil: the caller runs nextFile and nextWalk itself,
	// as the unit tests do): start one more worker or walker goroutine.
	startWorker, startWalker func()
	workersUp, walkersUp     int // started so far
	// Waiting in nextFile / nextWalk and not yet signalled: a signal takes one
	// off at once, so that two signals in a row do not count one waiter twice.
	workersIdle, walkersIdle int
	// Signals decided under the lock and sent by unlock, after it is released: a
	// goroutine woken while the lock is held would only block on it again.
	fileSignals, walkSignals int
}

// dirQueue is a directory's part of the scheduler, guarded by scheduler.mu.
type dirQueue struct {
	jobs     []job
	inflight int
	inReady  bool
}

func newScheduler(workers, walkers, perDir int) *scheduler {
	s := &scheduler{perDir: perDir, workers: workers, maxWalks: walkers, highWater: max(8*workers, 256)}
	s.walkCond, s.fileCond = sync.NewCond(&s.mu), sync.NewCond(&s.mu)
	return s
}

// startGoroutines makes the scheduler start its workers and walkers on demand:
// worker and walker each start one goroutine that runs nextFile or nextWalk until
// it returns false. They are called with the scheduler's lock held, so they must
// only start the goroutine (and count it in a WaitGroup).
func (s *scheduler) startGoroutines(worker, walker func()) {
	s.mu.Lock()
	s.startWorker, s.startWalker = worker, walker
	s.mu.Unlock()
}

// fileReady: a queued file may start now.
func (s *scheduler) fileReady() bool {
	return s.head < len(s.ready) && s.running < s.workers
}

// wakeWorker gives a ready file a worker: an idle one if any, else a new one while
// fewer than workers are started. Called with the lock held.
func (s *scheduler) wakeWorker() {
	if s.workersIdle > 0 {
		s.workersIdle--
		s.fileSignals++
		return
	}
	if s.startWorker != nil && s.workersUp < s.workers {
		s.workersUp++
		s.startWorker()
	}
}

// wakeWalker is wakeWorker for a walk that may start. Called with the lock held.
func (s *scheduler) wakeWalker() {
	if s.walkersIdle > 0 {
		s.walkersIdle--
		s.walkSignals++
		return
	}
	if s.startWalker != nil && s.walkersUp < s.maxWalks {
		s.walkersUp++
		s.startWalker()
	}
}

// unlock releases the lock, then sends the signals wakeWorker and wakeWalker
// decided (each wakes a goroutine counted idle: it is on the condition's wait list
// since before the lock was last released).
func (s *scheduler) unlock() {
	f, w := s.fileSignals, s.walkSignals
	s.fileSignals, s.walkSignals = 0, 0
	s.mu.Unlock()
	for range f {
		s.fileCond.Signal()
	}
	for range w {
		s.walkCond.Signal()
	}
}

// addWalks queues directories to be listed.
func (s *scheduler) addWalks(ns ...*dirNode) {
	if len(ns) == 0 {
		return
	}
	s.mu.Lock()
	for _, n := range ns {
		s.seq++
		n.walkSeq = s.seq
		heap.Push(&s.walks, n)
	}
	// One walker per walk that may start now: idle ones first, then new ones.
	for range min(len(ns), s.maxWalks-s.walking) {
		if !s.canWalk() {
			break
		}
		s.wakeWalker()
	}
	s.unlock()
}

// addFiles queues files of directory n (every job's dir is n).
func (s *scheduler) addFiles(n *dirNode, jobs []job) {
	if len(jobs) == 0 {
		return
	}
	s.mu.Lock()
	q := &n.q
	q.jobs = append(q.jobs, jobs...)
	s.queued += len(jobs)
	s.markReady(n)
	// As many workers as this directory can run at once (the taken files start
	// more, see nextFile); idle ones first.
	if s.fileReady() {
		for range min(len(jobs), s.perDir, s.workers-s.running) {
			s.wakeWorker()
		}
	}
	s.unlock()
}

// markReady puts n in the ring if it has files waiting and room for one more.
func (s *scheduler) markReady(n *dirNode) {
	q := &n.q
	if !q.inReady && len(q.jobs) > 0 && q.inflight < s.perDir {
		q.inReady = true
		s.ready = append(s.ready, n)
	}
}

// canWalk: a walk may start now.
func (s *scheduler) canWalk() bool {
	return len(s.walks) > 0 && s.walking < s.maxWalks &&
		(s.queued < s.highWater || s.head == len(s.ready))
}

// idle: nothing is queued or in flight, so nothing can add work any more.
func (s *scheduler) idle() bool {
	return len(s.walks) == 0 && s.walking == 0 && s.queued == 0 && s.running == 0
}

// nextWalk waits for a directory to list; false once the copy has no work left.
func (s *scheduler) nextWalk() (*dirNode, bool) {
	s.mu.Lock()
	defer s.unlock()
	for {
		if s.done {
			return nil, false
		}
		if s.canWalk() {
			n := heap.Pop(&s.walks).(*dirNode)
			s.walking++
			if s.canWalk() {
				s.wakeWalker() // more to list: one more walker
			}
			return n, true
		}
		s.walkersIdle++ // taken off by the signal that wakes it (wakeWalker)
		s.walkCond.Wait()
	}
}

// walkDone ends a walk taken with nextWalk.
func (s *scheduler) walkDone() {
	s.mu.Lock()
	s.walking--
	s.finishIfIdle()
	// The free walk slot needs no signal: this walker calls nextWalk again.
	s.mu.Unlock()
}

// nextFile waits for a file to copy: from the directory at the head of the ring,
// which goes back to the tail while it has files waiting and room. False once the
// copy has no work left.
func (s *scheduler) nextFile() (job, bool) {
	s.mu.Lock()
	defer s.unlock()
	for {
		if s.done {
			return job{}, false
		}
		if s.fileReady() {
			n := s.ready[s.head]
			s.ready[s.head] = nil
			s.head++
			if s.head > 64 && s.head*2 > len(s.ready) {
				s.ready = append(s.ready[:0], s.ready[s.head:]...)
				s.head = 0
			}
			q := &n.q
			j := q.jobs[0]
			q.jobs[0] = job{}
			q.jobs = q.jobs[1:]
			if len(q.jobs) == 0 {
				q.jobs = nil // let the backing array go
			}
			q.inflight++
			q.inReady = false
			s.markReady(n)
			s.queued--
			s.running++
			if s.fileReady() {
				s.wakeWorker() // more can start: one more worker
			}
			if s.canWalk() {
				s.wakeWalker()
			}
			return j, true
		}
		s.workersIdle++ // taken off by the signal that wakes it (wakeWorker)
		s.fileCond.Wait()
	}
}

// fileDone ends a file taken with nextFile.
func (s *scheduler) fileDone(n *dirNode) {
	s.mu.Lock()
	n.q.inflight--
	s.running--
	s.markReady(n)
	s.finishIfIdle()
	if s.fileReady() && s.workersIdle > 0 {
		// One more file may start: this worker takes it itself when it calls
		// nextFile again, but an idle one can start it sooner.
		s.wakeWorker()
	}
	if s.canWalk() {
		s.wakeWalker()
	}
	s.unlock()
}

// finishIfIdle ends the copy's work once nothing is left: every goroutine waiting
// in nextWalk or nextFile returns false.
func (s *scheduler) finishIfIdle() {
	if !s.done && s.idle() {
		s.done = true
		s.workersIdle, s.walkersIdle = 0, 0
		s.walkCond.Broadcast()
		s.fileCond.Broadcast()
	}
}

// walkHeap orders pending walks: the most subdirectories (by link count) first,
// then the most recently queued.
type walkHeap []*dirNode

func (h walkHeap) Len() int { return len(h) }
func (h walkHeap) Less(i, j int) bool {
	if h[i].src.Nlink != h[j].src.Nlink {
		return h[i].src.Nlink > h[j].src.Nlink
	}
	return h[i].walkSeq > h[j].walkSeq
}
func (h walkHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *walkHeap) Push(x any)   { *h = append(*h, x.(*dirNode)) }
func (h *walkHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return n
}
