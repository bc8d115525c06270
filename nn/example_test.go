package nn_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/autodrop-go/autodrop/nn"
)

// Example trains an MLP on a synthetic 2-class problem (is x0+x1 > 0?),
// drops the learning rate, and evaluates.
func Example() {
	r := rand.New(rand.NewPCG(1, 2))
	make2 := func(n int) nn.Dataset {
		d := nn.Dataset{X: make([]float32, 2*n), Y: make([]uint8, n)}
		for i := range n {
			a, b := r.Float32()*2-1, r.Float32()*2-1
			d.X[2*i], d.X[2*i+1] = a, b
			if a+b > 0 {
				d.Y[i] = 1
			}
		}
		return d
	}
	train, test := make2(1000), make2(500)

	m, err := nn.NewMLP(2, []int{16}, 2, 1)
	if err != nil {
		panic(err)
	}
	opt, err := nn.NewSGD(m, nn.SGDConfig{LR: 0.1, Momentum: 0.9})
	if err != nil {
		panic(err)
	}
	for epoch := range 10 {
		if epoch == 5 {
			opt.SetLR(0.01) // a learning-rate drop
		}
		if _, _, err := nn.TrainEpoch(context.Background(), m, opt, train, 32, nn.EpochSeed(1, epoch), nil); err != nil {
			panic(err)
		}
	}
	_, acc, _ := nn.Evaluate(m, test)
	fmt.Println(m.Arch(), m.NumParams(), "parameters")
	fmt.Println("test accuracy above 95%:", acc > 0.95)
	// Output:
	// mlp:2-16-2 82 parameters
	// test accuracy above 95%: true
}
