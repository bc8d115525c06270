package autodrop

import (
	"fmt"
	"runtime/debug"
	"slices"
	"testing"
	"time"
)

// BenchmarkObserve times one observation of N float32 parameters held as
// eight tensors, and reports xcopy: the median time of one observation
// divided by the median time of copy() over the same slices, the two
// measured alternately in the same benchmark so that machine noise affects
// both. B/param is the scheduler's memory per parameter.
func BenchmarkObserve(b *testing.B) {
	for _, n := range []int{1 << 20, 16 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("%dM", n>>20), func(b *testing.B) {
			sizes := make([]int, 8)
			for i := range sizes {
				sizes[i] = n / 8
			}
			params := split(make([]float32, n), sizes)
			for i := range params {
				for j := range params[i] {
					params[i][j] = float32(j%1000) * 1e-3
				}
			}
			dst := split(make([]float32, n), sizes)
			s, err := New[float32](Config{LR: 0.1, DropFactor: 0.5, Theta: 0.01})
			if err != nil {
				b.Fatal(err)
			}
			for range 3 { // allocate and reach the steady state
				if _, err := s.Observe(params); err != nil {
					b.Fatal(err)
				}
			}
			// Collect and return the memory of earlier sub-benchmarks now,
			// so that neither the GC nor the scavenger competes with the
			// timed loop.
			debug.FreeOSMemory()
			obs := make([]time.Duration, 0, 64)
			cps := make([]time.Duration, 0, 64)
			b.SetBytes(int64(4 * n))
			b.ResetTimer()
			for b.Loop() {
				params[0][0] += 1e-3 // a nonzero step
				t0 := time.Now()
				if _, err := s.Observe(params); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				b.StopTimer()
				t2 := time.Now()
				for i := range params {
					copy(dst[i], params[i])
				}
				cps = append(cps, time.Since(t2))
				obs = append(obs, t1.Sub(t0))
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(float64(median(obs))/float64(median(cps)), "xcopy")
			b.ReportMetric(float64(s.memoryBytes())/float64(n), "B/param")
		})
	}
}

func median(d []time.Duration) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}

// BenchmarkMarshalBinary measures saving the state of 1M float32 parameters
// (two buffers, no pending tail).
func BenchmarkMarshalBinary(b *testing.B) {
	n := 1 << 20
	params := [][]float32{make([]float32, n)}
	s, _ := New[float32](Config{LR: 0.1, DropFactor: 0.5})
	for range 3 {
		s.Observe(params)
	}
	b.SetBytes(int64(8 * n))
	for b.Loop() {
		if _, err := s.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}
