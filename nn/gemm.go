package nn

import (
	"sync"

	"github.com/autodrop-go/autodrop/internal/gemm"
)

// gemmFunc computes C = alpha*op(A)*op(B) + beta*C for row-major matrices,
// where op(X) is X or its transpose: op(A) is m×k, op(B) is k×n and C is
// m×n. lda, ldb and ldc are the row strides of A, B and C as stored. When
// beta is 0, C is not read. Results must be deterministic: the same inputs
// give the same bits whatever the number of threads.
type gemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// sgemm is the matrix kernel every layer uses; swapping kernels is a change
// of this one line.
var sgemm gemmFunc = gemm.Sgemm

// refGemm is the package's own kernel: it packs op(A) as m×k and op(B)ᵀ as
// n×k (both contiguous along k) when they are not already, then runs a
// register-blocked dot-product kernel split over the CPUs by rows or columns
// of C. Each element of C is summed in the same order whatever the split, so
// results do not depend on the number of threads.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	var pa, pb *[]float32
	if transA { // A is stored k×m; pack Aᵀ as m×k.
		pa = getBuf(m * k)
		transpose(*pa, a, k, m, lda)
		a, lda = *pa, k
	}
	if !transB { // B is stored k×n; pack Bᵀ as n×k.
		pb = getBuf(n * k)
		transpose(*pb, b, k, n, ldb)
		b, ldb = *pb, k
	}
	t := taskPool.Get().(*ntTask)
	*t = ntTask{m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	t.parallel()
	*t = ntTask{}
	taskPool.Put(t)
	if pa != nil {
		bufPool.Put(pa)
	}
	if pb != nil {
		bufPool.Put(pb)
	}
}

var bufPool sync.Pool

func getBuf(n int) *[]float32 {
	p, _ := bufPool.Get().(*[]float32)
	if p == nil {
		p = new([]float32)
	}
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

// transpose writes the transpose of the r×c matrix src (row stride ld) into
// dst as c×r, contiguous.
func transpose(dst, src []float32, r, c, ld int) {
	const bs = 32
	for i0 := 0; i0 < r; i0 += bs {
		i1 := min(i0+bs, r)
		for j0 := 0; j0 < c; j0 += bs {
			j1 := min(j0+bs, c)
			for i := i0; i < i1; i++ {
				row := src[i*ld : i*ld+j1]
				for j := j0; j < j1; j++ {
					dst[j*r+i] = row[j]
				}
			}
		}
	}
}

// ntTask is C = alpha*A*Bᵀ + beta*C with A m×k and B n×k, split by rows of
// C (splitRows) or by columns.
type ntTask struct {
	m, n, k     int
	alpha, beta float32
	a           []float32
	lda         int
	b           []float32
	ldb         int
	c           []float32
	ldc         int
	splitRows   bool
}

var taskPool = sync.Pool{New: func() any { return new(ntTask) }}

// run computes rows (or columns) 4*lo to 4*hi of C, clipped to its size.
func (t *ntTask) run(lo, hi int) {
	if t.splitRows {
		kernelNT(t, min(4*lo, t.m), min(4*hi, t.m), 0, t.n)
	} else {
		kernelNT(t, 0, t.m, min(4*lo, t.n), min(4*hi, t.n))
	}
}

// minParallelWork is the m*n*k below which splitting costs more than it
// saves.
const minParallelWork = 1 << 16

// parallel splits t along the larger of m and n, in blocks of 4.
func (t *ntTask) parallel() {
	t.splitRows = t.m >= t.n
	size := t.n
	if t.splitRows {
		size = t.m
	}
	blocks := (size + 3) / 4
	if t.m*t.n*t.k < minParallelWork {
		t.run(0, blocks)
		return
	}
	parallelFor(blocks, t)
}

// kernelNT computes rows [i0,i1) × columns [j0,j1) of C = alpha*A*Bᵀ+beta*C
// in 4×4 register blocks, each a dot product along k in order.
func kernelNT(t *ntTask, i0, i1, j0, j1 int) {
	k, a, b, c := t.k, t.a, t.b, t.c
	lda, ldb, ldc := t.lda, t.ldb, t.ldc
	alpha, beta := t.alpha, t.beta
	store := func(i, j int, v float32) {
		p := &c[i*ldc+j]
		if beta == 0 {
			*p = alpha * v
		} else {
			*p = alpha*v + beta**p
		}
	}
	i := i0
	for ; i+4 <= i1; i += 4 {
		a0 := a[i*lda:][:k]
		a1 := a[(i+1)*lda:][:k]
		a2 := a[(i+2)*lda:][:k]
		a3 := a[(i+3)*lda:][:k]
		j := j0
		for ; j+4 <= j1; j += 4 {
			b0 := b[j*ldb:][:k]
			b1 := b[(j+1)*ldb:][:k]
			b2 := b[(j+2)*ldb:][:k]
			b3 := b[(j+3)*ldb:][:k]
			var c00, c01, c02, c03, c10, c11, c12, c13 float32
			var c20, c21, c22, c23, c30, c31, c32, c33 float32
			for p := range k {
				x0, x1, x2, x3 := a0[p], a1[p], a2[p], a3[p]
				y0, y1, y2, y3 := b0[p], b1[p], b2[p], b3[p]
				c00 += x0 * y0
				c01 += x0 * y1
				c02 += x0 * y2
				c03 += x0 * y3
				c10 += x1 * y0
				c11 += x1 * y1
				c12 += x1 * y2
				c13 += x1 * y3
				c20 += x2 * y0
				c21 += x2 * y1
				c22 += x2 * y2
				c23 += x2 * y3
				c30 += x3 * y0
				c31 += x3 * y1
				c32 += x3 * y2
				c33 += x3 * y3
			}
			store(i, j, c00)
			store(i, j+1, c01)
			store(i, j+2, c02)
			store(i, j+3, c03)
			store(i+1, j, c10)
			store(i+1, j+1, c11)
			store(i+1, j+2, c12)
			store(i+1, j+3, c13)
			store(i+2, j, c20)
			store(i+2, j+1, c21)
			store(i+2, j+2, c22)
			store(i+2, j+3, c23)
			store(i+3, j, c30)
			store(i+3, j+1, c31)
			store(i+3, j+2, c32)
			store(i+3, j+3, c33)
		}
		for ; j < j1; j++ {
			bj := b[j*ldb:][:k]
			store(i, j, dot(a0, bj))
			store(i+1, j, dot(a1, bj))
			store(i+2, j, dot(a2, bj))
			store(i+3, j, dot(a3, bj))
		}
	}
	for ; i < i1; i++ {
		ai := a[i*lda:][:k]
		for j := j0; j < j1; j++ {
			store(i, j, dot(ai, b[j*ldb:][:k]))
		}
	}
}

func dot(x, y []float32) float32 {
	y = y[:len(x)]
	var s float32
	for p, v := range x {
		s += v * y[p]
	}
	return s
}
