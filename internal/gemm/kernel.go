package gemm

// microKernel computes the mr×nr tile C = A*B + beta*C from a packed A
// micro-panel (kc×mr) and a packed B micro-panel (kc×nr). C has row stride
// ldc and unit column stride; when beta is 0, C is not read.
func microKernel(kc int, a, b, c []float32, ldc int, beta float32) {
	if useAsm {
		kernelAsm(kc, &a[0], &b[0], &c[0], ldc, beta)
		return
	}
	kernelGo(kc, a, b, c, ldc, beta)
}

// kernelGo is the portable micro-kernel. It keeps a 2×16 strip of C in
// local variables' worth of accumulators per pass over k.
func kernelGo(kc int, a, b, c []float32, ldc int, beta float32) {
	var acc [mr * nr]float32
	a = a[:kc*mr]
	b = b[:kc*nr]
	for kk := 0; kk < kc; kk++ {
		bb := (*[nr]float32)(b[kk*nr : kk*nr+nr])
		aa := (*[mr]float32)(a[kk*mr : kk*mr+mr])
		for r := 0; r < mr; r++ {
			ar := aa[r]
			row := (*[nr]float32)(acc[r*nr : r*nr+nr])
			for j := 0; j < nr; j++ {
				row[j] += ar * bb[j]
			}
		}
	}
	for r := 0; r < mr; r++ {
		row := (*[nr]float32)(acc[r*nr : r*nr+nr])
		cr := (*[nr]float32)(c[r*ldc : r*ldc+nr])
		if beta == 0 {
			*cr = *row
			continue
		}
		for j := 0; j < nr; j++ {
			cr[j] = row[j] + beta*cr[j]
		}
	}
}
