// Package gemm implements a fast single-precision general matrix multiply
// (Sgemm) for row-major matrices, tuned for the small dense shapes that appear
// when training small neural networks (MLPs and im2col convolutions).
//
// The implementation follows the classic Goto/BLIS design: the operands are
// split into cache-sized blocks, each block is packed into a contiguous
// buffer, and a register-blocked micro-kernel computes 6x16 tiles of C. On
// amd64 CPUs with AVX2 and FMA (detected at run time with CPUID) the
// micro-kernel is written in assembly; elsewhere a pure-Go kernel is used.
//
// When n is small and m large (for example im2col convolution outputs with a
// handful of channels) Sgemm computes C^T = op(B)^T op(A)^T instead, so that
// the small dimension fills the 6-row side of the tile.
//
// Problems of at least 2^20 multiply-adds are split between up to GOMAXPROCS
// goroutines (a pool of workers started on first use and kept for reuse).
// Results are deterministic: every element of C is computed by exactly one
// goroutine, with a summation order that depends only on the problem shape
// (never on GOMAXPROCS or on how the work is split between goroutines). The
// assembly and pure-Go kernels round differently (the former uses fused
// multiply-add), so bit-identical results are guaranteed for a given kernel,
// not across CPUs or build tags.
//
// In steady state a call performs no heap allocation of its own: packing
// buffers are kept in a free list and reused. (When a parallel call parks
// goroutines, the Go runtime itself occasionally allocates a wait-queue
// entry; see TestSgemmNoAllocs.)
//
// Build with -tags purego to force the portable kernel.
package gemm

import "fmt"

// Sgemm computes
//
//	C = alpha * op(A) * op(B) + beta * C
//
// where op(X) is X or X^T (selected by transA and transB), op(A) is m×k,
// op(B) is k×n and C is m×n. All matrices are row-major: element (i, j) of a
// matrix X with leading dimension ldx is x[i*ldx+j]. A is stored as m×k
// (k×m if transA), B as k×n (n×k if transB).
//
// As in reference BLAS, when beta is zero C need not be initialised: its
// previous contents (including NaN or Inf) are ignored. When alpha is zero or
// k is zero, A and B are not read.
//
// Sgemm panics with a descriptive message if a dimension is negative, a
// leading dimension is too small, or a slice is too short for the shape it
// describes. C must not overlap A or B. Sgemm is safe for concurrent use
// (on distinct C matrices).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m < 0 {
		panic(fmt.Sprintf("gemm: m < 0 (m=%d)", m))
	}
	if n < 0 {
		panic(fmt.Sprintf("gemm: n < 0 (n=%d)", n))
	}
	if k < 0 {
		panic(fmt.Sprintf("gemm: k < 0 (k=%d)", k))
	}
	rowA, colA := m, k
	if transA {
		rowA, colA = k, m
	}
	rowB, colB := k, n
	if transB {
		rowB, colB = n, k
	}
	if lda < max(1, colA) {
		panic(fmt.Sprintf("gemm: bad lda=%d for A stored as %dx%d (need lda >= %d)", lda, rowA, colA, max(1, colA)))
	}
	if ldb < max(1, colB) {
		panic(fmt.Sprintf("gemm: bad ldb=%d for B stored as %dx%d (need ldb >= %d)", ldb, rowB, colB, max(1, colB)))
	}
	if ldc < max(1, n) {
		panic(fmt.Sprintf("gemm: bad ldc=%d for C of %dx%d (need ldc >= %d)", ldc, m, n, max(1, n)))
	}
	if m == 0 || n == 0 {
		return
	}
	if rowA > 0 && colA > 0 && len(a) < lda*(rowA-1)+colA {
		panic(fmt.Sprintf("gemm: insufficient length of a: len=%d, need %d for %dx%d with lda=%d", len(a), lda*(rowA-1)+colA, rowA, colA, lda))
	}
	if rowB > 0 && colB > 0 && len(b) < ldb*(rowB-1)+colB {
		panic(fmt.Sprintf("gemm: insufficient length of b: len=%d, need %d for %dx%d with ldb=%d", len(b), ldb*(rowB-1)+colB, rowB, colB, ldb))
	}
	if len(c) < ldc*(m-1)+n {
		panic(fmt.Sprintf("gemm: insufficient length of c: len=%d, need %d for %dx%d with ldc=%d", len(c), ldc*(m-1)+n, m, n, ldc))
	}
	if alpha == 0 || k == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	p := problem{
		transA: transA, transB: transB,
		m: m, n: n, k: k,
		alpha: alpha,
		a:     a, lda: lda,
		b: b, ldb: ldb,
		beta: beta,
		c:    c, rsc: ldc, csc: 1,
	}
	if swapBetter(m, n) {
		// Compute C^T = op(B)^T * op(A)^T instead, so that the small
		// dimension maps onto the 6-row side of the micro-tile.
		p = problem{
			transA: !transB, transB: !transA,
			m: n, n: m, k: k,
			alpha: alpha,
			a:     b, lda: ldb,
			b: a, ldb: lda,
			beta: beta,
			c:    c, rsc: 1, csc: ldc,
		}
	}
	run(&p)
}

// scaleC computes C = beta*C, setting C to zero (ignoring NaNs) when beta is 0.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// problem is a validated Sgemm call. C is addressed with general strides so
// that the transposed formulation (C^T = B^T A^T) can reuse the same driver.
type problem struct {
	transA, transB bool
	m, n, k        int
	alpha          float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	beta           float32
	c              []float32
	rsc, csc       int // row and column strides of C
}

// tileEff is the fraction of useful work when a dimension of size d is
// covered by tiles of size t.
func tileEff(d, t int) float64 {
	return float64(d) / float64((d+t-1)/t*t)
}

// swapBetter reports whether computing C^T wastes less of the mr×nr
// micro-tile than computing C directly. The transposed form stores C through
// a scratch tile, so it is only chosen when it is clearly better.
func swapBetter(m, n int) bool {
	direct := tileEff(m, mr) * tileEff(n, nr)
	swapped := tileEff(n, mr) * tileEff(m, nr)
	return swapped > 1.15*direct
}
