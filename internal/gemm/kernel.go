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

// kernelGo is the portable micro-kernel. It walks the 6×16 tile in 2×4
// blocks whose 8 accumulators stay in registers (larger blocks make the Go
// compiler spill), so each k step costs 6 loads for 8 multiply-adds.
func kernelGo(kc int, a, b, c []float32, ldc int, beta float32) {
	a = a[:kc*mr]
	b = b[:kc*nr]
	for i0 := 0; i0 < mr; i0 += 2 {
		for j0 := 0; j0 < nr; j0 += 4 {
			var c00, c01, c02, c03, c10, c11, c12, c13 float32
			for kk := 0; kk < kc; kk++ {
				ap := (*[2]float32)(a[kk*mr+i0 : kk*mr+i0+2])
				bp := (*[4]float32)(b[kk*nr+j0 : kk*nr+j0+4])
				a0, a1 := ap[0], ap[1]
				b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
				c00 += a0 * b0
				c01 += a0 * b1
				c02 += a0 * b2
				c03 += a0 * b3
				c10 += a1 * b0
				c11 += a1 * b1
				c12 += a1 * b2
				c13 += a1 * b3
			}
			storeGo(c[i0*ldc+j0:], ldc, beta, [2][4]float32{
				{c00, c01, c02, c03},
				{c10, c11, c12, c13},
			})
		}
	}
}

// storeGo writes a 2×4 block: C = acc + beta*C (C not read when beta is 0).
func storeGo(c []float32, ldc int, beta float32, acc [2][4]float32) {
	for i := range acc {
		cr := (*[4]float32)(c[i*ldc : i*ldc+4])
		if beta == 0 {
			*cr = acc[i]
			continue
		}
		for j := range cr {
			cr[j] = acc[i][j] + beta*cr[j]
		}
	}
}
