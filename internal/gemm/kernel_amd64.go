//go:build amd64 && !purego

package gemm

// cpuid executes the CPUID instruction with the given leaf and sub-leaf.
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

// xgetbv reads extended control register XCR0.
func xgetbv() (eax, edx uint32)

// kernelAsm is the AVX2/FMA 6×16 micro-kernel; see microKernel.
//
//go:noescape
func kernelAsm(kc int, a, b, c *float32, ldc int, beta float32)

// kernelAsmS is kernelAsm reading the B micro-panel in place: row kk is the
// 16 floats at b + kk*ldb.
//
//go:noescape
func kernelAsmS(kc int, a, b, c *float32, ldc int, beta float32, ldb int)

// kernelAsmAT is kernelAsm reading the A micro-panel in place from A^T
// storage: k step kk uses the 6 floats at a + kk*lda.
//
//go:noescape
func kernelAsmAT(kc int, a *float32, lda int, b, c *float32, ldc int, beta float32)

// kernelAsmAN is kernelAsm reading the A micro-panel in place from
// row-major A: row r is the kc floats at a + r*lda.
//
//go:noescape
func kernelAsmAN(kc int, a *float32, lda int, b, c *float32, ldc int, beta float32)

// transpose16 sets dst[kk*16+r] = src[r*ld+kk] for r < 16 and
// kk < 8*n8+rem (0 <= rem < 8); mask must be maskTab[16-rem:].
//
//go:noescape
func transpose16(dst, src *float32, ld, n8, rem int, mask *int32)

// transpose6 sets dst[kk*6+r] = alpha*src[r*ld+kk] for r < 6 and
// kk < 8*n8+rem (0 <= rem < 8); mask must be maskTab[16-rem:].
//
//go:noescape
func transpose6(dst, src *float32, ld, n8, rem int, mask *int32, alpha float32)

// copy16m sets dst[kk*16+j] = src[kk*ld+j] for j < cols and 0 for
// cols <= j < 16, kk < k, without reading past column cols; mask must be
// maskTab[16-cols:].
//
//go:noescape
func copy16m(dst, src *float32, ld, k int, mask *int32)

// copy16 sets dst[kk*16:kk*16+16] = src[kk*ld:kk*ld+16] for kk < k.
//
//go:noescape
func copy16(dst, src *float32, ld, k int)

// copy6 sets dst[kk*6+j] = alpha*src[kk*ld+j] for kk < k and j < 6 where
// the 8-lane mask (maskTab[16-rows:]) is set, and 0 elsewhere. It reads 6
// floats per row, which the caller must ensure are addressable.
//
//go:noescape
func copy6(dst, src *float32, ld, k int, mask *int32, alpha float32)

// storeT sets c[j*ldc+r] = tile[r*16+j] + beta*c[j*ldc+r] for j < 16,
// r < 6, not reading c when beta is 0.
//
//go:noescape
func storeT(tile, c *float32, ldc int, beta float32)

// useAsm reports whether the CPU and OS support the AVX2/FMA kernel. Tests
// may clear it to exercise the portable kernel.
var useAsm = hasAVX2FMA()

// hasAVX2FMA checks CPUID for AVX, FMA and AVX2 and XCR0 for OS support of
// the YMM register state.
func hasAVX2FMA() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		fma     = 1 << 12
		osxsave = 1 << 27
		avx     = 1 << 28
	)
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // SSE and AVX state enabled
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0 // AVX2
}
