package gemm

import (
	"math/rand/v2"
	"testing"
)

// benchShape is a matrix product that occurs when training the MNIST MLP
// (784-256-10) and LeNet (conv 5x5x6, conv 5x5x16 via im2col) with batch 128.
type benchShape struct {
	name    string
	tA, tB  bool
	m, n, k int
}

var benchShapes = []benchShape{
	// MLP layer 1: forward X·W1, dW1 = X^T·dH, dX = dH·W1^T.
	{"mlp1_fwd_128x784x256", false, false, 128, 256, 784},
	{"mlp1_dW_T(784x128)x256", true, false, 784, 256, 128},
	{"mlp1_dX_128x256xT(784)", false, true, 128, 784, 256},
	// MLP layer 2: forward H·W2, dW2 = H^T·dY, dH = dY·W2^T.
	{"mlp2_fwd_128x256x10", false, false, 128, 10, 256},
	{"mlp2_dW_T(256x128)x10", true, false, 256, 10, 128},
	{"mlp2_dH_128x10xT(256)", false, true, 128, 256, 10},
	// LeNet conv1: 1x28x28 -> 6x24x24, im2col rows = 128*24*24, cols = 25.
	{"conv1_fwd_73728x25x6", false, false, 128 * 576, 6, 25},
	{"conv1_dW_T(25x73728)x6", true, false, 25, 6, 128 * 576},
	// LeNet conv2: 6x12x12 -> 16x8x8, im2col rows = 128*8*8, cols = 150.
	{"conv2_fwd_8192x150x16", false, false, 128 * 64, 16, 150},
	{"conv2_dW_T(150x8192)x16", true, false, 150, 16, 128 * 64},
	{"conv2_dcol_8192x16xT(150)", false, true, 128 * 64, 150, 16},
	// Large square reference point.
	{"square_512", false, false, 512, 512, 512},

	// The calls package nn makes (dense weights stored out×in, conv
	// weights out×k*k*in, convolutions in chunks of 4 (conv1) and 6 (conv2)
	// samples, backward products computed transposed).
	{"nn_dense1_fwd_128x256xT(784)", false, true, 128, 256, 784},
	{"nn_dense1_dW_T(256x128)x784", true, false, 256, 784, 128},
	{"nn_dense2_fwd_128x10xT(256)", false, true, 128, 10, 256},
	{"nn_dense2_dW_T(10x128)x256", true, false, 10, 256, 128},
	{"nn_dense2_dx_128x10x256", false, false, 128, 256, 10},
	{"nn_conv1_fwd_2304x6xT(25)", false, true, 4 * 576, 6, 25},
	{"nn_conv1_dWT_T(25x2304)x6", true, false, 25, 6, 4 * 576},
	{"nn_conv2_fwd_384x16xT(150)", false, true, 6 * 64, 16, 150},
	{"nn_conv2_dWT_T(150x384)x16", true, false, 150, 16, 6 * 64},
	{"nn_conv2_dcolT_T(150x16)xT(384)", true, true, 150, 6 * 64, 16},
}

func BenchmarkSgemm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			rowA, colA := s.m, s.k
			if s.tA {
				rowA, colA = s.k, s.m
			}
			rowB, colB := s.k, s.n
			if s.tB {
				rowB, colB = s.n, s.k
			}
			a, bb, c := randSlice(r, rowA*colA), randSlice(r, rowB*colB), make([]float32, s.m*s.n)
			Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, colA, bb, colB, 0, c, s.n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, colA, bb, colB, 0, c, s.n)
			}
			flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}
