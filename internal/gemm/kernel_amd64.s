//go:build amd64 && !purego

#include "textflag.h"

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET

// One k step of the 6x16 tile: load 16 floats of packed B, broadcast each of
// the 6 packed A values and accumulate into Y0..Y11 (two registers per row).
#define KSTEP(b0, b1, a0, a1, a2, a3, a4, a5) \
	VMOVUPS b0(DI), Y12; \
	VMOVUPS b1(DI), Y13; \
	VBROADCASTSS a0(SI), Y14; \
	VFMADD231PS Y12, Y14, Y0; \
	VFMADD231PS Y13, Y14, Y1; \
	VBROADCASTSS a1(SI), Y15; \
	VFMADD231PS Y12, Y15, Y2; \
	VFMADD231PS Y13, Y15, Y3; \
	VBROADCASTSS a2(SI), Y14; \
	VFMADD231PS Y12, Y14, Y4; \
	VFMADD231PS Y13, Y14, Y5; \
	VBROADCASTSS a3(SI), Y15; \
	VFMADD231PS Y12, Y15, Y6; \
	VFMADD231PS Y13, Y15, Y7; \
	VBROADCASTSS a4(SI), Y14; \
	VFMADD231PS Y12, Y14, Y8; \
	VFMADD231PS Y13, Y14, Y9; \
	VBROADCASTSS a5(SI), Y15; \
	VFMADD231PS Y12, Y15, Y10; \
	VFMADD231PS Y13, Y15, Y11

// Store row accumulators lo, hi to (DX) and advance DX by one row.
#define STORE0(lo, hi) \
	VMOVUPS lo, (DX); \
	VMOVUPS hi, 32(DX); \
	ADDQ R8, DX

// C = acc + beta*C for one row; beta is broadcast in Y15.
#define STOREB(lo, hi) \
	VFMADD231PS (DX), Y15, lo; \
	VFMADD231PS 32(DX), Y15, hi; \
	VMOVUPS lo, (DX); \
	VMOVUPS hi, 32(DX); \
	ADDQ R8, DX

// func kernelAsm(kc int, a, b, c *float32, ldc int, beta float32)
TEXT ·kernelAsm(SB), NOSPLIT, $0-44
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	MOVQ CX, R9
	SHRQ $2, R9
	ANDQ $3, CX
	TESTQ R9, R9
	JZ   tail

loop4:
	KSTEP(0, 32, 0, 4, 8, 12, 16, 20)
	KSTEP(64, 96, 24, 28, 32, 36, 40, 44)
	KSTEP(128, 160, 48, 52, 56, 60, 64, 68)
	KSTEP(192, 224, 72, 76, 80, 84, 88, 92)
	ADDQ $96, SI
	ADDQ $256, DI
	DECQ R9
	JNZ  loop4

tail:
	TESTQ CX, CX
	JZ    store

loop1:
	KSTEP(0, 32, 0, 4, 8, 12, 16, 20)
	ADDQ $24, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop1

store:
	VMOVSS beta+40(FP), X15
	VXORPS X14, X14, X14
	VUCOMISS X14, X15
	JNE  withbeta
	JP   withbeta
	STORE0(Y0, Y1)
	STORE0(Y2, Y3)
	STORE0(Y4, Y5)
	STORE0(Y6, Y7)
	STORE0(Y8, Y9)
	STORE0(Y10, Y11)
	VZEROUPPER
	RET

withbeta:
	VBROADCASTSS beta+40(FP), Y15
	STOREB(Y0, Y1)
	STOREB(Y2, Y3)
	STOREB(Y4, Y5)
	STOREB(Y6, Y7)
	STOREB(Y8, Y9)
	STOREB(Y10, Y11)
	VZEROUPPER
	RET

// Transpose the 8x8 block in Y0..Y7 (row r in Yr) into Y8..Y15 (column c of
// the input in Y(8+c)). Clobbers Y0..Y7.
#define TRANSPOSE8X8 \
	VUNPCKLPS Y1, Y0, Y8; \
	VUNPCKHPS Y1, Y0, Y9; \
	VUNPCKLPS Y3, Y2, Y10; \
	VUNPCKHPS Y3, Y2, Y11; \
	VUNPCKLPS Y5, Y4, Y12; \
	VUNPCKHPS Y5, Y4, Y13; \
	VUNPCKLPS Y7, Y6, Y14; \
	VUNPCKHPS Y7, Y6, Y15; \
	VSHUFPS $0x44, Y10, Y8, Y0; \
	VSHUFPS $0xEE, Y10, Y8, Y1; \
	VSHUFPS $0x44, Y11, Y9, Y2; \
	VSHUFPS $0xEE, Y11, Y9, Y3; \
	VSHUFPS $0x44, Y14, Y12, Y4; \
	VSHUFPS $0xEE, Y14, Y12, Y5; \
	VSHUFPS $0x44, Y15, Y13, Y6; \
	VSHUFPS $0xEE, Y15, Y13, Y7; \
	VPERM2F128 $0x20, Y4, Y0, Y8; \
	VPERM2F128 $0x20, Y5, Y1, Y9; \
	VPERM2F128 $0x20, Y6, Y2, Y10; \
	VPERM2F128 $0x20, Y7, Y3, Y11; \
	VPERM2F128 $0x31, Y4, Y0, Y12; \
	VPERM2F128 $0x31, Y5, Y1, Y13; \
	VPERM2F128 $0x31, Y6, Y2, Y14; \
	VPERM2F128 $0x31, Y7, Y3, Y15

// Load 8 consecutive floats from 8 rows: rows 0-3 at P, P+ld, P+2ld, P+3ld
// and rows 4-7 at Q, Q+ld, ... (ld in R8, 3*ld in R9).
#define LOAD8ROWS(P, Q) \
	VMOVUPS (P), Y0; \
	VMOVUPS (P)(R8*1), Y1; \
	VMOVUPS (P)(R8*2), Y2; \
	VMOVUPS (P)(R9*1), Y3; \
	VMOVUPS (Q), Y4; \
	VMOVUPS (Q)(R8*1), Y5; \
	VMOVUPS (Q)(R8*2), Y6; \
	VMOVUPS (Q)(R9*1), Y7

// func transpose16(dst, src *float32, ld, n8 int)
// For r < 16 and kk < 8*n8: dst[kk*16+r] = src[r*ld+kk].
TEXT ·transpose16(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	MOVQ n8+24(FP), CX
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	LEAQ (SI)(R8*4), R10
	LEAQ (R10)(R8*4), R11
	LEAQ (R11)(R8*4), R12
	TESTQ CX, CX
	JZ   t16done

t16loop:
	LOAD8ROWS(SI, R10)
	TRANSPOSE8X8
	VMOVUPS Y8, 0(DI)
	VMOVUPS Y9, 64(DI)
	VMOVUPS Y10, 128(DI)
	VMOVUPS Y11, 192(DI)
	VMOVUPS Y12, 256(DI)
	VMOVUPS Y13, 320(DI)
	VMOVUPS Y14, 384(DI)
	VMOVUPS Y15, 448(DI)
	LOAD8ROWS(R11, R12)
	TRANSPOSE8X8
	VMOVUPS Y8, 32(DI)
	VMOVUPS Y9, 96(DI)
	VMOVUPS Y10, 160(DI)
	VMOVUPS Y11, 224(DI)
	VMOVUPS Y12, 288(DI)
	VMOVUPS Y13, 352(DI)
	VMOVUPS Y14, 416(DI)
	VMOVUPS Y15, 480(DI)
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $32, R12
	ADDQ $512, DI
	DECQ CX
	JNZ  t16loop

t16done:
	VZEROUPPER
	RET

// func transpose6(dst, src *float32, ld, n8 int, alpha float32)
// For r < 6 and kk < 8*n8: dst[kk*6+r] = alpha*src[r*ld+kk]. Each 6-float
// row is written with a 32-byte store, so the 2 floats after
// dst[8*n8*6-1] are clobbered; the caller fills them afterwards.
TEXT ·transpose6(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	MOVQ n8+24(FP), CX
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	LEAQ (SI)(R8*4), R10
	TESTQ CX, CX
	JZ   t6done

t6loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(R8*1), Y5
	VXORPS  Y6, Y6, Y6
	VXORPS  Y7, Y7, Y7
	TRANSPOSE8X8
	VBROADCASTSS alpha+32(FP), Y0
	VMULPS Y0, Y8, Y8
	VMULPS Y0, Y9, Y9
	VMULPS Y0, Y10, Y10
	VMULPS Y0, Y11, Y11
	VMULPS Y0, Y12, Y12
	VMULPS Y0, Y13, Y13
	VMULPS Y0, Y14, Y14
	VMULPS Y0, Y15, Y15
	VMOVUPS Y8, 0(DI)
	VMOVUPS Y9, 24(DI)
	VMOVUPS Y10, 48(DI)
	VMOVUPS Y11, 72(DI)
	VMOVUPS Y12, 96(DI)
	VMOVUPS Y13, 120(DI)
	VMOVUPS Y14, 144(DI)
	VMOVUPS Y15, 168(DI)
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ $192, DI
	DECQ CX
	JNZ  t6loop

t6done:
	VZEROUPPER
	RET

// func copy16(dst, src *float32, ld, k int)
// For kk < k: dst[kk*16 : kk*16+16] = src[kk*ld : kk*ld+16].
TEXT ·copy16(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	MOVQ k+24(FP), CX
	SHLQ $2, R8
	TESTQ CX, CX
	JZ   c16done

c16loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ R8, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  c16loop

c16done:
	VZEROUPPER
	RET

// func copy6(dst, src *float32, ld, k int, alpha float32)
// For kk < k: dst[kk*6 : kk*6+6] = alpha*src[kk*ld : kk*ld+6].
TEXT ·copy6(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	MOVQ k+24(FP), CX
	SHLQ $2, R8
	VBROADCASTSS alpha+32(FP), X2
	TESTQ CX, CX
	JZ   c6done

c6loop:
	VMOVUPS (SI), X0
	VMOVSD  16(SI), X1
	VMULPS  X2, X0, X0
	VMULPS  X2, X1, X1
	VMOVUPS X0, (DI)
	VMOVSD  X1, 16(DI)
	ADDQ R8, SI
	ADDQ $24, DI
	DECQ CX
	JNZ  c6loop

c6done:
	RET

// Store the first 6 floats of Y (X is its low half) to (DX), advance DX.
#define STORET0(Y, X) \
	VMOVUPS X, (DX); \
	VEXTRACTF128 $1, Y, X1; \
	VMOVSD X1, 16(DX); \
	ADDQ R8, DX

// As STORET0 but first add beta (in Y0) times the 6 floats at (DX).
#define STORETB(Y, X) \
	VMOVUPS (DX), X1; \
	VMOVSD 16(DX), X2; \
	VINSERTF128 $1, X2, Y1, Y1; \
	VFMADD231PS Y1, Y0, Y; \
	STORET0(Y, X)

// Load tile columns at byte offset off (8 columns) of the 6 tile rows into
// Y0..Y5 and zero Y6, Y7.
#define LOADTILE(off) \
	VMOVUPS off(SI), Y0; \
	VMOVUPS off+64(SI), Y1; \
	VMOVUPS off+128(SI), Y2; \
	VMOVUPS off+192(SI), Y3; \
	VMOVUPS off+256(SI), Y4; \
	VMOVUPS off+320(SI), Y5; \
	VXORPS Y6, Y6, Y6; \
	VXORPS Y7, Y7, Y7

// func storeT(tile, c *float32, ldc int, beta float32)
// For j < 16, r < 6: c[j*ldc+r] = tile[r*16+j] + beta*c[j*ldc+r], with c
// not read when beta is 0.
TEXT ·storeT(SB), NOSPLIT, $0-28
	MOVQ tile+0(FP), SI
	MOVQ c+8(FP), DX
	MOVQ ldc+16(FP), R8
	SHLQ $2, R8
	VMOVSS beta+24(FP), X0
	VXORPS X1, X1, X1
	VUCOMISS X1, X0
	JNE  stbeta
	JP   stbeta

	LOADTILE(0)
	TRANSPOSE8X8
	STORET0(Y8, X8)
	STORET0(Y9, X9)
	STORET0(Y10, X10)
	STORET0(Y11, X11)
	STORET0(Y12, X12)
	STORET0(Y13, X13)
	STORET0(Y14, X14)
	STORET0(Y15, X15)
	LOADTILE(32)
	TRANSPOSE8X8
	STORET0(Y8, X8)
	STORET0(Y9, X9)
	STORET0(Y10, X10)
	STORET0(Y11, X11)
	STORET0(Y12, X12)
	STORET0(Y13, X13)
	STORET0(Y14, X14)
	STORET0(Y15, X15)
	VZEROUPPER
	RET

stbeta:
	LOADTILE(0)
	TRANSPOSE8X8
	VBROADCASTSS beta+24(FP), Y0
	STORETB(Y8, X8)
	STORETB(Y9, X9)
	STORETB(Y10, X10)
	STORETB(Y11, X11)
	STORETB(Y12, X12)
	STORETB(Y13, X13)
	STORETB(Y14, X14)
	STORETB(Y15, X15)
	LOADTILE(32)
	TRANSPOSE8X8
	VBROADCASTSS beta+24(FP), Y0
	STORETB(Y8, X8)
	STORETB(Y9, X9)
	STORETB(Y10, X10)
	STORETB(Y11, X11)
	STORETB(Y12, X12)
	STORETB(Y13, X13)
	STORETB(Y14, X14)
	STORETB(Y15, X15)
	VZEROUPPER
	RET
