package autodrop

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// chunkLen is the number of parameters in one unit of parallel work. It is a
// constant so that partial sums, and therefore results, do not depend on the
// number of cores or on GOMAXPROCS.
const chunkLen = 1 << 16

// commitChunkLen is the unit of parallel work of the pass that stores an
// observation. It is larger than chunkLen so that copy() moves blocks of
// megabytes, for which the runtime uses non-temporal stores.
const commitChunkLen = 1 << 20

// chunker is work split into numbered chunks that may run in any order.
type chunker interface {
	runChunk(i int)
}

// batch is one parallel run of n chunks. It lives inside a Scheduler so that
// running it allocates nothing.
type batch struct {
	work chunker
	n    int64
	next atomic.Int64
	wg   sync.WaitGroup
}

// workers is a process-wide pool of goroutines that help run batches. It
// grows to GOMAXPROCS-1 goroutines on demand and never shrinks; idle workers
// block on the channel and cost nothing.
var workers struct {
	mu      sync.Mutex
	started int
	ch      chan *batch
}

func (b *batch) drain() {
	for {
		i := b.next.Add(1) - 1
		if i >= b.n {
			return
		}
		b.work.runChunk(int(i))
	}
}

func worker(ch chan *batch) {
	for b := range ch {
		b.drain()
		b.wg.Done()
	}
}

// run executes chunks 0..n-1 of w, using up to GOMAXPROCS goroutines
// including the caller's.
func (b *batch) run(w chunker, n int) {
	helpers := min(runtime.GOMAXPROCS(0), n) - 1
	b.work, b.n = w, int64(n)
	b.next.Store(0)
	if helpers <= 0 {
		b.drain()
		b.work = nil
		return
	}
	workers.mu.Lock()
	if workers.ch == nil {
		workers.ch = make(chan *batch, 256)
	}
	for workers.started < helpers {
		go worker(workers.ch)
		workers.started++
	}
	ch := workers.ch
	workers.mu.Unlock()
	b.wg.Add(helpers)
	for range helpers {
		ch <- b
	}
	b.drain()
	b.wg.Wait()
	b.work = nil
}
