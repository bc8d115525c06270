#include "textflag.h"

// Horizontal sum of the four float64 lanes of Y into the low lane of X.
#define HSUM(Y, X, T) \
	VEXTRACTF128 $1, Y, T \
	VADDPD       T, X, X \
	VPERMILPD    $1, X, T \
	VADDSD       T, X, X

// Loads the arguments (x, a, b, n) and zeroes the six accumulators: Y8/Y9
// dot, Y10/Y11 ss, Y12/Y13 pp.
#define SETUP \
	MOVQ   x+0(FP), SI \
	MOVQ   a+8(FP), DI \
	MOVQ   b+16(FP), DX \
	MOVQ   n+24(FP), CX \
	VXORPD Y8, Y8, Y8 \
	VXORPD Y9, Y9, Y9 \
	VXORPD Y10, Y10, Y10 \
	VXORPD Y11, Y11, Y11 \
	VXORPD Y12, Y12, Y12 \
	VXORPD Y13, Y13, Y13 \
	XORQ   AX, AX

// Adds the accumulator pairs, reduces them and returns (dot, ss, pp).
#define FINISH \
	VADDPD Y9, Y8, Y8 \
	VADDPD Y11, Y10, Y10 \
	VADDPD Y13, Y12, Y12 \
	HSUM(Y8, X8, X0) \
	HSUM(Y10, X10, X0) \
	HSUM(Y12, X12, X0) \
	MOVSD  X8, dot+32(FP) \
	MOVSD  X10, ss+40(FP) \
	MOVSD  X12, pp+48(FP) \
	VZEROUPPER \
	RET


// func cpuHasAVX2FMA() bool
// CPUID.1:ECX FMA (bit 12), OSXSAVE (27), AVX (28); XCR0 bits 1 and 2 (the OS
// saves XMM and YMM state); CPUID.(7,0):EBX AVX2 (bit 5).
TEXT ·cpuHasAVX2FMA(SB), NOSPLIT, $0-1
	MOVB $0, ret+0(FP)
	MOVL $0, AX
	CPUID
	CMPL AX, $7
	JB   no
	MOVL $1, AX
	MOVL $0, CX
	CPUID
	MOVL CX, R8
	ANDL $0x18001000, R8
	CMPL R8, $0x18001000
	JNE  no
	MOVL $0, CX
	XGETBV
	ANDL $6, AX
	CMPL AX, $6
	JNE  no
	MOVL $7, AX
	MOVL $0, CX
	CPUID
	ANDL $0x20, BX
	JZ   no
	MOVB $1, ret+0(FP)
no:
	RET

// func sums3f32AVX(x, a, b *float32, n int) (dot, ss, pp float64)
// n must be a multiple of 8. s = x-a and p = a-b in float64; two sets of
// accumulators, combined at the end.
TEXT ·sums3f32AVX(SB), NOSPLIT, $0-56
	SETUP

loop32:
	CMPQ        AX, CX
	JAE         done32
	PREFETCHT0  1024(SI)(AX*4)
	PREFETCHT0  1024(DI)(AX*4)
	PREFETCHT0  1024(DX)(AX*4)
	VCVTPS2PD   (SI)(AX*4), Y0
	VCVTPS2PD   (DI)(AX*4), Y1
	VCVTPS2PD   (DX)(AX*4), Y2
	VCVTPS2PD   16(SI)(AX*4), Y3
	VCVTPS2PD   16(DI)(AX*4), Y4
	VCVTPS2PD   16(DX)(AX*4), Y5
	VSUBPD      Y1, Y0, Y0
	VSUBPD      Y2, Y1, Y1
	VSUBPD      Y4, Y3, Y3
	VSUBPD      Y5, Y4, Y4
	VFMADD231PD Y1, Y0, Y8
	VFMADD231PD Y0, Y0, Y10
	VFMADD231PD Y1, Y1, Y12
	VFMADD231PD Y4, Y3, Y9
	VFMADD231PD Y3, Y3, Y11
	VFMADD231PD Y4, Y4, Y13
	ADDQ        $8, AX
	JMP         loop32

done32:
	FINISH

// func sums3f64AVX(x, a, b *float64, n int) (dot, ss, pp float64)
// n must be a multiple of 8.
TEXT ·sums3f64AVX(SB), NOSPLIT, $0-56
	SETUP

loop64:
	CMPQ        AX, CX
	JAE         done64
	PREFETCHT0  1024(SI)(AX*8)
	PREFETCHT0  1024(DI)(AX*8)
	PREFETCHT0  1024(DX)(AX*8)
	VMOVUPD     (SI)(AX*8), Y0
	VMOVUPD     (DI)(AX*8), Y1
	VMOVUPD     (DX)(AX*8), Y2
	VMOVUPD     32(SI)(AX*8), Y3
	VMOVUPD     32(DI)(AX*8), Y4
	VMOVUPD     32(DX)(AX*8), Y5
	VSUBPD      Y1, Y0, Y0
	VSUBPD      Y2, Y1, Y1
	VSUBPD      Y4, Y3, Y3
	VSUBPD      Y5, Y4, Y4
	VFMADD231PD Y1, Y0, Y8
	VFMADD231PD Y0, Y0, Y10
	VFMADD231PD Y1, Y1, Y12
	VFMADD231PD Y4, Y3, Y9
	VFMADD231PD Y3, Y3, Y11
	VFMADD231PD Y4, Y4, Y13
	ADDQ        $8, AX
	JMP         loop64

done64:
	FINISH
