package gemm

// packA packs the mcc×kcc block of op(A) starting at (i0, p0) into dst as a
// sequence of mr-row micro-panels. Within a micro-panel element (r, kk) is at
// kk*mr+r. Rows beyond mcc are zero-padded. The block is scaled by alpha.
func packA(dst, a []float32, lda int, trans bool, i0, mcc, p0, kcc int, alpha float32) {
	for ir := 0; ir < mcc; ir += mr {
		rows := min(mr, mcc-ir)
		d := dst[ir*kcc : ir*kcc+mr*kcc]
		if !trans {
			// op(A)(i, kk) = a[i*lda+kk]: rows are contiguous.
			for r := 0; r < rows; r++ {
				o := (i0+ir+r)*lda + p0
				src := a[o : o+kcc]
				if alpha == 1 {
					for kk, v := range src {
						d[kk*mr+r] = v
					}
				} else {
					for kk, v := range src {
						d[kk*mr+r] = alpha * v
					}
				}
			}
			for r := rows; r < mr; r++ {
				for kk := 0; kk < kcc; kk++ {
					d[kk*mr+r] = 0
				}
			}
			continue
		}
		// op(A)(i, kk) = a[kk*lda+i]: each k step is a contiguous run of rows.
		for kk := 0; kk < kcc; kk++ {
			o := (p0+kk)*lda + i0 + ir
			src := a[o : o+rows]
			dd := d[kk*mr : kk*mr+mr]
			if alpha == 1 {
				copy(dd, src)
			} else {
				for r, v := range src {
					dd[r] = alpha * v
				}
			}
			clear(dd[rows:])
		}
	}
}

// packB packs the kcc×ncc block of op(B) starting at (p0, j0) into dst as a
// sequence of nr-column micro-panels. Within a micro-panel element (kk, c)
// is at kk*nr+c. Columns beyond ncc are zero-padded.
func packB(dst, b []float32, ldb int, trans bool, p0, kcc, j0, ncc int) {
	for jr := 0; jr < ncc; jr += nr {
		cols := min(nr, ncc-jr)
		d := dst[jr*kcc : jr*kcc+nr*kcc]
		if !trans {
			// op(B)(kk, j) = b[kk*ldb+j]: each k step is a contiguous run.
			for kk := 0; kk < kcc; kk++ {
				o := (p0+kk)*ldb + j0 + jr
				dd := d[kk*nr : kk*nr+nr]
				copy(dd, b[o:o+cols])
				clear(dd[cols:])
			}
			continue
		}
		// op(B)(kk, j) = b[j*ldb+kk]: columns of op(B) are contiguous.
		for cc := 0; cc < cols; cc++ {
			o := (j0+jr+cc)*ldb + p0
			for kk, v := range b[o : o+kcc] {
				d[kk*nr+cc] = v
			}
		}
		if cols < nr {
			for kk := 0; kk < kcc; kk++ {
				clear(d[kk*nr+cols : kk*nr+nr])
			}
		}
	}
}
