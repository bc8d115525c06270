package gorgoniadrop

import (
	"bytes"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/autodrop-go/autodrop"
	"github.com/autodrop-go/autodrop/schedule"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// tinyModel is a 16-8-2 tanh MLP trained on a synthetic 2-class problem
// (256 examples, batches of 32) with a Gorgonia tape machine.
type tinyModel struct {
	g          *gorgonia.ExprGraph
	x, y       *gorgonia.Node
	learnables gorgonia.Nodes
	vm         gorgonia.VM
	xs, ys     []*tensor.Dense
}

func newTinyModel(t *testing.T, seed int64) *tinyModel {
	t.Helper()
	const n, dim, batch = 256, 16, 32
	r := rand.New(rand.NewSource(1))
	m := &tinyModel{g: gorgonia.NewGraph()}
	for b := 0; b < n/batch; b++ {
		xb := make([]float32, batch*dim)
		yb := make([]float32, batch*2)
		for i := 0; i < batch; i++ {
			for j := 0; j < dim; j++ {
				xb[i*dim+j] = float32(r.NormFloat64())
			}
			if xb[i*dim]+xb[i*dim+1] > 0 {
				yb[i*2+1] = 1
			} else {
				yb[i*2] = 1
			}
		}
		m.xs = append(m.xs, tensor.New(tensor.WithShape(batch, dim), tensor.WithBacking(xb)))
		m.ys = append(m.ys, tensor.New(tensor.WithShape(batch, 2), tensor.WithBacking(yb)))
	}
	init := func(rows, cols int) gorgonia.NodeConsOpt {
		ri := rand.New(rand.NewSource(seed))
		w := make([]float32, rows*cols)
		for i := range w {
			w[i] = float32(ri.NormFloat64() / math.Sqrt(float64(rows)))
		}
		return gorgonia.WithValue(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(w)))
	}
	m.x = gorgonia.NewMatrix(m.g, tensor.Float32, gorgonia.WithShape(batch, dim), gorgonia.WithName("x"))
	m.y = gorgonia.NewMatrix(m.g, tensor.Float32, gorgonia.WithShape(batch, 2), gorgonia.WithName("y"))
	w0 := gorgonia.NewMatrix(m.g, tensor.Float32, gorgonia.WithShape(dim, 8), gorgonia.WithName("w0"), init(dim, 8))
	w1 := gorgonia.NewMatrix(m.g, tensor.Float32, gorgonia.WithShape(8, 2), gorgonia.WithName("w1"), init(8, 2))
	h := gorgonia.Must(gorgonia.Tanh(gorgonia.Must(gorgonia.Mul(m.x, w0))))
	prob := gorgonia.Must(gorgonia.SoftMax(gorgonia.Must(gorgonia.Mul(h, w1))))
	loss := gorgonia.Must(gorgonia.Mean(gorgonia.Must(gorgonia.Neg(
		gorgonia.Must(gorgonia.HadamardProd(gorgonia.Must(gorgonia.Log(prob)), m.y))))))
	m.learnables = gorgonia.Nodes{w0, w1}
	if _, err := gorgonia.Grad(loss, m.learnables...); err != nil {
		t.Fatal(err)
	}
	m.vm = gorgonia.NewTapeMachine(m.g, gorgonia.BindDualValues(m.learnables...))
	t.Cleanup(func() { m.vm.Close() })
	return m
}

// step runs one training step on batch b.
func (m *tinyModel) step(t *testing.T, solver gorgonia.Solver, b int) {
	t.Helper()
	if err := gorgonia.Let(m.x, m.xs[b]); err != nil {
		t.Fatal(err)
	}
	if err := gorgonia.Let(m.y, m.ys[b]); err != nil {
		t.Fatal(err)
	}
	if err := m.vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if err := solver.Step(gorgonia.NodesToValueGrads(m.learnables)); err != nil {
		t.Fatal(err)
	}
	m.vm.Reset()
}

func (m *tinyModel) epoch(t *testing.T, solver gorgonia.Solver) {
	t.Helper()
	for b := range m.xs {
		m.step(t, solver, b)
	}
}

func (m *tinyModel) snapshot() [][]float32 {
	out := make([][]float32, len(m.learnables))
	for i, n := range m.learnables {
		out[i] = append([]float32(nil), n.Value().(*tensor.Dense).Float32s()...)
	}
	return out
}

func (m *tinyModel) set(vals [][]float32) {
	for i, n := range m.learnables {
		copy(n.Value().(*tensor.Dense).Float32s(), vals[i])
	}
}

// solverLR reads the learning rate of a Gorgonia solver (an unexported
// field: eta, or η for AdamW).
func solverLR(t *testing.T, s gorgonia.Solver) float64 {
	t.Helper()
	v := reflect.ValueOf(s).Elem()
	for _, name := range []string{"eta", "η"} {
		if f := v.FieldByName(name); f.IsValid() {
			return f.Float()
		}
	}
	t.Fatalf("no learning-rate field in %T", s)
	return 0
}

func forcedDrop(patience int, tail bool) autodrop.Config {
	return autodrop.Config{LR: 0.1, DropFactor: 0.5, Theta: 1e6, Patience: patience, TailAverage: tail}
}

func TestForcedDropSetsSolverLearningRate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		solver gorgonia.Solver
	}{
		{"vanilla", gorgonia.NewVanillaSolver(gorgonia.WithLearnRate(0.7))},
		{"momentum", gorgonia.NewMomentum(gorgonia.WithLearnRate(0.7), gorgonia.WithMomentum(0.9))},
		{"adam", gorgonia.NewAdamSolver(gorgonia.WithLearnRate(0.7))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTinyModel(t, 2)
			var recs []autodrop.Record
			cfg := forcedDrop(0, false)
			cfg.OnRecord = func(r autodrop.Record) { recs = append(recs, r) }
			s, err := autodrop.New[float32](cfg)
			if err != nil {
				t.Fatal(err)
			}
			run, err := Attach(tc.solver, m.learnables, s, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := solverLR(t, tc.solver); got != 0.1 {
				t.Fatalf("solver learning rate after Attach = %g, want the scheduler's 0.1", got)
			}
			for epoch := 1; epoch <= 4; epoch++ {
				m.epoch(t, tc.solver)
				res, err := run.EpochEnd()
				if err != nil {
					t.Fatal(err)
				}
				if res.Epoch != epoch || res.Tensors != 2 || res.Params != 16*8+8*2 {
					t.Fatalf("result %+v at epoch %d", res, epoch)
				}
			}
			if len(recs) != 4 || !recs[3].Dropped || recs[2].Dropped {
				t.Fatalf("want the forced drop at epoch 4 only, records: %v", recs)
			}
			if s.LR() != 0.05 {
				t.Fatalf("scheduler LR after the drop = %g, want 0.05", s.LR())
			}
			if got := solverLR(t, tc.solver); got != s.LR() || run.LR() != s.LR() {
				t.Fatalf("solver learning rate after the drop = %g (adapter says %g), scheduler's = %g", got, run.LR(), s.LR())
			}
		})
	}
}

// The vanilla solver's next step must use the new rate: from the same
// weights, a step at 4x the rate is 4x the step at the scheduler's rate.
func TestVanillaStepUsesNewRate(t *testing.T) {
	m := newTinyModel(t, 2)
	solver := gorgonia.NewVanillaSolver()
	s, err := autodrop.New[float32](forcedDrop(0, false))
	if err != nil {
		t.Fatal(err)
	}
	run, err := Attach(solver, m.learnables, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		m.epoch(t, solver)
		if _, err := run.EpochEnd(); err != nil {
			t.Fatal(err)
		}
	}
	if s.LR() != 0.05 {
		t.Fatalf("no drop: LR %g", s.LR())
	}
	before := m.snapshot()
	delta := func() [][]float32 {
		m.set(before)
		m.step(t, solver, 0)
		d := m.snapshot()
		for i := range d {
			for j := range d[i] {
				d[i][j] -= before[i][j]
			}
		}
		return d
	}
	small := delta()
	gorgonia.WithLearnRate(4 * s.LR())(solver)
	large := delta()
	var num, den float64
	for i := range small {
		for j := range small[i] {
			num += float64(large[i][j]) * float64(small[i][j])
			den += float64(small[i][j]) * float64(small[i][j])
		}
	}
	if den == 0 || math.Abs(num/den-4) > 1e-3 {
		t.Fatalf("step at 4x the rate is %g times the step at the scheduler's rate, want 4", num/den)
	}
}

func TestTailAverageWrittenBack(t *testing.T) {
	m := newTinyModel(t, 2)
	solver := gorgonia.NewMomentum(gorgonia.WithMomentum(0.9))
	s, err := autodrop.New[float32](forcedDrop(2, true))
	if err != nil {
		t.Fatal(err)
	}
	run, err := Attach(solver, m.learnables, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	var seen [][][]float32
	for epoch := 1; epoch <= 8; epoch++ {
		m.epoch(t, solver)
		seen = append(seen, m.snapshot())
		res, err := run.EpochEnd()
		if err != nil {
			t.Fatal(err)
		}
		if !res.Averaged {
			continue
		}
		if epoch != 6 || !res.Record.Dropped {
			t.Fatalf("tail average at epoch %d (record %v), want at the drop of epoch 6", epoch, res.Record)
		}
		got := m.snapshot()
		for i := range got {
			for j := range got[i] {
				want := (1*float64(seen[3][i][j]) + 2*float64(seen[4][i][j]) + 3*float64(seen[5][i][j])) / 6
				if math.Abs(float64(got[i][j])-want) > 1e-6*(1+math.Abs(want)) {
					t.Fatalf("learnable %d[%d] = %g after the drop, want the tail average %g", i, j, got[i][j], want)
				}
			}
		}
		if solverLR(t, solver) != 0.05 {
			t.Fatalf("solver learning rate %g after the drop, want 0.05", solverLR(t, solver))
		}
		return
	}
	t.Fatal("no tail average was written back in 8 epochs")
}

func TestCheckpointAndStateFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := forcedDrop(0, false)
	m := newTinyModel(t, 2)
	solver := gorgonia.NewMomentum()
	s, err := autodrop.New[float32](cfg)
	if err != nil {
		t.Fatal(err)
	}
	run, err := Attach(solver, m.learnables, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		m.epoch(t, solver)
		if _, err := run.EpochEnd(); err != nil {
			t.Fatal(err)
		}
	}
	ckpt, side := filepath.Join(dir, "model.ckpt"), filepath.Join(dir, "autodrop.state")
	if err := run.SaveCheckpoint(ckpt); err != nil {
		t.Fatal(err)
	}
	if err := run.SaveState(side); err != nil {
		t.Fatal(err)
	}
	want, _ := s.MarshalBinary()
	weights := m.snapshot()

	// A new process: another initialisation, a fresh scheduler.
	for _, load := range []string{"checkpoint", "state"} {
		m2 := newTinyModel(t, 3)
		solver2 := gorgonia.NewMomentum()
		s2, _ := autodrop.New[float32](cfg)
		run2, err := Attach(solver2, m2.learnables, s2, nil)
		if err != nil {
			t.Fatal(err)
		}
		if load == "checkpoint" {
			err = run2.LoadCheckpoint(ckpt)
		} else {
			err = run2.LoadState(side)
		}
		if err != nil {
			t.Fatal(err)
		}
		got, _ := s2.MarshalBinary()
		if !bytes.Equal(got, want) || s.LR() >= cfg.LR || s2.LR() != s.LR() || solverLR(t, solver2) != s.LR() {
			t.Fatalf("%s: restored scheduler LR %g, solver LR %g, state equal %v", load, s2.LR(), solverLR(t, solver2), bytes.Equal(got, want))
		}
		if load == "checkpoint" && !reflect.DeepEqual(m2.snapshot(), weights) {
			t.Fatal("checkpoint: learnables not restored")
		}
		m2.epoch(t, solver2)
		if res, err := run2.EpochEnd(); err != nil || res.Epoch != 6 || s2.Epoch() != 6 {
			t.Fatalf("%s: next epoch %+v, %v; scheduler epoch %d, want 6", load, res, err, s2.Epoch())
		}
	}

	// Bad files are rejected and change nothing.
	if err := run.LoadCheckpoint(side); err == nil || !strings.Contains(err.Error(), "bad magic") {
		t.Fatalf("loading a state file as a checkpoint: %v", err)
	}
	m3 := newTinyModel(t, 2)
	other := append(gorgonia.Nodes{}, m3.learnables[0])
	s3, _ := autodrop.New[float32](cfg)
	run3, err := Attach(gorgonia.NewVanillaSolver(), other, s3, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := m3.snapshot()
	if err := run3.LoadCheckpoint(ckpt); err == nil || !strings.Contains(err.Error(), "holds 2 learnables, the model has 1") {
		t.Fatalf("loading into a different model: %v", err)
	}
	if !reflect.DeepEqual(m3.snapshot(), before) || s3.Epoch() != 0 {
		t.Fatal("a failed LoadCheckpoint changed the model or the scheduler")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Fatalf("temporary files left in %s: %v", dir, entries)
	}
}

func TestAttachScheduleMultiStep(t *testing.T) {
	m := newTinyModel(t, 2)
	solver := gorgonia.NewMomentum()
	var s schedule.Schedule
	run, err := AttachSchedule(solver, m.learnables, func(func() [][]float32) (schedule.Schedule, error) {
		var err error
		s, err = schedule.NewMultiStep([]float64{0.1}, []int{2}, 0.5)
		return s, err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	for range 3 {
		m.epoch(t, solver)
		if res, err = run.EpochEnd(); err != nil {
			t.Fatal(err)
		}
	}
	if lr := s.LRs()[0]; lr != 0.05 || solverLR(t, solver) != lr {
		t.Fatalf("solver learning rate %g, schedule's %g, want 0.05", solverLR(t, solver), lr)
	}
	if res.Epoch != 3 || res.Tensors != 0 || res.HasRecord {
		t.Fatalf("last result %+v: want epoch 3 without parameters read", res)
	}
}

func TestAttachScheduleParsedSequentialAutoDrop(t *testing.T) {
	m := newTinyModel(t, 2)
	solver := gorgonia.NewVanillaSolver()
	var recs []autodrop.Record
	spec := `{"type": "sequential", "milestones": [2], "schedules": [
		{"type": "constant"},
		{"type": "autodrop", "drop_factor": 0.5, "theta": 1e6, "patience": 0, "tail_average": false, "auto_theta": false}]}`
	var s schedule.Schedule
	run, err := AttachSchedule(solver, m.learnables, func(params func() [][]float32) (schedule.Schedule, error) {
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
	for epoch := 1; epoch <= 6; epoch++ {
		m.epoch(t, solver)
		res, err := run.EpochEnd()
		if err != nil {
			t.Fatal(err)
		}
		if epoch == 5 && (s.LRs()[0] != 0.1 || len(recs) != 3) {
			t.Fatalf("before the drop: lr %g, %d AutoDrop records, want 0.1 and 3", s.LRs()[0], len(recs))
		}
		if epoch == 6 && res.Tensors != 2 {
			t.Fatalf("result %+v: want the 2 learnables read", res)
		}
	}
	if len(recs) != 4 || !recs[3].Dropped {
		t.Fatalf("AutoDrop records %v: want a drop at its 4th observation", recs)
	}
	if lr := s.LRs()[0]; lr != 0.05 || solverLR(t, solver) != lr {
		t.Fatalf("solver learning rate %g, schedule's %g, want 0.05", solverLR(t, solver), lr)
	}
}

func TestErrors(t *testing.T) {
	m := newTinyModel(t, 2)
	s, _ := autodrop.New[float32](forcedDrop(0, false))
	if _, err := Attach(gorgonia.NewAdaGradSolver(), m.learnables, s, nil); err == nil ||
		!strings.Contains(err.Error(), "set Options.SetLR") {
		t.Fatalf("AdaGrad without SetLR: %v", err)
	}
	var set []float64
	if _, err := Attach(gorgonia.NewAdaGradSolver(), m.learnables, s, &Options{SetLR: func(lr float64) error {
		set = append(set, lr)
		return nil
	}}); err != nil || len(set) != 1 || set[0] != 0.1 {
		t.Fatalf("AdaGrad with SetLR: %v, rates set %v", err, set)
	}
	s64, _ := autodrop.New[float64](forcedDrop(0, false))
	if _, err := Attach(gorgonia.NewVanillaSolver(), m.learnables, s64, nil); err == nil ||
		!strings.Contains(err.Error(), "the adapter observes float64") {
		t.Fatalf("float64 adapter on float32 learnables: %v", err)
	}
	if _, err := Attach[float32](gorgonia.NewVanillaSolver(), nil, s, nil); err == nil {
		t.Fatal("no learnables accepted")
	}
	_, err := AttachSchedule(gorgonia.NewVanillaSolver(), m.learnables, func(func() [][]float32) (schedule.Schedule, error) {
		return schedule.NewConstant([]float64{0.1, 0.2})
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "2 parameter groups") {
		t.Fatalf("two parameter groups: %v", err)
	}
}

func TestCorruptedCheckpoint(t *testing.T) {
	dir := t.TempDir()
	m := newTinyModel(t, 2)
	s, _ := autodrop.New[float32](forcedDrop(0, false))
	run, err := Attach(gorgonia.NewVanillaSolver(), m.learnables, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "c")
	if err := run.SaveCheckpoint(path); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before := m.snapshot()
	r := rand.New(rand.NewSource(3))
	for i := 0; i < 200; i++ {
		bad := append([]byte(nil), good...)
		switch i % 3 {
		case 0:
			bad = bad[:len(checkpointMagic)+r.Intn(len(bad)-len(checkpointMagic))]
		default:
			for k := 0; k < 1+r.Intn(4); k++ {
				bad[len(checkpointMagic)+r.Intn(len(bad)-len(checkpointMagic))] ^= byte(1 + r.Intn(255))
			}
		}
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		// Corruption must give an error or, if it hit only weight values,
		// a successful load; never a panic. Reset for the next round.
		_ = run.LoadCheckpoint(path)
		m.set(before)
	}
}

func TestFloat64Learnables(t *testing.T) {
	g := gorgonia.NewGraph()
	r := rand.New(rand.NewSource(1))
	xs := make([]float64, 64*4)
	ys := make([]float64, 64)
	for i := range ys {
		for j := 0; j < 4; j++ {
			xs[i*4+j] = r.NormFloat64()
			ys[i] += float64(j+1) * xs[i*4+j]
		}
	}
	x := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(64, 4), gorgonia.WithName("x"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(64, 4), tensor.WithBacking(xs))))
	y := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(64, 1), gorgonia.WithName("y"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(64, 1), tensor.WithBacking(ys))))
	w := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(4, 1), gorgonia.WithName("w"), gorgonia.WithInit(gorgonia.Zeroes()))
	diff := gorgonia.Must(gorgonia.Sub(gorgonia.Must(gorgonia.Mul(x, w)), y))
	loss := gorgonia.Must(gorgonia.Mean(gorgonia.Must(gorgonia.Square(diff))))
	if _, err := gorgonia.Grad(loss, w); err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(w))
	defer vm.Close()
	solver := gorgonia.NewVanillaSolver()
	s, err := autodrop.New[float64](forcedDrop(1, true))
	if err != nil {
		t.Fatal(err)
	}
	run, err := Attach(solver, gorgonia.Nodes{w}, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	for range 5 {
		for range 4 {
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			if err := solver.Step(gorgonia.NodesToValueGrads(gorgonia.Nodes{w})); err != nil {
				t.Fatal(err)
			}
			vm.Reset()
		}
		if res, err = run.EpochEnd(); err != nil {
			t.Fatal(err)
		}
	}
	if !res.Record.Dropped || !res.Averaged || res.Params != 4 || s.LR() != 0.05 || solverLR(t, solver) != 0.05 {
		t.Fatalf("float64: result %+v, scheduler LR %g, solver LR %g; want a drop with tail average at epoch 5 to 0.05",
			res, s.LR(), solverLR(t, solver))
	}
}
