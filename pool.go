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
// running it allocates nothing. Helpers claim chunks from next; the caller
// runs chunks too and, once none are left, waits only for the helpers that
// joined in time: a helper woken late finds the run closed and leaves, so a
// slow wake-up never delays the caller.
type batch struct {
	work chunker
	n    int64
	next atomic.Int64

	mu     sync.Mutex
	cond   sync.Cond // signalled when the last active helper leaves
	seq    uint64    // identifies the current run
	closed bool      // the caller has taken the last chunk
	active int       // helpers inside the current run
}

// token invites a helper to join run seq of b.
type token struct {
	b   *batch
	seq uint64
}

// workers is a process-wide pool of goroutines that help run batches. It
// grows to GOMAXPROCS-1 goroutines on demand and never shrinks; idle workers
// block on the channel and cost nothing.
var workers struct {
	mu      sync.Mutex
	started int
	ch      chan token
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

// help joins run t.seq of t.b if it is still open.
func help(t token) {
	b := t.b
	b.mu.Lock()
	if b.seq != t.seq || b.closed {
		b.mu.Unlock()
		return
	}
	b.active++
	b.mu.Unlock()
	b.drain()
	b.mu.Lock()
	b.active--
	if b.active == 0 && b.closed {
		b.cond.Signal()
	}
	b.mu.Unlock()
}

func worker(ch chan token) {
	for t := range ch {
		help(t)
	}
}

// run executes chunks 0..n-1 of w, using up to GOMAXPROCS goroutines
// including the caller's.
func (b *batch) run(w chunker, n int) {
	helpers := min(runtime.GOMAXPROCS(0), n) - 1
	b.mu.Lock()
	if b.cond.L == nil {
		b.cond.L = &b.mu
	}
	b.work, b.n = w, int64(n)
	b.next.Store(0)
	b.seq++
	b.closed = false
	seq := b.seq
	b.mu.Unlock()
	if helpers > 0 {
		workers.mu.Lock()
		if workers.ch == nil {
			workers.ch = make(chan token, 256)
		}
		for workers.started < helpers {
			go worker(workers.ch)
			workers.started++
		}
		ch := workers.ch
		workers.mu.Unlock()
		for range helpers {
			select {
			case ch <- token{b, seq}:
			default: // the queue is full: run without that helper
			}
		}
	}
	b.drain()
	b.mu.Lock()
	b.closed = true
	for b.active > 0 {
		b.cond.Wait()
	}
	b.work = nil
	b.mu.Unlock()
}
