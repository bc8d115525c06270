package schedule_test

import (
	"fmt"
	"math"

	"github.com/autodrop-go/autodrop"
	"github.com/autodrop-go/autodrop/schedule"
)

// Parse a spec, as "autodrop train --schedule" does, and print the lr of
// each step.
func ExampleParse() {
	spec := `{"type": "multistep", "milestones": [2, 4], "gamma": 0.5}`
	s, err := schedule.Parse([]byte(spec), []float64{0.1}, schedule.ParseOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for step := 0; step <= 5; step++ {
		if step > 0 {
			if err := s.Step(); err != nil {
				fmt.Println(err)
				return
			}
		}
		fmt.Printf("step %d: lr %g\n", step, s.LRs()[0])
	}
	// Output:
	// step 0: lr 0.1
	// step 1: lr 0.1
	// step 2: lr 0.05
	// step 3: lr 0.05
	// step 4: lr 0.025
	// step 5: lr 0.025
}

// An unknown field is an error that lists the valid ones.
func ExampleParse_unknownField() {
	_, err := schedule.Parse([]byte(`{"type": "step", "step": 3}`), []float64{0.1}, schedule.ParseOptions{})
	fmt.Println(err)
	// Output:
	// schedule: step: unknown field "step"; valid fields: step_size, gamma
}

// A linear warmup followed by ReduceLROnPlateau, which PyTorch's
// SequentialLR cannot do. Step passes the validation loss to the plateau.
func ExampleNewSequential() {
	base := []float64{0.1}
	warmup, _ := schedule.NewLinear(base, 0.25, 1, 3)
	o := schedule.PlateauDefaults()
	o.Patience, o.Factor = 1, 0.5
	plateau, _ := schedule.NewPlateau(base, o)
	s, err := schedule.NewSequential([]schedule.Schedule{warmup, plateau}, []int{3})
	if err != nil {
		fmt.Println(err)
		return
	}
	losses := []float64{2.0, 1.5, 1.2, 1.0, 0.9, 0.95, 0.92, 0.91}
	fmt.Printf("lr %.4f\n", s.LRs()[0])
	for _, loss := range losses {
		if err := s.Step(loss); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("loss %.2f -> lr %.4f\n", loss, s.LRs()[0])
	}
	// Output:
	// lr 0.0250
	// loss 2.00 -> lr 0.0500
	// loss 1.50 -> lr 0.0750
	// loss 1.20 -> lr 0.1000
	// loss 1.00 -> lr 0.1000
	// loss 0.90 -> lr 0.1000
	// loss 0.95 -> lr 0.1000
	// loss 0.92 -> lr 0.0500
	// loss 0.91 -> lr 0.0500
}

// Plateau works with negative losses and rejects NaN.
func ExampleNewPlateau() {
	o := schedule.PlateauDefaults()
	o.Patience, o.Threshold = 0, 0.01
	p, _ := schedule.NewPlateau([]float64{1}, o)
	for _, loss := range []float64{-1, -1.005, math.NaN(), -1.5} {
		err := p.Step(loss)
		fmt.Printf("loss %v: lr %v, best %v, err %v\n", loss, p.LRs()[0], p.Best(), err)
	}
	// Output:
	// loss -1: lr 1, best -1, err <nil>
	// loss -1.005: lr 0.1, best -1, err <nil>
	// loss NaN: lr 0.1, best -1, err schedule: plateau: metric is NaN at step 3
	// loss -1.5: lr 0.1, best -1.5, err <nil>
}

// Save the state with a checkpoint and resume in a new process: the
// restored schedule continues exactly where the first one stopped.
func ExampleSchedule_resume() {
	spec := []byte(`{"type": "cosine", "t_max": 4, "eta_min": 0.001}`)
	a, _ := schedule.Parse(spec, []float64{0.1}, schedule.ParseOptions{})
	_ = a.Step()
	_ = a.Step()
	state, _ := a.MarshalBinary()

	b, _ := schedule.Parse(spec, []float64{0.1}, schedule.ParseOptions{})
	if err := b.UnmarshalBinary(state); err != nil {
		fmt.Println(err)
		return
	}
	_ = a.Step()
	_ = b.Step()
	fmt.Println(a.LRs()[0] == b.LRs()[0], b.LRs()[0])

	// A state only fits a schedule built with the same arguments.
	c, _ := schedule.NewCosine([]float64{0.1}, 5, 0.001)
	fmt.Println(c.UnmarshalBinary(state))
	// Output:
	// true 0.0154982143312659
	// schedule: cosine: UnmarshalBinary: state was saved by a schedule with other arguments: saved t_max=4 eta_min=0.001 base_lrs=[0.1], this schedule has t_max=5 eta_min=0.001 base_lrs=[0.1]
}

// OneCycle also cycles the momentum, which the training loop applies to the
// optimizer.
func ExampleOneCycle_Momentums() {
	s, _ := schedule.NewOneCycle([]float64{0.1}, 5, schedule.OneCycleDefaults())
	for i := 0; i < 5; i++ {
		if i > 0 {
			_ = s.Step()
		}
		fmt.Printf("lr %.6f momentum %.4f\n", s.LRs()[0], s.Momentums()[0])
	}
	// Output:
	// lr 0.004000 momentum 0.9500
	// lr 0.095048 momentum 0.8550
	// lr 0.061126 momentum 0.8889
	// lr 0.018826 momentum 0.9312
	// lr 0.000000 momentum 0.9500
}

// AutoDrop as a schedule: each Step observes the model's parameters. Here
// the "model" follows a path whose turning angle settles, so AutoDrop
// drops the lr of both parameter groups.
func ExampleNewAutoDrop() {
	params := [][]float64{{0, 0}}
	cfg := autodrop.Config{DropFactor: 0.5, Theta: 1, Patience: 1}
	s, err := schedule.NewAutoDrop(cfg, []float64{0.1, 0.01}, func() [][]float64 { return params })
	if err != nil {
		fmt.Println(err)
		return
	}
	phi := 0.0
	for epoch := 1; epoch <= 8; epoch++ {
		phi += (10 + 30/float64(epoch)) * math.Pi / 180 // "training"
		params[0][0] += math.Cos(phi)
		params[0][1] += math.Sin(phi)
		if err := s.Step(); err != nil {
			fmt.Println(err)
			return
		}
		r, _ := s.Last()
		fmt.Printf("epoch %d: lrs %v dropped %v\n", epoch, s.LRs(), r.Dropped)
	}
	// Output:
	// epoch 1: lrs [0.1 0.01] dropped false
	// epoch 2: lrs [0.1 0.01] dropped false
	// epoch 3: lrs [0.1 0.01] dropped false
	// epoch 4: lrs [0.1 0.01] dropped false
	// epoch 5: lrs [0.1 0.01] dropped false
	// epoch 6: lrs [0.1 0.01] dropped false
	// epoch 7: lrs [0.05 0.005] dropped true
	// epoch 8: lrs [0.05 0.005] dropped false
}
