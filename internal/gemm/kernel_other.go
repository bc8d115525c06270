//go:build !amd64 || purego

package gemm

// useAsm is false on platforms without an assembly micro-kernel.
var useAsm = false

// kernelAsm is never called when useAsm is false.
func kernelAsm(kc int, a, b, c *float32, ldc int, beta float32) {
	panic("gemm: no assembly kernel on this platform")
}

// transpose16 is never called when useAsm is false.
func transpose16(dst, src *float32, ld, n8, rem int, mask *int32) {
	panic("gemm: no assembly kernel on this platform")
}

// transpose6 is never called when useAsm is false.
func transpose6(dst, src *float32, ld, n8, rem int, mask *int32, alpha float32) {
	panic("gemm: no assembly kernel on this platform")
}

// copy16 is never called when useAsm is false.
func copy16(dst, src *float32, ld, k int) {
	panic("gemm: no assembly kernel on this platform")
}

// copy6 is never called when useAsm is false.
func copy6(dst, src *float32, ld, k int, mask *int32, alpha float32) {
	panic("gemm: no assembly kernel on this platform")
}

// storeT is never called when useAsm is false.
func storeT(tile, c *float32, ldc int, beta float32) {
	panic("gemm: no assembly kernel on this platform")
}

// copy16m is never called when useAsm is false.
func copy16m(dst, src *float32, ld, k int, mask *int32) {
	panic("gemm: no assembly kernel on this platform")
}

// kernelAsmS is never called when useAsm is false.
func kernelAsmS(kc int, a, b, c *float32, ldc int, beta float32, ldb int) {
	panic("gemm: no assembly kernel on this platform")
}

// kernelAsmAT is never called when useAsm is false.
func kernelAsmAT(kc int, a *float32, lda int, b, c *float32, ldc int, beta float32) {
	panic("gemm: no assembly kernel on this platform")
}

// kernelAsmAN is never called when useAsm is false.
func kernelAsmAN(kc int, a *float32, lda int, b, c *float32, ldc int, beta float32) {
	panic("gemm: no assembly kernel on this platform")
}
