package autodrop

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestKernelsAgree compares sums3 (the AVX2 kernel where available) with the
// portable sums3Go. Both accumulate in float64 in different orders (and the
// kernel uses fused multiply-adds), so they agree to a relative 1e-12 of the
// sum of absolute terms, far below any tolerance that matters for angles.
func TestKernelsAgree(t *testing.T) {
	t.Logf("AVX2/FMA kernels: %v", useAVX2)
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 63, 1000, 4099} {
		x32, a32, b32 := make([]float32, n), make([]float32, n), make([]float32, n)
		x64, a64, b64 := make([]float64, n), make([]float64, n), make([]float64, n)
		var absD, absS, absP float64
		for i := range n {
			x64[i], a64[i], b64[i] = r.NormFloat64(), r.NormFloat64(), r.NormFloat64()
			x32[i], a32[i], b32[i] = float32(x64[i]), float32(a64[i]), float32(b64[i])
			s, p := x64[i]-a64[i], a64[i]-b64[i]
			absD += math.Abs(s * p)
			absS += s * s
			absP += p * p
		}
		check := func(name string, d1, s1, p1, d2, s2, p2 float64) {
			t.Helper()
			tol := 1e-12
			if math.Abs(d1-d2) > tol*(absD+1e-300) || math.Abs(s1-s2) > tol*(absS+1e-300) || math.Abs(p1-p2) > tol*(absP+1e-300) {
				t.Errorf("%s n=%d: kernel (%v %v %v), portable (%v %v %v)", name, n, d1, s1, p1, d2, s2, p2)
			}
		}
		d1, s1, p1 := sums3(x32, a32, b32)
		d2, s2, p2 := sums3Go(x32, a32, b32)
		check("float32", d1, s1, p1, d2, s2, p2)
		d1, s1, p1 = sums3(x64, a64, b64)
		d2, s2, p2 = sums3Go(x64, a64, b64)
		check("float64", d1, s1, p1, d2, s2, p2)
	}
}
