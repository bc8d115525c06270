package gemm_test

import (
	"fmt"

	"github.com/autodrop-go/autodrop/internal/gemm"
)

// A dense layer's forward pass, Y = X·W, followed by the weight gradient
// dW = X^T·dY accumulated into an existing gradient (beta = 1).
func ExampleSgemm() {
	x := []float32{ // 2×3 batch of inputs
		1, 2, 3,
		4, 5, 6,
	}
	w := []float32{ // 3×2 weights
		1, 0,
		0, 1,
		1, 1,
	}
	y := make([]float32, 2*2)
	gemm.Sgemm(false, false, 2, 2, 3, 1, x, 3, w, 2, 0, y, 2)
	fmt.Println("Y =", y)

	dy := []float32{1, 0, 0, 1} // 2×2 upstream gradient
	dw := make([]float32, 3*2)  // 3×2 gradient, accumulated
	gemm.Sgemm(true, false, 3, 2, 2, 1, x, 3, dy, 2, 1, dw, 2)
	fmt.Println("dW =", dw)
	// Output:
	// Y = [4 5 10 11]
	// dW = [1 4 2 5 3 6]
}
