package nn

import (
	"sync"
	"testing"
)

// nested is a ranger that runs parallelFor inside each part.
type nested struct {
	mu    sync.Mutex
	inner []int
}

type leaf struct {
	mu   sync.Mutex
	seen []bool
}

func (l *leaf) run(lo, hi int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := lo; i < hi; i++ {
		l.seen[i] = true
	}
}

func (n *nested) run(lo, hi int) {
	for i := lo; i < hi; i++ {
		l := &leaf{seen: make([]bool, 100)}
		parallelFor(100, l)
		complete := true
		for _, ok := range l.seen {
			complete = complete && ok
		}
		n.mu.Lock()
		if complete {
			n.inner = append(n.inner, i)
		}
		n.mu.Unlock()
	}
}

// TestParallelForNested checks that parallelFor called from inside a
// parallelFor completes (it used to deadlock when every worker waited for
// work queued behind it) and covers every index.
func TestParallelForNested(t *testing.T) {
	n := &nested{}
	done := make(chan struct{})
	go func() {
		parallelFor(8, n)
		close(done)
	}()
	<-done
	if len(n.inner) != 8 {
		t.Fatalf("%d of 8 outer indices covered their whole inner range", len(n.inner))
	}
}
