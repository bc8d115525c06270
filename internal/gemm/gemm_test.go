package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// eps32 is the float32 machine epsilon (2^-23).
const eps32 = 1.0 / (1 << 23)

// refGemm computes alpha*op(A)*op(B) + beta*C in float64, and for each
// element the magnitude bound |alpha|*sum_p |a_ip||b_pj| + |beta||c_ij|
// used to scale the error tolerance.
func refGemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (want, mag []float64) {
	want = make([]float64, m*n)
	mag = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, sa float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if tA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if tB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
				sa += math.Abs(float64(av) * float64(bv))
			}
			w := float64(alpha) * s
			g := math.Abs(float64(alpha)) * sa
			if beta != 0 {
				w += float64(beta) * float64(c[i*ldc+j])
				g += math.Abs(float64(beta) * float64(c[i*ldc+j]))
			}
			want[i*n+j] = w
			mag[i*n+j] = g
		}
	}
	return want, mag
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64()*2 - 1)
	}
	return s
}

// checkCase runs one Sgemm call and compares it with the float64 reference.
//
// Tolerance: a float32 dot product of length k accumulated in any order (with
// or without FMA) has error at most gamma_k*sum|a||b| with gamma_k ~ k*u,
// u = eps32/2. Scaling by alpha (folded into packing), the beta*C term and
// the final addition add a few more roundings, so we allow
// (k+4)*eps32*(|alpha|*sum|a||b| + |beta||c|), i.e. about twice the
// worst-case bound; a real indexing or blocking bug produces errors of the
// order of the magnitude itself.
func checkCase(t *testing.T, r *rand.Rand, tA, tB bool, m, n, k, padA, padB, padC int, alpha, beta float32) {
	t.Helper()
	rowA, colA := m, k
	if tA {
		rowA, colA = k, m
	}
	rowB, colB := k, n
	if tB {
		rowB, colB = n, k
	}
	lda, ldb, ldc := max(1, colA+padA), max(1, colB+padB), max(1, n+padC)
	a := randSlice(r, max(0, (rowA-1)*lda+colA))
	b := randSlice(r, max(0, (rowB-1)*ldb+colB))
	c := randSlice(r, m*ldc)
	if beta == 0 {
		for i := range c {
			c[i] = float32(math.NaN())
		}
	}
	want, mag := refGemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	orig := append([]float32(nil), c...)
	Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	name := fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d lda=%d ldb=%d ldc=%d alpha=%v beta=%v", tA, tB, m, n, k, lda, ldb, ldc, alpha, beta)
	for i := 0; i < m; i++ {
		for j := 0; j < ldc; j++ {
			got := c[i*ldc+j]
			if j >= n {
				if !(got == orig[i*ldc+j] || (got != got && orig[i*ldc+j] != orig[i*ldc+j])) {
					t.Fatalf("%s: padding C[%d,%d] modified: %v -> %v", name, i, j, orig[i*ldc+j], got)
				}
				continue
			}
			tol := float64(k+4)*eps32*mag[i*n+j] + 1e-30
			if d := math.Abs(float64(got) - want[i*n+j]); !(d <= tol) {
				t.Fatalf("%s: C[%d,%d] = %v, want %v (|diff| %g > tol %g)", name, i, j, got, want[i*n+j], d, tol)
			}
		}
	}
}

// forEachKernel runs f with the assembly kernel (when available) and with
// the portable Go kernel.
func forEachKernel(t *testing.T, f func(t *testing.T)) {
	saved := useAsm
	defer func() { useAsm = saved }()
	if saved {
		t.Run("asm", f)
	}
	useAsm = false
	t.Run("go", f)
}

func TestSgemmEdgeShapes(t *testing.T) {
	dims := []int{1, 2, 5, 6, 7, 15, 16, 17, 33}
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, m := range dims {
					for _, n := range dims {
						for _, k := range []int{1, 3, 8, 17} {
							checkCase(t, r, tA, tB, m, n, k, r.IntN(3), r.IntN(3), r.IntN(3), 1, 0)
						}
					}
				}
			}
		}
	})
}

func TestSgemmRandomShapes(t *testing.T) {
	alphas := []float32{1, -0.5, 2.5, 0}
	betas := []float32{0, 1, -1.5, 0.3}
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for it := 0; it < 80; it++ {
			// Sizes up to 300/600 cross the mc (144) and kc (256) block
			// boundaries and the parallel threshold.
			m, n, k := 1+r.IntN(300), 1+r.IntN(300), 1+r.IntN(600)
			if it%2 == 1 {
				m, n, k = 1+r.IntN(160), 1+r.IntN(160), 1+r.IntN(300)
			}
			if it%4 == 0 {
				m, n, k = 1+r.IntN(20), 1+r.IntN(20), 1+r.IntN(20)
			}
			checkCase(t, r, r.IntN(2) == 1, r.IntN(2) == 1, m, n, k,
				r.IntN(5), r.IntN(5), r.IntN(5), alphas[r.IntN(len(alphas))], betas[r.IntN(len(betas))])
		}
	})
}

// TestSgemmNNShapes checks the shapes used by the MLP and LeNet training
// code (forward and both backward products).
func TestSgemmNNShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, s := range benchShapes {
		if testing.Short() && s.m*s.n*s.k > 1<<23 {
			continue
		}
		checkCase(t, r, s.tA, s.tB, s.m, s.n, s.k, 0, 0, 0, 1, 0)
		checkCase(t, r, s.tA, s.tB, s.m, s.n, s.k, 0, 0, 0, -0.01, 1)
	}
}

func TestSgemmQuickReturns(t *testing.T) {
	nan := float32(math.NaN())
	// alpha == 0: A and B are not used (NaNs there must not leak), C = beta*C.
	a := []float32{nan, nan, nan, nan}
	c := []float32{1, 2, 3, 4}
	Sgemm(false, false, 2, 2, 2, 0, a, 2, a, 2, 2, c, 2)
	for i, want := range []float32{2, 4, 6, 8} {
		if c[i] != want {
			t.Fatalf("alpha=0: c[%d]=%v want %v", i, c[i], want)
		}
	}
	// k == 0 with beta == 0 clears C even if it holds NaN.
	c = []float32{nan, nan, nan, nan}
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0, c, 2)
	for i := range c {
		if c[i] != 0 {
			t.Fatalf("k=0, beta=0: c[%d]=%v want 0", i, c[i])
		}
	}
	// m == 0 or n == 0 is a no-op.
	Sgemm(false, false, 0, 3, 3, 1, nil, 3, make([]float32, 9), 3, 0, nil, 3)
	Sgemm(true, true, 3, 0, 3, 1, make([]float32, 9), 3, nil, 3, 0, nil, 1)
}

func TestSgemmPanics(t *testing.T) {
	s := make([]float32, 100)
	cases := []struct {
		name string
		f    func()
		msg  string
	}{
		{"m<0", func() { Sgemm(false, false, -1, 2, 2, 1, s, 2, s, 2, 0, s, 2) }, "m < 0"},
		{"n<0", func() { Sgemm(false, false, 2, -1, 2, 1, s, 2, s, 2, 0, s, 2) }, "n < 0"},
		{"k<0", func() { Sgemm(false, false, 2, 2, -1, 1, s, 2, s, 2, 0, s, 2) }, "k < 0"},
		{"lda", func() { Sgemm(false, false, 2, 3, 4, 1, s, 3, s, 3, 0, s, 3) }, "bad lda"},
		{"ldaT", func() { Sgemm(true, false, 5, 3, 4, 1, s, 4, s, 3, 0, s, 3) }, "bad lda"},
		{"ldb", func() { Sgemm(false, false, 2, 3, 4, 1, s, 4, s, 2, 0, s, 3) }, "bad ldb"},
		{"ldbT", func() { Sgemm(false, true, 2, 3, 4, 1, s, 4, s, 3, 0, s, 3) }, "bad ldb"},
		{"ldc", func() { Sgemm(false, false, 2, 3, 4, 1, s, 4, s, 3, 0, s, 2) }, "bad ldc"},
		{"ld0", func() { Sgemm(false, false, 0, 0, 0, 1, s, 0, s, 1, 0, s, 1) }, "bad lda"},
		{"shortA", func() { Sgemm(false, false, 4, 3, 30, 1, s, 30, s, 3, 0, s, 3) }, "insufficient length of a"},
		{"shortB", func() { Sgemm(false, false, 3, 3, 40, 1, s, 40, s, 3, 0, s, 3) }, "insufficient length of a"},
		{"shortB2", func() { Sgemm(false, true, 2, 20, 10, 1, s, 10, s, 10, 0, s, 20) }, "insufficient length of b"},
		{"shortC", func() { Sgemm(false, false, 11, 10, 1, 1, s, 1, s, 10, 0, s, 10) }, "insufficient length of c"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatalf("no panic, want %q", tc.msg)
				}
				if msg := fmt.Sprint(r); !strings.Contains(msg, tc.msg) {
					t.Fatalf("panic %q, want it to contain %q", msg, tc.msg)
				}
			}()
			tc.f()
		})
	}
}

// TestSgemmDeterministic checks that results are bit-identical whatever
// GOMAXPROCS is and whichever parallel mode (static or dynamic split) runs,
// i.e. the parallel split never changes the summation order.
func TestSgemmDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer func(v int) { maxShared = v }(maxShared)
	type config struct{ procs, maxShared int }
	configs := []config{{1, maxShared}, {2, maxShared}, {3, maxShared}, {7, maxShared}, {2, 0}, {3, 0}}
	for _, s := range [][3]int{{128, 256, 784}, {300, 37, 530}, {11, 700, 300}, {20000, 6, 25}, {25, 6, 20000}, {3000, 16, 150}, {3000, 10, 256}} {
		m, n, k := s[0], s[1], s[2]
		a, b := randSlice(r, m*k), randSlice(r, k*n)
		var ref []float32
		for _, cf := range configs {
			procs := cf.procs
			runtime.GOMAXPROCS(procs)
			maxShared = cf.maxShared
			c := make([]float32, m*n)
			Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
			if ref == nil {
				ref = c
				continue
			}
			for i := range c {
				if math.Float32bits(c[i]) != math.Float32bits(ref[i]) {
					t.Fatalf("%v %+v: c[%d]=%v differs from GOMAXPROCS=1 result %v", s, cf, i, c[i], ref[i])
				}
			}
		}
	}
}

// TestSgemmNoAllocs checks that steady-state calls do not allocate, for a
// small serial problem and for large parallel ones.
func TestSgemmNoAllocs(t *testing.T) {
	// No GC during the measurements: a GC drops the runtime's central
	// sudog cache, which parking goroutines then refill by allocating.
	// (The test's own inputs are allocated before each measurement.)
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	r := rand.New(rand.NewPCG(9, 10))
	for _, s := range benchShapes {
		// The portable kernel is ~20x slower; keep this test short there.
		if (testing.Short() || !useAsm) && s.m*s.n*s.k > 1<<22 {
			continue
		}
		rowA, colA := s.m, s.k
		if s.tA {
			rowA, colA = s.k, s.m
		}
		rowB, colB := s.k, s.n
		if s.tB {
			rowB, colB = s.n, s.k
		}
		a, b, c := randSlice(r, rowA*colA), randSlice(r, rowB*colB), make([]float32, s.m*s.n)
		call := func() { Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, colA, b, colB, 0, c, s.n) }
		if allocs := testing.AllocsPerRun(50, call); allocs != 0 {
			t.Errorf("%s: %v allocations per call, want 0", s.name, allocs)
		}
		// AllocsPerRun rounds down, so also bound the exact total. Sgemm
		// itself allocates nothing, but a parallel call parks goroutines
		// (channel receives) and the runtime then occasionally allocates a
		// 112-byte sudog for its wait queues (memory profile: chanrecv in
		// run); measured 0-13 per 200 calls on a loaded 2-core machine, not
		// growing with the call count. A bound of 1 per 8 calls still
		// catches any real per-call allocation, which would give >= 200.
		const calls = 200
		for i := 0; i < calls; i++ {
			call() // let the runtime's sudog caches fill
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := 0; i < calls; i++ {
			call()
		}
		runtime.ReadMemStats(&after)
		d := after.Mallocs - before.Mallocs
		t.Logf("%s: %d allocations in %d calls", s.name, d, calls)
		if d > calls/8 {
			t.Errorf("%s: %d allocations in %d calls, want at most %d", s.name, d, calls, calls/8)
		}
	}
}

// TestSgemmConcurrent runs independent products from several goroutines at
// once (sharing the worker pool and context free list) and checks each.
func TestSgemmConcurrent(t *testing.T) {
	const callers = 6
	errs := make(chan error, callers)
	for g := 0; g < callers; g++ {
		go func(g int) {
			r := rand.New(rand.NewPCG(uint64(g), 99))
			m, n, k := 100+17*g, 90+13*g, 150+31*g // above the parallel threshold
			a, b := randSlice(r, m*k), randSlice(r, k*n)
			c := make([]float32, m*n)
			for rep := 0; rep < 5; rep++ {
				Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
				want, mag := refGemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
				for i := range c {
					if d := math.Abs(float64(c[i]) - want[i]); d > float64(k+4)*eps32*mag[i] {
						errs <- fmt.Errorf("caller %d rep %d: c[%d]=%v want %v", g, rep, i, c[i], want[i])
						return
					}
				}
			}
			errs <- nil
		}(g)
	}
	for g := 0; g < callers; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestSgemmSpecialValues puts a few Inf and NaN entries into A and B and
// checks that every element of C is NaN, ±Inf or finite exactly when the
// float64 reference is (values are small, so float32 cannot overflow where
// float64 does not), and finite elements are within tolerance. This guards
// against padding or out-of-range lanes leaking into real outputs.
func TestSgemmSpecialValues(t *testing.T) {
	special := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(15, 16))
		for it := 0; it < 300; it++ {
			tA, tB := r.IntN(2) == 1, r.IntN(2) == 1
			m, n, k := 1+r.IntN(40), 1+r.IntN(40), 1+r.IntN(40)
			if it%5 == 0 {
				m = 100 + r.IntN(200) // also the transposed and in-place paths
			}
			a, b := randSlice(r, m*k), randSlice(r, k*n)
			for i := 0; i < 2; i++ {
				a[r.IntN(len(a))] = special[r.IntN(3)]
				b[r.IntN(len(b))] = special[r.IntN(3)]
			}
			lda, ldb := k, n
			if tA {
				lda = m
			}
			if tB {
				ldb = k
			}
			c := make([]float32, m*n)
			for i := range c {
				c[i] = float32(math.NaN()) // beta = 0 must ignore this
			}
			want, mag := refGemm(tA, tB, m, n, k, 1, a, lda, b, ldb, 0, c, n)
			Sgemm(tA, tB, m, n, k, 1, a, lda, b, ldb, 0, c, n)
			for i, w := range want {
				g := float64(c[i])
				switch {
				case math.IsNaN(w) != math.IsNaN(g):
					t.Fatalf("tA=%v tB=%v %dx%dx%d: c[%d]=%v, want %v", tA, tB, m, n, k, i, g, w)
				case math.IsInf(w, 0) || math.IsInf(g, 0):
					if w != g {
						t.Fatalf("tA=%v tB=%v %dx%dx%d: c[%d]=%v, want %v", tA, tB, m, n, k, i, g, w)
					}
				case !math.IsNaN(w) && math.Abs(g-w) > float64(k+4)*eps32*mag[i]:
					t.Fatalf("tA=%v tB=%v %dx%dx%d: c[%d]=%v, want %v", tA, tB, m, n, k, i, g, w)
				}
			}
		}
	})
}
