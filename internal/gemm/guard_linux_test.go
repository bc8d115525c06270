//go:build linux

package gemm

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"unsafe"
)

// guarded returns a slice of n float32s that ends exactly at a page boundary
// followed by an inaccessible page, so any read or write past its end (for
// example a too-wide vector load in the assembly) crashes the test.
func guarded(t *testing.T, n int) []float32 {
	t.Helper()
	page := syscall.Getpagesize()
	size := (n*4+page-1)/page*page + page
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[size-page:], syscall.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	end := size - page
	return unsafe.Slice((*float32)(unsafe.Pointer(&mem[end-n*4])), n)
}

// TestSgemmNoOverread runs odd shapes whose operands end at a guard page, so
// that packing and kernels (including masked vector loads for partial
// panels) are shown never to touch memory beyond the described matrices.
func TestSgemmNoOverread(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	forEachKernel(t, func(t *testing.T) {
		for it := 0; it < 200; it++ {
			tA, tB := r.IntN(2) == 1, r.IntN(2) == 1
			m, n, k := 1+r.IntN(40), 1+r.IntN(40), 1+r.IntN(40)
			if it%10 == 0 {
				m, n, k = 1+r.IntN(300), 1+r.IntN(40), 1+r.IntN(300)
			}
			rowA, colA := m, k
			if tA {
				rowA, colA = k, m
			}
			rowB, colB := k, n
			if tB {
				rowB, colB = n, k
			}
			lda, ldb, ldc := colA+r.IntN(3), colB+r.IntN(3), n+r.IntN(3)
			// Exact minimal lengths: the last row has no padding.
			a := guarded(t, (rowA-1)*lda+colA)
			b := guarded(t, (rowB-1)*ldb+colB)
			c := guarded(t, (m-1)*ldc+n)
			for i := range a {
				a[i] = float32(r.Float64())
			}
			for i := range b {
				b[i] = float32(r.Float64())
			}
			beta := float32(0)
			if it%2 == 1 {
				// Also exercise the paths that read C.
				beta = 0.5
				for i := range c {
					c[i] = float32(r.Float64())
				}
			}
			want := make([]float64, m*n)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var s float64
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
					}
					if beta != 0 {
						s += float64(beta) * float64(c[i*ldc+j])
					}
					want[i*n+j] = s
				}
			}
			Sgemm(tA, tB, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					// All terms are non-negative, so the reference sum is also
					// the magnitude bound of checkCase.
					if d := float64(c[i*ldc+j]) - want[i*n+j]; d > float64(k+4)*eps32*want[i*n+j] || -d > float64(k+4)*eps32*want[i*n+j] {
						t.Fatalf("tA=%v tB=%v m=%d n=%d k=%d: C[%d,%d]=%v want %v", tA, tB, m, n, k, i, j, c[i*ldc+j], want[i*n+j])
					}
				}
			}
		}
	})
}
