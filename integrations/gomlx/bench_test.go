package gomlxdrop

import (
	"testing"

	"github.com/autodrop-go/autodrop"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// BenchmarkEpochEnd measures the adapter's work at the end of an epoch for
// a model of about a million float32 parameters (16-1024-1024-2 MLP after
// one training epoch): reading the variables, AutoDrop's observation (which
// never fires here, Theta 0), setting the learning rate and storing the
// scheduler state in its variable. It also reports the median training step
// of that model (batch of 32), for scale.
func BenchmarkEpochEnd(b *testing.B) {
	ctx := context.New()
	model := func(ctx *context.Context, _ any, inputs []*graph.Node) []*graph.Node {
		h := graph.Tanh(layers.DenseWithBias(ctx.In("h1"), inputs[0], 1024))
		h = graph.Tanh(layers.DenseWithBias(ctx.In("h2"), h, 1024))
		return []*graph.Node{layers.DenseWithBias(ctx.In("out"), h, 2)}
	}
	opt := optimizers.StochasticGradientDescent().WithDecay(false).Done()
	trainer := train.NewTrainer(testBackend(b), ctx, model, losses.SparseCategoricalCrossEntropyLogits, opt, nil, nil)
	loop := train.NewLoop(trainer)
	s, err := autodrop.New[float32](autodrop.Config{LR: 0.1, DropFactor: 0.5})
	if err != nil {
		b.Fatal(err)
	}
	run, err := Attach(loop, nil, s, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := loop.RunEpochs(tinyData(b), 1); err != nil {
		b.Fatal(err)
	}
	res, err := run.EpochEnd()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if res, err = run.EpochEnd(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(res.Params), "params")
	// For scale: the median training step of the same model (batch of 32).
	b.ReportMetric(float64(loop.MedianTrainStepDuration().Nanoseconds()), "ns/train-step")
}
