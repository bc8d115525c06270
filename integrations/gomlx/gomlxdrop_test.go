package gomlxdrop

import (
	"bytes"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/autodrop-go/autodrop"
	"github.com/autodrop-go/autodrop/schedule"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/checkpoints"
	"github.com/gomlx/gomlx/pkg/ml/datasets"
	"github.com/gomlx/gomlx/pkg/ml/layers"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

var testBackend = func() func(t testing.TB) backends.Backend {
	var b backends.Backend
	return func(t testing.TB) backends.Backend {
		t.Helper()
		if b == nil {
			var err error
			if b, err = simplego.New(""); err != nil {
				t.Fatalf("simplego backend: %v", err)
			}
		}
		return b
	}
}()

// tinyData is a synthetic 2-class problem: 16 features, 256 examples.
func tinyData(t testing.TB) *datasets.InMemoryDataset {
	t.Helper()
	const n, dim = 256, 16
	r := rand.New(rand.NewSource(1))
	x := make([][]float32, n)
	y := make([][]int32, n)
	for i := range x {
		x[i] = make([]float32, dim)
		for j := range x[i] {
			x[i][j] = float32(r.NormFloat64())
		}
		if x[i][0]+x[i][1] > 0 {
			y[i] = []int32{1}
		} else {
			y[i] = []int32{0}
		}
	}
	ds, err := datasets.InMemoryFromData(testBackend(t), "synthetic", []any{x}, []any{y})
	if err != nil {
		t.Fatalf("dataset: %v", err)
	}
	ds.BatchSize(32, false)
	return ds
}

func tinyModel(ctx *context.Context, _ any, inputs []*graph.Node) []*graph.Node {
	h := graph.Tanh(layers.DenseWithBias(ctx.In("hidden"), inputs[0], 8))
	return []*graph.Node{layers.DenseWithBias(ctx.In("out"), h, 2)}
}

func newLoop(t *testing.T, ctx *context.Context) *train.Loop {
	t.Helper()
	opt := optimizers.StochasticGradientDescent().WithDecay(false).Done()
	trainer := train.NewTrainer(testBackend(t), ctx, tinyModel, losses.SparseCategoricalCrossEntropyLogits, opt, nil, nil)
	return train.NewLoop(trainer)
}

// forcedDrop makes AutoDrop drop as soon as it has a delta (observation 4):
// every |delta| is below a huge Theta.
func forcedDrop(patience int, tail bool) autodrop.Config {
	return autodrop.Config{LR: 0.1, DropFactor: 0.5, Theta: 1e6, Patience: patience, TailAverage: tail}
}

func lrValue(t *testing.T, v *context.Variable) float64 {
	t.Helper()
	val, err := v.Value()
	if err != nil {
		t.Fatalf("learning-rate variable: %v", err)
	}
	switch x := val.Value().(type) {
	case float32:
		return float64(x)
	case float64:
		return x
	}
	t.Fatalf("learning-rate variable holds %T", val.Value())
	return 0
}

// snapshot copies the observed variables, in the adapter's order.
func snapshot(t *testing.T, a *Adapter[float32]) [][]float32 {
	t.Helper()
	vars, err := a.params()
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]float32, len(vars))
	for i, v := range vars {
		val, err := v.Value()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = tensors.MustCopyFlatData[float32](val)
	}
	return out
}

func TestForcedDropSetsGoMLXLearningRate(t *testing.T) {
	ctx := context.New()
	loop := newLoop(t, ctx)
	var recs []autodrop.Record
	cfg := forcedDrop(0, false)
	cfg.OnRecord = func(r autodrop.Record) { recs = append(recs, r) }
	s, err := autodrop.New[float32](cfg)
	if err != nil {
		t.Fatal(err)
	}
	run, err := Attach(loop, tinyData(t), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	lrVar := ctx.InAbsPath("/" + optimizers.Scope).GetVariable(optimizers.ParamLearningRate)
	if lrVar == nil || lrVar != run.LRVariable() {
		t.Fatalf("adapter did not set %s/%s", optimizers.Scope, optimizers.ParamLearningRate)
	}
	if got := lrValue(t, lrVar); got != float64(float32(0.1)) {
		t.Fatalf("learning rate before training = %g, want 0.1", got)
	}
	run.Reset() // a Reset without any batch yielded is not an epoch
	if len(recs) != 0 {
		t.Fatalf("Reset before training observed %d epochs", len(recs))
	}
	if _, err := loop.RunEpochs(run, 4); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Fatalf("scheduler observed %d epochs, want 4", len(recs))
	}
	if !recs[3].Dropped || recs[2].Dropped {
		t.Fatalf("want the forced drop at epoch 4 only, records: %v", recs)
	}
	if s.LR() != 0.05 {
		t.Fatalf("scheduler LR after the drop = %g, want 0.05", s.LR())
	}
	if got := lrValue(t, lrVar); got != float64(float32(s.LR())) {
		t.Fatalf("GoMLX learning rate after the drop = %g, scheduler's = %g", got, s.LR())
	}
	last, ok := run.Last()
	if !ok || last.Epoch != 4 || last.LR != s.LR() || last.Tensors != 4 || last.Params != 16*8+8+8*2+2 {
		t.Fatalf("last result = %+v, %v", last, ok)
	}

	// The compiled training step must use the new rate: one SGD step from
	// the same parameters moves them by a step proportional to the rate.
	ds := tinyData(t)
	spec, inputs, labels, err := ds.Yield()
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, run)
	step := func(lr float64) [][]float32 {
		vars, _ := run.params()
		for i, v := range vars {
			if err := v.SetValue(tensors.FromFlatDataAndDimensions(before[i], v.Shape().Dimensions...)); err != nil {
				t.Fatal(err)
			}
		}
		if err := run.setLR(lr); err != nil {
			t.Fatal(err)
		}
		if _, err := loop.Trainer.TrainStep(spec, inputs, labels); err != nil {
			t.Fatal(err)
		}
		after := snapshot(t, run)
		for i := range after {
			for j := range after[i] {
				after[i][j] -= before[i][j]
			}
		}
		return after
	}
	small, large := step(s.LR()), step(4*s.LR())
	var num, den float64
	for i := range small {
		for j := range small[i] {
			num += float64(large[i][j]) * float64(small[i][j])
			den += float64(small[i][j]) * float64(small[i][j])
		}
	}
	if den == 0 || math.Abs(num/den-4) > 1e-3 {
		t.Fatalf("step with 4x the rate is %g times the step at the scheduler's rate, want 4", num/den)
	}
}

func TestTailAverageWrittenBack(t *testing.T) {
	ctx := context.New()
	loop := newLoop(t, ctx)
	s, err := autodrop.New[float32](forcedDrop(2, true))
	if err != nil {
		t.Fatal(err)
	}
	run, err := Attach(loop, nil, s, nil) // drive epochs by hand
	if err != nil {
		t.Fatal(err)
	}
	ds := tinyData(t)
	var seen [][][]float32
	for epoch := 1; epoch <= 8; epoch++ {
		if _, err := loop.RunEpochs(ds, 1); err != nil {
			t.Fatal(err)
		}
		seen = append(seen, snapshot(t, run))
		res, err := run.EpochEnd()
		if err != nil {
			t.Fatal(err)
		}
		if !res.Averaged {
			continue
		}
		// Armed at observation 4 (the first with a delta), fired at 6: the
		// average weighs observations 4, 5, 6 by 1, 2, 3.
		if epoch != 6 || !res.Record.Dropped {
			t.Fatalf("tail average at epoch %d (record %v), want at the drop of epoch 6", epoch, res.Record)
		}
		got := snapshot(t, run)
		for i := range got {
			for j := range got[i] {
				want := (1*float64(seen[3][i][j]) + 2*float64(seen[4][i][j]) + 3*float64(seen[5][i][j])) / 6
				if math.Abs(float64(got[i][j])-want) > 1e-6*(1+math.Abs(want)) {
					t.Fatalf("variable %d[%d] = %g after the drop, want the tail average %g", i, j, got[i][j], want)
				}
			}
		}
		if lrValue(t, run.LRVariable()) != float64(float32(s.LR())) || s.LR() != 0.05 {
			t.Fatalf("GoMLX learning rate %g, scheduler's %g, want 0.05", lrValue(t, run.LRVariable()), s.LR())
		}
		return
	}
	t.Fatal("no tail average was written back in 8 epochs")
}

func TestStateSurvivesCheckpointRestore(t *testing.T) {
	dir := t.TempDir()
	cfg := forcedDrop(0, false)

	ctx := context.New()
	ckpt, err := checkpoints.Build(ctx).Dir(dir).Done()
	if err != nil {
		t.Fatal(err)
	}
	loop := newLoop(t, ctx)
	s, err := autodrop.New[float32](cfg)
	if err != nil {
		t.Fatal(err)
	}
	run, err := Attach(loop, tinyData(t), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loop.RunEpochs(run, 5); err != nil {
		t.Fatal(err)
	}
	if err := ckpt.Save(); err != nil {
		t.Fatal(err)
	}
	want, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if s.LR() >= cfg.LR {
		t.Fatalf("no drop before the checkpoint (LR %g)", s.LR())
	}

	// A new process: fresh context and scheduler, checkpoint loaded first.
	ctx2 := context.New()
	if _, err := checkpoints.Build(ctx2).Dir(dir).Done(); err != nil {
		t.Fatal(err)
	}
	loop2 := newLoop(t, ctx2)
	loop2.Trainer.SetContext(ctx2.Reuse()) // the variables come from the checkpoint
	s2, err := autodrop.New[float32](cfg)
	if err != nil {
		t.Fatal(err)
	}
	run2, err := Attach(loop2, tinyData(t), s2, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) || s2.Epoch() != 5 || s2.LR() != s.LR() {
		t.Fatalf("restored scheduler: epoch %d LR %g, want epoch 5 LR %g (state equal: %v)",
			s2.Epoch(), s2.LR(), s.LR(), bytes.Equal(got, want))
	}
	if lrValue(t, run2.LRVariable()) != float64(float32(s.LR())) {
		t.Fatalf("restored GoMLX learning rate %g, want %g", lrValue(t, run2.LRVariable()), s.LR())
	}
	// Training continues from the restored state: the next observation is 6.
	if _, err := loop2.RunEpochs(run2, 1); err != nil {
		t.Fatal(err)
	}
	if last, _ := run2.Last(); last.Epoch != 6 || s2.Epoch() != 6 {
		t.Fatalf("after one more epoch: adapter epoch %d, scheduler epoch %d, want 6", last.Epoch, s2.Epoch())
	}
}

func TestErrors(t *testing.T) {
	ctx := context.New()
	loop := newLoop(t, ctx)
	s64, err := autodrop.New[float64](forcedDrop(0, false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Attach[float64](loop, nil, nil, nil); err == nil {
		t.Error("Attach accepted a nil scheduler")
	}
	if _, err := Attach(loop, nil, s64, &Options{Scope: "model"}); err == nil {
		t.Error("Attach accepted a relative scope")
	}
	// A float64 adapter on a float32 model: the learning rate must follow
	// the loss dtype (Float32), and the observation must fail clearly.
	run, err := Attach(loop, tinyData(t), s64, &Options{LRDType: dtypes.Float32})
	if err != nil {
		t.Fatal(err)
	}
	_, err = loop.RunEpochs(run, 1)
	if err == nil || !strings.Contains(err.Error(), "has dtype Float32, the adapter observes Float64") {
		t.Fatalf("RunEpochs with a float64 adapter on a float32 model: %v", err)
	}
	if run.Err() == nil || s64.Epoch() != 0 {
		t.Fatalf("adapter error %v, scheduler epochs %d", run.Err(), s64.Epoch())
	}

	ctx2 := context.New()
	loop2 := newLoop(t, ctx2)
	s32, _ := autodrop.New[float32](forcedDrop(0, false))
	run2, err := Attach(loop2, tinyData(t), s32, &Options{Scope: "/nothing"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = loop2.RunEpochs(run2, 1)
	if err == nil || !strings.Contains(err.Error(), `no trainable variable under scope "/nothing"`) {
		t.Fatalf("RunEpochs with an empty scope: %v", err)
	}
}

func TestAttachScheduleMultiStep(t *testing.T) {
	ctx := context.New()
	loop := newLoop(t, ctx)
	var s schedule.Schedule
	run, err := AttachSchedule(loop, tinyData(t), func(func() [][]float32) (schedule.Schedule, error) {
		var err error
		s, err = schedule.NewMultiStep([]float64{0.1}, []int{2}, 0.5)
		return s, err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loop.RunEpochs(run, 3); err != nil {
		t.Fatal(err)
	}
	if lr := s.LRs()[0]; lr != 0.05 || lrValue(t, run.LRVariable()) != float64(float32(lr)) {
		t.Fatalf("GoMLX learning rate %g, schedule's %g, want 0.05", lrValue(t, run.LRVariable()), lr)
	}
	// A schedule that does not read the parameters stops getting them.
	if last, _ := run.Last(); last.Epoch != 3 || last.Tensors != 0 || last.HasRecord {
		t.Fatalf("last result %+v: want epoch 3 without parameters read", last)
	}
}

func TestAttachScheduleParsedSequentialAutoDrop(t *testing.T) {
	ctx := context.New()
	loop := newLoop(t, ctx)
	var recs []autodrop.Record
	spec := `{"type": "sequential", "milestones": [2], "schedules": [
		{"type": "constant"},
		{"type": "autodrop", "drop_factor": 0.5, "theta": 1e6, "patience": 0, "tail_average": false, "auto_theta": false}]}`
	var s schedule.Schedule
	run, err := AttachSchedule(loop, tinyData(t), func(params func() [][]float32) (schedule.Schedule, error) {
		var err error
		s, err = schedule.Parse([]byte(spec), []float64{0.1}, schedule.ParseOptions{
			Params:   params,
			OnRecord: func(r autodrop.Record) { recs = append(recs, r) },
		})
		return s, err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// AutoDrop starts at step 3 and observes steps 3..6: it has its first
	// delta, and drops, at step 6.
	if _, err := loop.RunEpochs(run, 5); err != nil {
		t.Fatal(err)
	}
	if s.LRs()[0] != 0.1 || len(recs) != 3 {
		t.Fatalf("before the drop: lr %g, %d AutoDrop records, want 0.1 and 3", s.LRs()[0], len(recs))
	}
	if _, err := loop.RunEpochs(run, 1); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || !recs[3].Dropped {
		t.Fatalf("AutoDrop records %v: want a drop at its 4th observation", recs)
	}
	if lr := s.LRs()[0]; lr != 0.05 || lrValue(t, run.LRVariable()) != float64(float32(lr)) {
		t.Fatalf("GoMLX learning rate %g, schedule's %g, want 0.05", lrValue(t, run.LRVariable()), lr)
	}
	if last, _ := run.Last(); last.Tensors != 4 {
		t.Fatalf("last result %+v: want the 4 variables read", last)
	}
}

func TestAttachScheduleErrors(t *testing.T) {
	loop := newLoop(t, context.New())
	_, err := AttachSchedule(loop, nil, func(func() [][]float32) (schedule.Schedule, error) {
		return schedule.NewConstant([]float64{0.1, 0.2})
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "2 parameter groups") {
		t.Fatalf("two parameter groups: %v", err)
	}
	_, err = AttachSchedule(loop, nil, func(func() [][]float32) (schedule.Schedule, error) {
		return schedule.NewConstant([]float64{math.NaN()})
	}, nil)
	if err == nil {
		t.Fatal("a NaN base rate was accepted")
	}
}

func TestFloat64Model(t *testing.T) {
	const n, dim = 128, 16
	r := rand.New(rand.NewSource(1))
	x := make([][]float64, n)
	y := make([][]int32, n)
	for i := range x {
		x[i] = make([]float64, dim)
		for j := range x[i] {
			x[i][j] = r.NormFloat64()
		}
		y[i] = []int32{int32(max(0, min(1, int(x[i][0]+1))))}
	}
	ds, err := datasets.InMemoryFromData(testBackend(t), "synthetic64", []any{x}, []any{y})
	if err != nil {
		t.Fatal(err)
	}
	ds.BatchSize(32, false)
	ctx := context.New()
	loop := newLoop(t, ctx)
	s, err := autodrop.New[float64](forcedDrop(1, true))
	if err != nil {
		t.Fatal(err)
	}
	run, err := Attach(loop, ds, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.LRVariable().DType() != dtypes.Float64 {
		t.Fatalf("learning-rate variable dtype %s, want Float64 (the loss dtype)", run.LRVariable().DType())
	}
	if _, err := loop.RunEpochs(run, 5); err != nil {
		t.Fatal(err)
	}
	last, _ := run.Last()
	if !last.Record.Dropped || !last.Averaged || s.LR() != 0.05 || lrValue(t, run.LRVariable()) != 0.05 {
		t.Fatalf("float64: last %+v, scheduler LR %g, GoMLX LR %g; want a drop with tail average at epoch 5 to 0.05",
			last, s.LR(), lrValue(t, run.LRVariable()))
	}
}
