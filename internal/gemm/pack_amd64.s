//go:build amd64 && !purego

// AVX2 helpers for packing (8x8 transposes, strided and masked panel copies)
// and for storing transposed tiles. The repetitive parts were expanded by a
// script that is not kept; this file is maintained by hand.

#include "textflag.h"

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

// func transpose16(dst, src *float32, ld, n8, rem int, mask *int32)
// For r < 16 and kk < 8*n8+rem: dst[kk*16+r] = src[r*ld+kk]. mask points
// to 8 int32 lanes whose first rem are -1 and the rest 0. When rem > 0 the
// remainder is read with full 8-float loads (then masked), so the caller
// must ensure src[15*ld+8*n8+7] is addressable. (Masked AVX loads are not
// used: AMD may fault on masked-out lanes.)
TEXT ·transpose16(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	MOVQ n8+24(FP), CX
	MOVQ rem+32(FP), BX
	MOVQ mask+40(FP), R13
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	LEAQ (SI)(R8*4), R10
	LEAQ (R10)(R8*4), R11
	LEAQ (R11)(R8*4), R12
	TESTQ CX, CX
	JZ   t16rem
t16loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(R8*1), Y5
	VMOVUPS (R10)(R8*2), Y6
	VMOVUPS (R10)(R9*1), Y7
	TRANSPOSE8X8
	VMOVUPS Y8, 0(DI)
	VMOVUPS Y9, 64(DI)
	VMOVUPS Y10, 128(DI)
	VMOVUPS Y11, 192(DI)
	VMOVUPS Y12, 256(DI)
	VMOVUPS Y13, 320(DI)
	VMOVUPS Y14, 384(DI)
	VMOVUPS Y15, 448(DI)
	VMOVUPS (R11), Y0
	VMOVUPS (R11)(R8*1), Y1
	VMOVUPS (R11)(R8*2), Y2
	VMOVUPS (R11)(R9*1), Y3
	VMOVUPS (R12), Y4
	VMOVUPS (R12)(R8*1), Y5
	VMOVUPS (R12)(R8*2), Y6
	VMOVUPS (R12)(R9*1), Y7
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
t16rem:
	TESTQ BX, BX
	JZ   t16done
	CMPQ BX, $3
	JGT  t16vec
	// A remainder of 1-3 columns is moved element by element: cheaper than
	// two full 8x8 transposes for so few useful outputs.
t16scal:
	MOVL (SI), AX
	MOVL AX, 0(DI)
	MOVL (SI)(R8*1), AX
	MOVL AX, 4(DI)
	MOVL (SI)(R8*2), AX
	MOVL AX, 8(DI)
	MOVL (SI)(R9*1), AX
	MOVL AX, 12(DI)
	MOVL (R10), AX
	MOVL AX, 16(DI)
	MOVL (R10)(R8*1), AX
	MOVL AX, 20(DI)
	MOVL (R10)(R8*2), AX
	MOVL AX, 24(DI)
	MOVL (R10)(R9*1), AX
	MOVL AX, 28(DI)
	MOVL (R11), AX
	MOVL AX, 32(DI)
	MOVL (R11)(R8*1), AX
	MOVL AX, 36(DI)
	MOVL (R11)(R8*2), AX
	MOVL AX, 40(DI)
	MOVL (R11)(R9*1), AX
	MOVL AX, 44(DI)
	MOVL (R12), AX
	MOVL AX, 48(DI)
	MOVL (R12)(R8*1), AX
	MOVL AX, 52(DI)
	MOVL (R12)(R8*2), AX
	MOVL AX, 56(DI)
	MOVL (R12)(R9*1), AX
	MOVL AX, 60(DI)
	ADDQ $4, SI
	ADDQ $4, R10
	ADDQ $4, R11
	ADDQ $4, R12
	ADDQ $64, DI
	DECQ BX
	JNZ  t16scal
	JMP  t16done
t16vec:
	VMOVDQU (R13), Y15
	VMOVUPS (SI), Y0
	VANDPS Y15, Y0, Y0
	VMOVUPS (SI)(R8*1), Y1
	VANDPS Y15, Y1, Y1
	VMOVUPS (SI)(R8*2), Y2
	VANDPS Y15, Y2, Y2
	VMOVUPS (SI)(R9*1), Y3
	VANDPS Y15, Y3, Y3
	VMOVUPS (R10), Y4
	VANDPS Y15, Y4, Y4
	VMOVUPS (R10)(R8*1), Y5
	VANDPS Y15, Y5, Y5
	VMOVUPS (R10)(R8*2), Y6
	VANDPS Y15, Y6, Y6
	VMOVUPS (R10)(R9*1), Y7
	VANDPS Y15, Y7, Y7
	TRANSPOSE8X8
	VMOVUPS Y8, 0(DI)
	CMPQ BX, $1
	JLE  t16h0
	VMOVUPS Y9, 64(DI)
	CMPQ BX, $2
	JLE  t16h0
	VMOVUPS Y10, 128(DI)
	CMPQ BX, $3
	JLE  t16h0
	VMOVUPS Y11, 192(DI)
	CMPQ BX, $4
	JLE  t16h0
	VMOVUPS Y12, 256(DI)
	CMPQ BX, $5
	JLE  t16h0
	VMOVUPS Y13, 320(DI)
	CMPQ BX, $6
	JLE  t16h0
	VMOVUPS Y14, 384(DI)
	CMPQ BX, $7
	JLE  t16h0
	VMOVUPS Y15, 448(DI)
t16h0:
	VMOVDQU (R13), Y15
	VMOVUPS (R11), Y0
	VANDPS Y15, Y0, Y0
	VMOVUPS (R11)(R8*1), Y1
	VANDPS Y15, Y1, Y1
	VMOVUPS (R11)(R8*2), Y2
	VANDPS Y15, Y2, Y2
	VMOVUPS (R11)(R9*1), Y3
	VANDPS Y15, Y3, Y3
	VMOVUPS (R12), Y4
	VANDPS Y15, Y4, Y4
	VMOVUPS (R12)(R8*1), Y5
	VANDPS Y15, Y5, Y5
	VMOVUPS (R12)(R8*2), Y6
	VANDPS Y15, Y6, Y6
	VMOVUPS (R12)(R9*1), Y7
	VANDPS Y15, Y7, Y7
	TRANSPOSE8X8
	VMOVUPS Y8, 32(DI)
	CMPQ BX, $1
	JLE  t16h1
	VMOVUPS Y9, 96(DI)
	CMPQ BX, $2
	JLE  t16h1
	VMOVUPS Y10, 160(DI)
	CMPQ BX, $3
	JLE  t16h1
	VMOVUPS Y11, 224(DI)
	CMPQ BX, $4
	JLE  t16h1
	VMOVUPS Y12, 288(DI)
	CMPQ BX, $5
	JLE  t16h1
	VMOVUPS Y13, 352(DI)
	CMPQ BX, $6
	JLE  t16h1
	VMOVUPS Y14, 416(DI)
	CMPQ BX, $7
	JLE  t16h1
	VMOVUPS Y15, 480(DI)
t16h1:
t16done:
	VZEROUPPER
	RET

// func transpose6(dst, src *float32, ld, n8, rem int, mask *int32, alpha float32)
// For r < 6 and kk < 8*n8+rem: dst[kk*6+r] = alpha*src[r*ld+kk]. mask and
// the addressability requirement (for row 5) are as for transpose16.
TEXT ·transpose6(SB), NOSPLIT, $0-52
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	MOVQ n8+24(FP), CX
	MOVQ rem+32(FP), BX
	MOVQ mask+40(FP), R13
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	LEAQ (SI)(R8*4), R10
	TESTQ CX, CX
	JZ   t6rem
t6loop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(R8*1), Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TRANSPOSE8X8
	VBROADCASTSS alpha+48(FP), Y1
	VMULPS Y1, Y8, Y8
	VMULPS Y1, Y9, Y9
	VMULPS Y1, Y10, Y10
	VMULPS Y1, Y11, Y11
	VMULPS Y1, Y12, Y12
	VMULPS Y1, Y13, Y13
	VMULPS Y1, Y14, Y14
	VMULPS Y1, Y15, Y15
	VMOVUPS X8, 0(DI)
	VEXTRACTF128 $1, Y8, X0
	VMOVSD X0, 16(DI)
	VMOVUPS X9, 24(DI)
	VEXTRACTF128 $1, Y9, X0
	VMOVSD X0, 40(DI)
	VMOVUPS X10, 48(DI)
	VEXTRACTF128 $1, Y10, X0
	VMOVSD X0, 64(DI)
	VMOVUPS X11, 72(DI)
	VEXTRACTF128 $1, Y11, X0
	VMOVSD X0, 88(DI)
	VMOVUPS X12, 96(DI)
	VEXTRACTF128 $1, Y12, X0
	VMOVSD X0, 112(DI)
	VMOVUPS X13, 120(DI)
	VEXTRACTF128 $1, Y13, X0
	VMOVSD X0, 136(DI)
	VMOVUPS X14, 144(DI)
	VEXTRACTF128 $1, Y14, X0
	VMOVSD X0, 160(DI)
	VMOVUPS X15, 168(DI)
	VEXTRACTF128 $1, Y15, X0
	VMOVSD X0, 184(DI)
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ $192, DI
	DECQ CX
	JNZ  t6loop
t6rem:
	TESTQ BX, BX
	JZ   t6done
	VMOVDQU (R13), Y15
	VMOVUPS (SI), Y0
	VANDPS Y15, Y0, Y0
	VMOVUPS (SI)(R8*1), Y1
	VANDPS Y15, Y1, Y1
	VMOVUPS (SI)(R8*2), Y2
	VANDPS Y15, Y2, Y2
	VMOVUPS (SI)(R9*1), Y3
	VANDPS Y15, Y3, Y3
	VMOVUPS (R10), Y4
	VANDPS Y15, Y4, Y4
	VMOVUPS (R10)(R8*1), Y5
	VANDPS Y15, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TRANSPOSE8X8
	VBROADCASTSS alpha+48(FP), Y1
	VMULPS Y1, Y8, Y8
	VMULPS Y1, Y9, Y9
	VMULPS Y1, Y10, Y10
	VMULPS Y1, Y11, Y11
	VMULPS Y1, Y12, Y12
	VMULPS Y1, Y13, Y13
	VMULPS Y1, Y14, Y14
	VMULPS Y1, Y15, Y15
	VMOVUPS X8, 0(DI)
	VEXTRACTF128 $1, Y8, X0
	VMOVSD X0, 16(DI)
	CMPQ BX, $1
	JLE  t6done
	VMOVUPS X9, 24(DI)
	VEXTRACTF128 $1, Y9, X0
	VMOVSD X0, 40(DI)
	CMPQ BX, $2
	JLE  t6done
	VMOVUPS X10, 48(DI)
	VEXTRACTF128 $1, Y10, X0
	VMOVSD X0, 64(DI)
	CMPQ BX, $3
	JLE  t6done
	VMOVUPS X11, 72(DI)
	VEXTRACTF128 $1, Y11, X0
	VMOVSD X0, 88(DI)
	CMPQ BX, $4
	JLE  t6done
	VMOVUPS X12, 96(DI)
	VEXTRACTF128 $1, Y12, X0
	VMOVSD X0, 112(DI)
	CMPQ BX, $5
	JLE  t6done
	VMOVUPS X13, 120(DI)
	VEXTRACTF128 $1, Y13, X0
	VMOVSD X0, 136(DI)
	CMPQ BX, $6
	JLE  t6done
	VMOVUPS X14, 144(DI)
	VEXTRACTF128 $1, Y14, X0
	VMOVSD X0, 160(DI)
	CMPQ BX, $7
	JLE  t6done
	VMOVUPS X15, 168(DI)
	VEXTRACTF128 $1, Y15, X0
	VMOVSD X0, 184(DI)
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

// func copy16m(dst, src *float32, ld, k int, mask *int32)
// For kk < k: dst[kk*16+j] = src[kk*ld+j] where mask[j] is -1 and 0 where
// it is 0 (j < 16). All 16 source floats of each row are read, so the caller
// must ensure they are addressable.
TEXT ·copy16m(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	MOVQ k+24(FP), CX
	MOVQ mask+32(FP), R13
	SHLQ $2, R8
	VMOVDQU (R13), Y2
	VMOVDQU 32(R13), Y3
	TESTQ CX, CX
	JZ   c16mdone
c16mloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VANDPS Y2, Y0, Y0
	VANDPS Y3, Y1, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ R8, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  c16mloop
c16mdone:
	VZEROUPPER
	RET

// func copy6(dst, src *float32, ld, k int, mask *int32, alpha float32)
// For kk < k, j < 6: dst[kk*6+j] = alpha*src[kk*ld+j] where mask[j] is -1
// and 0 where it is 0. All 6 source floats of each row are read, so the
// caller must ensure they are addressable.
TEXT ·copy6(SB), NOSPLIT, $0-44
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	MOVQ k+24(FP), CX
	MOVQ mask+32(FP), R13
	SHLQ $2, R8
	VBROADCASTSS alpha+40(FP), X2
	VMOVUPS (R13), X3
	VMOVSD 16(R13), X4
	TESTQ CX, CX
	JZ   c6done
c6loop:
	VMOVUPS (SI), X0
	VMOVSD  16(SI), X1
	VMULPS  X2, X0, X0
	VMULPS  X2, X1, X1
	VANDPS  X3, X0, X0
	VANDPS  X4, X1, X1
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
