package gorgoniadrop

import (
	"testing"

	"github.com/autodrop-go/autodrop"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BenchmarkEpochEnd measures the adapter's work at the end of an epoch for
// about a million float32 parameters (the weights and biases of a
// 16-1024-1024-2 MLP): reading the learnables in place, AutoDrop's
// observation (which never fires here, Theta 0) and setting the solver's
// learning rate.
func BenchmarkEpochEnd(b *testing.B) {
	g := gorgonia.NewGraph()
	var learnables gorgonia.Nodes
	for i, shape := range [][2]int{{16, 1024}, {1, 1024}, {1024, 1024}, {1, 1024}, {1024, 2}, {1, 2}} {
		learnables = append(learnables, gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(shape[0], shape[1]),
			gorgonia.WithName(string(rune('a'+i))), gorgonia.WithInit(gorgonia.GlorotN(1))))
	}
	s, err := autodrop.New[float32](autodrop.Config{LR: 0.1, DropFactor: 0.5})
	if err != nil {
		b.Fatal(err)
	}
	run, err := Attach(gorgonia.NewMomentum(), learnables, s, nil)
	if err != nil {
		b.Fatal(err)
	}
	nudge := func(k int) { // a different step each epoch
		for _, n := range learnables {
			n.Value().(*tensor.Dense).Float32s()[k%n.Shape().TotalSize()] += 0.01
		}
	}
	var res Result
	for k := range 3 {
		nudge(k)
		if res, err = run.EpochEnd(); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for k := range b.N {
		nudge(k)
		if res, err = run.EpochEnd(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(res.Params), "params")
}
