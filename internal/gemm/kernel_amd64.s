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

// KSTEPM is KSTEP with explicit memory operands for the two B loads.
#define KSTEPM(bm0, bm1, a0, a1, a2, a3, a4, a5) \
	VMOVUPS bm0, Y12; \
	VMOVUPS bm1, Y13; \
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

// func kernelAsmS(kc int, a, b, c *float32, ldc int, beta float32, ldb int)
// As kernelAsm, but row kk of the B micro-panel is read in place at
// b + kk*ldb (16 floats) instead of from a packed panel.
TEXT ·kernelAsmS(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8
	MOVQ ldb+48(FP), R11
	SHLQ $2, R11
	LEAQ (R11)(R11*2), R12
	LEAQ (R11)(R11*4), R13
	SUBQ R11, R13

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
	JZ   tailS

loop4S:
	KSTEPM((DI), 32(DI), 0, 4, 8, 12, 16, 20)
	KSTEPM((DI)(R11*1), 32(DI)(R11*1), 24, 28, 32, 36, 40, 44)
	KSTEPM((DI)(R11*2), 32(DI)(R11*2), 48, 52, 56, 60, 64, 68)
	KSTEPM((DI)(R12*1), 32(DI)(R12*1), 72, 76, 80, 84, 88, 92)
	ADDQ $96, SI
	ADDQ R13, DI
	DECQ R9
	JNZ  loop4S

tailS:
	TESTQ CX, CX
	JZ    storeS

loop1S:
	KSTEPM((DI), 32(DI), 0, 4, 8, 12, 16, 20)
	ADDQ $24, SI
	ADDQ R11, DI
	DECQ CX
	JNZ  loop1S

storeS:
	VMOVSS beta+40(FP), X15
	VXORPS X14, X14, X14
	VUCOMISS X14, X15
	JNE  withbetaS
	JP   withbetaS
	STORE0(Y0, Y1)
	STORE0(Y2, Y3)
	STORE0(Y4, Y5)
	STORE0(Y6, Y7)
	STORE0(Y8, Y9)
	STORE0(Y10, Y11)
	VZEROUPPER
	RET

withbetaS:
	VBROADCASTSS beta+40(FP), Y15
	STOREB(Y0, Y1)
	STOREB(Y2, Y3)
	STOREB(Y4, Y5)
	STOREB(Y6, Y7)
	STOREB(Y8, Y9)
	STOREB(Y10, Y11)
	VZEROUPPER
	RET

// KSTEPG is KSTEP with explicit memory operands for the B loads and the six
// A broadcasts.
#define KSTEPG(bm0, bm1, am0, am1, am2, am3, am4, am5) \
	VMOVUPS bm0, Y12; \
	VMOVUPS bm1, Y13; \
	VBROADCASTSS am0, Y14; \
	VFMADD231PS Y12, Y14, Y0; \
	VFMADD231PS Y13, Y14, Y1; \
	VBROADCASTSS am1, Y15; \
	VFMADD231PS Y12, Y15, Y2; \
	VFMADD231PS Y13, Y15, Y3; \
	VBROADCASTSS am2, Y14; \
	VFMADD231PS Y12, Y14, Y4; \
	VFMADD231PS Y13, Y14, Y5; \
	VBROADCASTSS am3, Y15; \
	VFMADD231PS Y12, Y15, Y6; \
	VFMADD231PS Y13, Y15, Y7; \
	VBROADCASTSS am4, Y14; \
	VFMADD231PS Y12, Y14, Y8; \
	VFMADD231PS Y13, Y14, Y9; \
	VBROADCASTSS am5, Y15; \
	VFMADD231PS Y12, Y15, Y10; \
	VFMADD231PS Y13, Y15, Y11

// func kernelAsmAT(kc int, a *float32, lda int, b, c *float32, ldc int, beta float32)
// As kernelAsm, but the A micro-panel is read in place from A^T storage:
// k step kk uses the 6 floats at a + kk*lda.
TEXT ·kernelAsmAT(SB), NOSPLIT, $0-52
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R11
	MOVQ b+24(FP), DI
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8
	SHLQ $2, R11
	LEAQ (R11)(R11*2), R12
	LEAQ (R11)(R11*4), R13
	SUBQ R11, R13
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
	JZ   tailAT

loop4AT:
	KSTEPG(0(DI), 32(DI), 0(SI), 4(SI), 8(SI), 12(SI), 16(SI), 20(SI))
	KSTEPG(64(DI), 96(DI), 0(SI)(R11*1), 4(SI)(R11*1), 8(SI)(R11*1), 12(SI)(R11*1), 16(SI)(R11*1), 20(SI)(R11*1))
	KSTEPG(128(DI), 160(DI), 0(SI)(R11*2), 4(SI)(R11*2), 8(SI)(R11*2), 12(SI)(R11*2), 16(SI)(R11*2), 20(SI)(R11*2))
	KSTEPG(192(DI), 224(DI), 0(SI)(R12*1), 4(SI)(R12*1), 8(SI)(R12*1), 12(SI)(R12*1), 16(SI)(R12*1), 20(SI)(R12*1))
	ADDQ R13, SI
	ADDQ $256, DI
	DECQ R9
	JNZ  loop4AT

tailAT:
	TESTQ CX, CX
	JZ    storeAT

loop1AT:
	KSTEPG((DI), 32(DI), 0(SI), 4(SI), 8(SI), 12(SI), 16(SI), 20(SI))
	ADDQ R11, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop1AT

storeAT:
	VMOVSS beta+48(FP), X15
	VXORPS X14, X14, X14
	VUCOMISS X14, X15
	JNE  withbetaAT
	JP   withbetaAT
	STORE0(Y0, Y1)
	STORE0(Y2, Y3)
	STORE0(Y4, Y5)
	STORE0(Y6, Y7)
	STORE0(Y8, Y9)
	STORE0(Y10, Y11)
	VZEROUPPER
	RET

withbetaAT:
	VBROADCASTSS beta+48(FP), Y15
	STOREB(Y0, Y1)
	STOREB(Y2, Y3)
	STOREB(Y4, Y5)
	STOREB(Y6, Y7)
	STOREB(Y8, Y9)
	STOREB(Y10, Y11)
	VZEROUPPER
	RET

// func kernelAsmAN(kc int, a *float32, lda int, b, c *float32, ldc int, beta float32)
// As kernelAsm, but the A micro-panel is read in place from row-major A:
// row r of the panel is the kc floats at a + r*lda.
TEXT ·kernelAsmAN(SB), NOSPLIT, $0-52
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R11
	MOVQ b+24(FP), DI
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8
	SHLQ $2, R11
	LEAQ (R11)(R11*2), R10
	ADDQ SI, R10
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
	JZ   tailAN

loop4AN:
	KSTEPG(0(DI), 32(DI), 0(SI), 0(SI)(R11*1), 0(SI)(R11*2), 0(R10), 0(R10)(R11*1), 0(R10)(R11*2))
	KSTEPG(64(DI), 96(DI), 4(SI), 4(SI)(R11*1), 4(SI)(R11*2), 4(R10), 4(R10)(R11*1), 4(R10)(R11*2))
	KSTEPG(128(DI), 160(DI), 8(SI), 8(SI)(R11*1), 8(SI)(R11*2), 8(R10), 8(R10)(R11*1), 8(R10)(R11*2))
	KSTEPG(192(DI), 224(DI), 12(SI), 12(SI)(R11*1), 12(SI)(R11*2), 12(R10), 12(R10)(R11*1), 12(R10)(R11*2))
	ADDQ $16, SI
	ADDQ $16, R10
	ADDQ $256, DI
	DECQ R9
	JNZ  loop4AN

tailAN:
	TESTQ CX, CX
	JZ    storeAN

loop1AN:
	KSTEPG((DI), 32(DI), (SI), (SI)(R11*1), (SI)(R11*2), (R10), (R10)(R11*1), (R10)(R11*2))
	ADDQ $4, SI
	ADDQ $4, R10
	ADDQ $64, DI
	DECQ CX
	JNZ  loop1AN

storeAN:
	VMOVSS beta+48(FP), X15
	VXORPS X14, X14, X14
	VUCOMISS X14, X15
	JNE  withbetaAN
	JP   withbetaAN
	STORE0(Y0, Y1)
	STORE0(Y2, Y3)
	STORE0(Y4, Y5)
	STORE0(Y6, Y7)
	STORE0(Y8, Y9)
	STORE0(Y10, Y11)
	VZEROUPPER
	RET

withbetaAN:
	VBROADCASTSS beta+48(FP), Y15
	STOREB(Y0, Y1)
	STOREB(Y2, Y3)
	STOREB(Y4, Y5)
	STOREB(Y6, Y7)
	STOREB(Y8, Y9)
	STOREB(Y10, Y11)
	VZEROUPPER
	RET
