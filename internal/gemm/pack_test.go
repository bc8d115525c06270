package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestPackLayout checks packA and packB element by element against the
// documented micro-panel layout, including exact zeros in the padding of
// partial panels and alpha scaling (a single float32 multiply, so the
// comparison is exact). The destination is pre-filled with NaN so that an
// element the packer forgets to write is caught.
func TestPackLayout(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(13, 14))
		for it := 0; it < 400; it++ {
			trans := r.IntN(2) == 1
			rows, cols := 1+r.IntN(40), 1+r.IntN(40) // stored matrix
			ld := cols + r.IntN(3)
			src := randSlice(r, (rows-1)*ld+cols) // exact length: no slack
			alpha := float32(1)
			if r.IntN(2) == 1 {
				alpha = -0.75
			}
			// op(X) dimensions.
			or, oc := rows, cols
			if trans {
				or, oc = cols, rows
			}
			at := func(i, j int) float32 { // op(X)(i, j)
				if trans {
					return src[j*ld+i]
				}
				return src[i*ld+j]
			}
			// packA: block of op(A) rows [i0, i0+mcc), cols [p0, p0+kcc).
			i0, p0 := r.IntN(or), r.IntN(oc)
			mcc, kcc := 1+r.IntN(or-i0), 1+r.IntN(oc-p0)
			dst := make([]float32, (mcc+mr-1)/mr*mr*kcc)
			for i := range dst {
				dst[i] = float32(math.NaN())
			}
			packA(dst, src, ld, trans, i0, mcc, p0, kcc, alpha)
			for ir := 0; ir < mcc; ir += mr {
				for kk := 0; kk < kcc; kk++ {
					for rr := 0; rr < mr; rr++ {
						want := float32(0)
						if ir+rr < mcc {
							want = alpha * at(i0+ir+rr, p0+kk)
						}
						if got := dst[ir*kcc+kk*mr+rr]; got != want {
							t.Fatalf("packA trans=%v %dx%d ld=%d i0=%d mcc=%d p0=%d kcc=%d: panel %d (k=%d,r=%d) = %v, want %v",
								trans, rows, cols, ld, i0, mcc, p0, kcc, ir/mr, kk, rr, got, want)
						}
					}
				}
			}
			// packB: block of op(B) rows [p0, p0+kcc), cols [j0, j0+ncc).
			p0, j0 := r.IntN(or), r.IntN(oc)
			kcc, ncc := 1+r.IntN(or-p0), 1+r.IntN(oc-j0)
			dst = make([]float32, (ncc+nr-1)/nr*nr*kcc)
			for i := range dst {
				dst[i] = float32(math.NaN())
			}
			packB(dst, src, ld, trans, p0, kcc, j0, ncc)
			for jr := 0; jr < ncc; jr += nr {
				for kk := 0; kk < kcc; kk++ {
					for cc := 0; cc < nr; cc++ {
						want := float32(0)
						if jr+cc < ncc {
							want = at(p0+kk, j0+jr+cc)
						}
						if got := dst[jr*kcc+kk*nr+cc]; got != want {
							t.Fatalf("packB trans=%v %dx%d ld=%d p0=%d kcc=%d j0=%d ncc=%d: panel %d (k=%d,c=%d) = %v, want %v",
								trans, rows, cols, ld, p0, kcc, j0, ncc, jr/nr, kk, cc, got, want)
						}
					}
				}
			}
		}
	})
}
