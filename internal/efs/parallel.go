package efs

import (
	"sync"
	"sync/atomic"
)

// parallelFor runs fn(i) for every i in [0, n) on at most par goroutines, each
// taking the next index when it is free (so a slow call does not hold up a fixed
// share of the others). A goroutine whose call fails stops; the others go on, and
// the first error is returned once all have ended. par <= 1 runs in the caller.
func parallelFor(n, par int, fn func(i int) error) error {
	par = min(par, n)
	if par <= 1 {
		var first error
		for i := range n {
			if err := fn(i); err != nil {
				if first == nil {
					first = err
				}
				break
			}
		}
		return first
	}
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
