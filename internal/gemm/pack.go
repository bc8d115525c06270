package gemm

// maskTab holds AVX lane masks: the 8 or 16 int32 lanes from &maskTab[16-n]
// have their first n lanes set (-1) and the rest clear.
var maskTab = [32]int32{
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
}

// packA packs the mcc×kcc block of op(A) starting at (i0, p0) into dst as a
// sequence of mr-row micro-panels. Within a micro-panel element (r, kk) is at
// kk*mr+r. Rows beyond mcc are zero-padded. The block is scaled by alpha.
func packA(dst, a []float32, lda int, trans bool, i0, mcc, p0, kcc int, alpha float32) {
	for ir := 0; ir < mcc; ir += mr {
		rows := min(mr, mcc-ir)
		d := dst[ir*kcc : ir*kcc+mr*kcc]
		if !trans {
			// op(A)(i, kk) = a[i*lda+kk]: rows are contiguous.
			if rows == mr {
				packT6(d, a, lda, (i0+ir)*lda+p0, kcc, alpha)
				continue
			}
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
		kk0 := 0
		if useAsm {
			o := p0*lda + i0 + ir
			_ = a[o+(kcc-1)*lda+rows-1]
			// copy6 reads 6 floats per k step: use it only where that
			// stays inside a.
			if rest := len(a) - o - mr; rest >= 0 {
				kk0 = min(kcc, rest/lda+1)
				copy6(&d[0], &a[o], lda, kk0, &maskTab[16-rows], alpha)
			}
		}
		for kk := kk0; kk < kcc; kk++ {
			o := (p0+kk)*lda + i0 + ir
			src := a[o : o+rows]
			dd := d[kk*mr : kk*mr+mr]
			if alpha == 1 {
				if rows == mr {
					*(*[mr]float32)(dd) = *(*[mr]float32)(src)
					continue
				}
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
			kk0 := 0
			if useAsm {
				o := p0*ldb + j0 + jr
				_ = b[o+(kcc-1)*ldb+cols-1]
				if cols == nr {
					copy16(&d[0], &b[o], ldb, kcc)
					continue
				}
				// copy16m reads 16 floats per row: use it only for
				// rows where that stays inside b.
				if rest := len(b) - o - nr; rest >= 0 {
					kk0 = min(kcc, rest/ldb+1)
					copy16m(&d[0], &b[o], ldb, kk0, &maskTab[nr-cols])
				}
			}
			for kk := kk0; kk < kcc; kk++ {
				o := (p0+kk)*ldb + j0 + jr
				dd := (*[nr]float32)(d[kk*nr : kk*nr+nr])
				if cols == nr {
					*dd = *(*[nr]float32)(b[o : o+nr])
					continue
				}
				copy(dd[:], b[o:o+cols])
				clear(dd[cols:])
			}
			continue
		}
		// op(B)(kk, j) = b[j*ldb+kk]: columns of op(B) are contiguous.
		if cols == nr {
			packT16(d, b, ldb, (j0+jr)*ldb+p0, kcc)
			continue
		}
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

// packT16 transposes 16 rows of length kcc, starting at src[off] with row
// stride ld, into d so that d[kk*16+r] = row r element kk. Reading the 16
// rows in lock step keeps all loads and stores sequential.
func packT16(d, src []float32, ld, off, kcc int) {
	if useAsm {
		// Bounds for the assembly: rows 0..15 of length kcc from off.
		_ = src[off+15*ld+kcc-1]
		_ = d[16*kcc-1]
		n8, rem := kcc/8, kcc%8
		// The remainder is read with full 8-float loads; if that would
		// run past src, leave the remainder to the Go loop below.
		if off+15*ld+8*n8+8 <= len(src) {
			transpose16(&d[0], &src[off], ld, n8, rem, &maskTab[16-rem])
			return
		}
		transpose16(&d[0], &src[off], ld, n8, 0, &maskTab[16])
		d = d[16*8*n8:]
		off += 8 * n8
		kcc = rem
	}
	r0 := src[off+0*ld : off+0*ld+kcc]
	r1 := src[off+1*ld : off+1*ld+kcc]
	r2 := src[off+2*ld : off+2*ld+kcc]
	r3 := src[off+3*ld : off+3*ld+kcc]
	r4 := src[off+4*ld : off+4*ld+kcc]
	r5 := src[off+5*ld : off+5*ld+kcc]
	r6 := src[off+6*ld : off+6*ld+kcc]
	r7 := src[off+7*ld : off+7*ld+kcc]
	r8 := src[off+8*ld : off+8*ld+kcc]
	r9 := src[off+9*ld : off+9*ld+kcc]
	r10 := src[off+10*ld : off+10*ld+kcc]
	r11 := src[off+11*ld : off+11*ld+kcc]
	r12 := src[off+12*ld : off+12*ld+kcc]
	r13 := src[off+13*ld : off+13*ld+kcc]
	r14 := src[off+14*ld : off+14*ld+kcc]
	r15 := src[off+15*ld : off+15*ld+kcc]
	d = d[:16*kcc]
	for kk := range r0 {
		dd := (*[16]float32)(d[kk*16 : kk*16+16])
		dd[0] = r0[kk]
		dd[1] = r1[kk]
		dd[2] = r2[kk]
		dd[3] = r3[kk]
		dd[4] = r4[kk]
		dd[5] = r5[kk]
		dd[6] = r6[kk]
		dd[7] = r7[kk]
		dd[8] = r8[kk]
		dd[9] = r9[kk]
		dd[10] = r10[kk]
		dd[11] = r11[kk]
		dd[12] = r12[kk]
		dd[13] = r13[kk]
		dd[14] = r14[kk]
		dd[15] = r15[kk]
	}
}

// packT6 is packT16 for the 6-row micro-panels of A, scaled by alpha.
func packT6(d, src []float32, ld, off, kcc int, alpha float32) {
	if useAsm {
		// Bounds for the assembly: rows 0..5 of length kcc from off.
		_ = src[off+5*ld+kcc-1]
		_ = d[6*kcc-1]
		n8, rem := kcc/8, kcc%8
		// The remainder is read with full 8-float loads; if that would
		// run past src, leave the remainder to the Go loop below.
		if off+5*ld+8*n8+8 <= len(src) {
			transpose6(&d[0], &src[off], ld, n8, rem, &maskTab[16-rem], alpha)
			return
		}
		transpose6(&d[0], &src[off], ld, n8, 0, &maskTab[16], alpha)
		d = d[6*8*n8:]
		off += 8 * n8
		kcc = rem
	}
	r0 := src[off+0*ld : off+0*ld+kcc]
	r1 := src[off+1*ld : off+1*ld+kcc]
	r2 := src[off+2*ld : off+2*ld+kcc]
	r3 := src[off+3*ld : off+3*ld+kcc]
	r4 := src[off+4*ld : off+4*ld+kcc]
	r5 := src[off+5*ld : off+5*ld+kcc]
	d = d[:6*kcc]
	if alpha == 1 {
		for kk := range r0 {
			dd := (*[6]float32)(d[kk*6 : kk*6+6])
			dd[0] = r0[kk]
			dd[1] = r1[kk]
			dd[2] = r2[kk]
			dd[3] = r3[kk]
			dd[4] = r4[kk]
			dd[5] = r5[kk]
		}
		return
	}
	for kk := range r0 {
		dd := (*[6]float32)(d[kk*6 : kk*6+6])
		dd[0] = alpha * r0[kk]
		dd[1] = alpha * r1[kk]
		dd[2] = alpha * r2[kk]
		dd[3] = alpha * r3[kk]
		dd[4] = alpha * r4[kk]
		dd[5] = alpha * r5[kk]
	}
}
