package nn

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// ranger is work over an index range that can be split into independent
// parts. Implementations are pointers kept by their owner, so handing one to
// parallelFor does not allocate.
type ranger interface{ run(lo, hi int) }

type rangeTask struct {
	r      ranger
	lo, hi int
	wg     *sync.WaitGroup
}

var (
	workersOnce sync.Once
	workCh      chan rangeTask
	nWorkers    int

	// A free list of WaitGroups (not a sync.Pool, which may drop items and
	// so allocate, notably under the race detector).
	wgMu   sync.Mutex
	wgFree []*sync.WaitGroup

	// busy is set while a parallelFor uses the workers. A call made while
	// it is set (from inside a ranger, or from another goroutine) runs
	// serially: waiting for workers that are themselves waiting would
	// deadlock.
	busy atomic.Bool
)

func getWG() *sync.WaitGroup {
	wgMu.Lock()
	defer wgMu.Unlock()
	if n := len(wgFree); n > 0 {
		wg := wgFree[n-1]
		wgFree = wgFree[:n-1]
		return wg
	}
	return new(sync.WaitGroup)
}

func putWG(wg *sync.WaitGroup) {
	wgMu.Lock()
	wgFree = append(wgFree, wg)
	wgMu.Unlock()
}

func startWorkers() {
	nWorkers = runtime.GOMAXPROCS(0)
	workCh = make(chan rangeTask, nWorkers)
	for range nWorkers - 1 {
		go func() {
			for t := range workCh {
				t.r.run(t.lo, t.hi)
				t.wg.Done()
			}
		}()
	}
}

// parallelFor runs r over [0, n) split into one contiguous part per CPU
// (GOMAXPROCS when first used), the first part on the calling goroutine, and
// returns when all parts are done. The parts must be independent; the result
// must not depend on the split. Nested or concurrent calls run serially.
func parallelFor(n int, r ranger) {
	workersOnce.Do(startWorkers)
	parts := min(nWorkers, n)
	if parts <= 1 || !busy.CompareAndSwap(false, true) {
		r.run(0, n)
		return
	}
	defer busy.Store(false)
	wg := getWG()
	chunk := (n + parts - 1) / parts
	for lo := chunk; lo < n; lo += chunk {
		wg.Add(1)
		workCh <- rangeTask{r: r, lo: lo, hi: min(lo+chunk, n), wg: wg}
	}
	r.run(0, min(chunk, n))
	wg.Wait()
	putWG(wg)
}

// layerJob adapts a per-sample-range method of a layer to ranger; layers
// keep one per parallel operation so that no call allocates.
type layerJob struct {
	fn   func(x, y []float32, lo, hi int)
	x, y []float32
}

func (j *layerJob) run(lo, hi int) { j.fn(j.x, j.y, lo, hi) }

// over runs fn on samples [0, n) in parallel.
func (j *layerJob) over(n int, x, y []float32) {
	j.x, j.y = x, y
	parallelFor(n, j)
	j.x, j.y = nil, nil
}
