package autodrop

import "unsafe"

// useAVX2 selects the AVX2/FMA kernels. It is a variable so that tests can
// compare them with the portable code.
var useAVX2 = cpuHasAVX2FMA()

func cpuHasAVX2FMA() bool

//go:noescape
func sums3f32AVX(x, a, b *float32, n int) (dot, ss, pp float64)

//go:noescape
func sums3f64AVX(x, a, b *float64, n int) (dot, ss, pp float64)

// sums3 is sums3Go with the bulk done by an AVX2 kernel when available.
func sums3[T Float](x, a, b []T) (dot, ss, pp float64) {
	n := len(x) &^ 7
	if !useAVX2 || n == 0 {
		return sums3Go(x, a, b)
	}
	a, b = a[:len(x)], b[:len(x)]
	if unsafe.Sizeof(x[0]) == 4 {
		dot, ss, pp = sums3f32AVX((*float32)(unsafe.Pointer(&x[0])), (*float32)(unsafe.Pointer(&a[0])), (*float32)(unsafe.Pointer(&b[0])), n)
	} else {
		dot, ss, pp = sums3f64AVX((*float64)(unsafe.Pointer(&x[0])), (*float64)(unsafe.Pointer(&a[0])), (*float64)(unsafe.Pointer(&b[0])), n)
	}
	d, s, p := sums3Go(x[n:], a[n:], b[n:])
	return dot + d, ss + s, pp + p
}
