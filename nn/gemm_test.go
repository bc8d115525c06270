package nn

import (
	"math"
	"testing"

	"github.com/autodrop-go/autodrop/internal/gemm"
)

// naiveGemm is the textbook triple loop in float64, the reference for both
// kernels.
func naiveGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				av := a[i*lda+p]
				if transA {
					av = a[p*lda+i]
				}
				bv := b[p*ldb+j]
				if transB {
					bv = b[j*ldb+p]
				}
				s += float64(av) * float64(bv)
			}
			v := float64(alpha) * s
			if beta != 0 {
				v += float64(beta) * float64(c[i*ldc+j])
			}
			out[i*n+j] = v
		}
	}
	return out
}

// TestKernels checks refGemm and gemm.Sgemm against a float64 triple loop
// on shapes like those the layers use (long k, the thin conv shapes, odd
// edges, sizes not multiples of the kernels' tiles) and
// all four transpose combinations. Tolerance 1e-3*(1+k): inputs are in
// [-1,1), so sum|a*b| <= k and float32 accumulation error is at most about
// k*2^-24*k (0.04 for k = 800, versus a bound of 0.8) and typically ~1e-5;
// an indexing or transpose bug gives errors of order sqrt(k)/3 ~ 1.
func TestKernels(t *testing.T) {
	kernels := map[string]gemmFunc{"ref": refGemm, "internal/gemm": gemm.Sgemm}
	shapes := [][3]int{{1, 1, 1}, {5, 7, 3}, {37, 70, 784}, {70, 300, 37}, {64, 784, 33}, {8 * 24 * 4, 6, 25}, {6, 25, 8 * 24 * 4}, {130, 10, 33}, {3, 9, 17}}
	r := rng{s: 42}
	for name, kern := range kernels {
		for _, sh := range shapes {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				for _, beta := range []float32{0, 0.5} {
					m, n, k := sh[0], sh[1], sh[2]
					tA, tB := tr[0], tr[1]
					lda, ldb, ldc := k+1, n+2, n+3
					if tA {
						lda = m + 1
					}
					if tB {
						ldb = k + 2
					}
					a := make([]float32, max(m, k)*lda)
					b := make([]float32, max(n, k)*ldb)
					c := make([]float32, m*ldc)
					r.uniform(a, 1)
					r.uniform(b, 1)
					r.uniform(c, 1)
					want := naiveGemm(tA, tB, m, n, k, 0.75, a, lda, b, ldb, beta, c, ldc)
					kern(tA, tB, m, n, k, 0.75, a, lda, b, ldb, beta, c, ldc)
					worst := 0.0
					for i := range m {
						for j := range n {
							worst = max(worst, math.Abs(float64(c[i*ldc+j])-want[i*n+j]))
						}
					}
					if worst > 1e-3*float64(1+k) {
						t.Errorf("%s %v tA=%v tB=%v beta=%v: max abs error %g", name, sh, tA, tB, beta, worst)
					}
				}
			}
		}
	}

}
