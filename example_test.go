package autodrop_test

import (
	"fmt"
	"math"

	"github.com/autodrop-go/autodrop"
)

// trainOneEpoch stands in for a real training epoch: it moves the two
// parameter tensors along a slowly turning path whose turning rate settles.
func trainOneEpoch(params [][]float32, epoch int, lr float64) {
	turn := 0.5 + 0.5*math.Exp(-float64(epoch)/3) // radians per epoch, settling
	a := turn * float64(epoch)
	params[0][0] += float32(lr * math.Cos(a))
	params[0][1] += float32(lr * math.Sin(a))
	params[1][0] += float32(lr * 0.1)
}

// The basic use: create a scheduler, observe the parameters once per epoch,
// and use the learning rate it returns.
func Example() {
	cfg := autodrop.Config{
		LR:         0.1,
		DropFactor: 0.1,
		Theta:      1, // degrees
		Patience:   2,
	}
	sched, err := autodrop.New[float32](cfg)
	if err != nil {
		panic(err)
	}
	params := [][]float32{{0, 0}, {0}} // a model's tensors, not flattened
	lr := sched.LR()
	for epoch := 1; epoch <= 14; epoch++ {
		trainOneEpoch(params, epoch, lr)
		rec, err := sched.Observe(params)
		if err != nil {
			panic(err)
		}
		lr = rec.LR
		if rec.Dropped {
			fmt.Printf("epoch %d: angle %.2f, lr dropped to %.2g\n", rec.Epoch, rec.Angle, rec.LR)
		}
	}
	// Output:
	// epoch 8: angle 25.00, lr dropped to 0.01
	// epoch 11: angle 26.36, lr dropped to 0.001
	// epoch 14: angle 28.46, lr dropped to 0.0001
}

// A checkpoint holds the whole state, parameter buffers included; a
// restored scheduler continues exactly as the original would.
func ExampleScheduler_MarshalBinary() {
	sched, _ := autodrop.New[float64](autodrop.Config{LR: 0.1, DropFactor: 0.5, Theta: 5})
	params := [][]float64{{0, 0}}
	for _, p := range [][]float64{{1, 0}, {2, 1}} {
		copy(params[0], p)
		sched.Observe(params)
	}
	blob, _ := sched.MarshalBinary()

	var restored autodrop.Scheduler[float64]
	if err := restored.UnmarshalBinary(blob); err != nil {
		panic(err)
	}
	copy(params[0], []float64{2, 2})
	rec, _ := restored.Observe(params)
	fmt.Printf("epoch %d angle %.1f\n", rec.Epoch, rec.Angle)
	// Output:
	// epoch 3 angle 45.0
}

// In a sharded run every shard keeps its own scheduler over its part of the
// parameters. Each computes local sums; the sums are all-reduced (here,
// Combine) and every shard applies the same decision.
func ExampleCombine() {
	cfg := autodrop.Config{LR: 0.1, DropFactor: 0.5, Theta: 5}
	shard0, _ := autodrop.New[float32](cfg)
	shard1, _ := autodrop.New[float32](cfg)
	path := [][]float32{{0, 0, 0, 0}, {1, 0, 1, 0}, {2, 1, 2, 1}}
	for _, x := range path {
		p0, p1 := [][]float32{x[:2]}, [][]float32{x[2:]}
		s0, _ := shard0.Sums(p0)
		s1, _ := shard1.Sums(p1)
		total, _ := autodrop.Combine(s0, s1)
		r0, _ := shard0.Apply(p0, total)
		r1, _ := shard1.Apply(p1, total)
		if r0.HasAngle {
			fmt.Printf("shard 0: %.1f degrees, shard 1: %.1f degrees\n", r0.Angle, r1.Angle)
		}
	}
	// Output:
	// shard 0: 45.0 degrees, shard 1: 45.0 degrees
}

// The authors' settings are available as presets.
func ExampleCIFAR() {
	cfg := autodrop.CIFAR()
	cfg.LR = 0.05 // their ResNet script
	fmt.Printf("rho %g theta %g max theta %g min lr %g patience %d tail averaging %v\n",
		cfg.DropFactor, cfg.Theta, cfg.MaxTheta, cfg.MinLR, cfg.Patience, cfg.TailAverage)
	// Output:
	// rho 0.2 theta 0.01 max theta 1 min lr 0.0001 patience 19 tail averaging true
}
