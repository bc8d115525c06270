package autodrop

import "math"

// sums3Go returns, in float64, the dot product of s = x-a and p = a-b and the
// squared norms of s and p. The summation order is fixed: four interleaved
// accumulators per quantity, combined pairwise at the end.
func sums3Go[T Float](x, a, b []T) (dot, ss, pp float64) {
	n := len(x)
	a = a[:n]
	b = b[:n]
	var d0, d1, d2, d3, s0, s1, s2, s3, p0, p1, p2, p3 float64
	i := 0
	for ; i+4 <= n; i += 4 {
		a0, a1, a2, a3 := float64(a[i]), float64(a[i+1]), float64(a[i+2]), float64(a[i+3])
		x0, x1, x2, x3 := float64(x[i])-a0, float64(x[i+1])-a1, float64(x[i+2])-a2, float64(x[i+3])-a3
		y0, y1, y2, y3 := a0-float64(b[i]), a1-float64(b[i+1]), a2-float64(b[i+2]), a3-float64(b[i+3])
		d0 += x0 * y0
		d1 += x1 * y1
		d2 += x2 * y2
		d3 += x3 * y3
		s0 += x0 * x0
		s1 += x1 * x1
		s2 += x2 * x2
		s3 += x3 * x3
		p0 += y0 * y0
		p1 += y1 * y1
		p2 += y2 * y2
		p3 += y3 * y3
	}
	for ; i < n; i++ {
		ai := float64(a[i])
		xi, yi := float64(x[i])-ai, ai-float64(b[i])
		d0 += xi * yi
		s0 += xi * xi
		p0 += yi * yi
	}
	return (d0 + d1) + (d2 + d3), (s0 + s1) + (s2 + s3), (p0 + p1) + (p2 + p3)
}

// finiteCheck returns 0 if every element of x is finite and NaN otherwise
// (x-x is 0 for finite x and NaN for Inf or NaN).
func finiteCheck[T Float](x []T) float64 {
	var c0, c1 float64
	i := 0
	for ; i+2 <= len(x); i += 2 {
		c0 += float64(x[i] - x[i])
		c1 += float64(x[i+1] - x[i+1])
	}
	for ; i < len(x); i++ {
		c0 += float64(x[i] - x[i])
	}
	return c0 + c1
}

// maxHalfDiff returns max_i |x_i/2 - a_i/2|, which cannot overflow.
func maxHalfDiff[T Float](x, a []T) float64 {
	m := 0.0
	for i := range x {
		d := math.Abs(float64(x[i])/2 - float64(a[i])/2)
		if d > m {
			m = d
		}
	}
	return m
}

// scaledSums3 is sums3 on s and p rescaled so that no product over- or
// underflows harmfully: s/2 and p/2 are computed without overflow, then
// multiplied by 2^-es and 2^-ep.
func scaledSums3[T Float](x, a, b []T, es, ep int) (dot, ss, pp float64) {
	for i := range x {
		ai := float64(a[i]) / 2
		si := math.Ldexp(float64(x[i])/2-ai, -es)
		pi := math.Ldexp(ai-float64(b[i])/2, -ep)
		dot += si * pi
		ss += si * si
		pp += pi * pi
	}
	return dot, ss, pp
}

// exponentOf returns e such that m*2^-e is in [0.5, 1), or 0 for m == 0.
func exponentOf(m float64) int {
	_, e := math.Frexp(m)
	return e
}
