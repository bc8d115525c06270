package nn

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// oneParamModel returns an MLP 1→1 (parameters w and b) whose weight and
// bias are set to w and b, for hand-checked optimizer steps.
func oneParamModel(t *testing.T, w, b float32) *Model {
	t.Helper()
	m, err := NewMLP(1, nil, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	m.Params()[0][0], m.Params()[1][0] = w, b
	return m
}

// TestSGDHandComputed checks two steps with constant gradient 1 against
// values worked out by hand from PyTorch's formulas. Tolerance 1e-6: the
// float32 rounding of a handful of operations on values near 1.
func TestSGDHandComputed(t *testing.T) {
	cases := []struct {
		name string
		cfg  SGDConfig
		want [2]float64 // w after step 1 and step 2, starting at w = 1, g = 1
	}{
		// v1 = 1, w1 = 1 - 0.1 = 0.9; no momentum: w2 = 0.8.
		{"plain", SGDConfig{LR: 0.1}, [2]float64{0.9, 0.8}},
		// v1 = g = 1, w1 = 0.9; v2 = 0.9*1 + 1 = 1.9, w2 = 0.9 - 0.19 = 0.71.
		{"momentum", SGDConfig{LR: 0.1, Momentum: 0.9}, [2]float64{0.9, 0.71}},
		// d1 = g + mu*v1 = 1.9, w1 = 0.81; v2 = 1.9, d2 = 1 + 0.9*1.9 = 2.71,
		// w2 = 0.81 - 0.271 = 0.539.
		{"nesterov", SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true}, [2]float64{0.81, 0.539}},
		// g1 = 1 + 0.5*1 = 1.5, v1 = 1.5, w1 = 0.85; g2 = 1 + 0.425 = 1.425,
		// v2 = 1.35 + 1.425 = 2.775, w2 = 0.85 - 0.2775 = 0.5725.
		{"weight decay", SGDConfig{LR: 0.1, Momentum: 0.9, WeightDecay: 0.5}, [2]float64{0.85, 0.5725}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := oneParamModel(t, 1, 0)
			o, err := NewSGD(m, c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for s := range 2 {
				m.Grads()[0][0], m.Grads()[1][0] = 1, 0
				o.Step()
				if got := float64(m.Params()[0][0]); math.Abs(got-c.want[s]) > 1e-6 {
					t.Errorf("after step %d: w = %v; want %v", s+1, got, c.want[s])
				}
			}
			if o.Steps() != 2 {
				t.Errorf("Steps() = %d; want 2", o.Steps())
			}
		})
	}
}

// TestSGDLRDrop checks that SetLR scales the next step and rejects bad
// rates, leaving the rate unchanged.
func TestSGDLRDrop(t *testing.T) {
	m := oneParamModel(t, 1, 0)
	o, err := NewSGD(m, SGDConfig{LR: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.SetLR(0.01); err != nil {
		t.Fatal(err)
	}
	m.Grads()[0][0] = 1
	o.Step()
	if got := m.Params()[0][0]; math.Abs(float64(got)-0.99) > 1e-6 {
		t.Errorf("w = %v after a step at lr 0.01; want 0.99", got)
	}
	for _, bad := range []float64{-1, math.NaN(), math.Inf(1)} {
		if err := o.SetLR(bad); err == nil || !strings.Contains(err.Error(), "learning rate") {
			t.Errorf("SetLR(%v) error = %v; want one about the learning rate", bad, err)
		}
	}
	if o.LR() != 0.01 {
		t.Errorf("LR() = %v after rejected SetLR calls; want 0.01", o.LR())
	}
}

func TestSGDConfigErrors(t *testing.T) {
	m := oneParamModel(t, 1, 0)
	for _, c := range []struct {
		cfg  SGDConfig
		want string
	}{
		{SGDConfig{LR: -0.1}, "learning rate"},
		{SGDConfig{LR: 0.1, Momentum: 1}, "momentum"},
		{SGDConfig{LR: 0.1, Momentum: -0.5}, "momentum"},
		{SGDConfig{LR: 0.1, WeightDecay: -1}, "weight decay"},
		{SGDConfig{LR: 0.1, Nesterov: true}, "Nesterov"},
	} {
		if _, err := NewSGD(m, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewSGD(%+v) error = %v; want one mentioning %q", c.cfg, err, c.want)
		}
	}
}

func TestModelErrors(t *testing.T) {
	if _, err := NewMLP(784, []int{256, 0}, 10, 1); err == nil || !strings.Contains(err.Error(), "hidden layer 2 has size 0") {
		t.Errorf("NewMLP with a zero hidden size: error %v", err)
	}
	if _, err := NewModel("mlp:784-x-10", 1); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("NewModel with a bad size: error %v", err)
	}
	if _, err := NewModel("resnet", 1); err == nil || !strings.Contains(err.Error(), "unknown architecture") {
		t.Errorf("NewModel(resnet): error %v", err)
	}
	m, _ := NewMLP(4, nil, 3, 1)
	if _, _, err := m.Loss(make([]float32, 7), nil); err == nil || !strings.Contains(err.Error(), "multiple of the model's 4 inputs") {
		t.Errorf("Loss with 7 inputs: error %v", err)
	}
	if _, _, err := m.LossGrad(make([]float32, 8), []uint8{0, 3}); err == nil || !strings.Contains(err.Error(), "label 3 of sample 1") {
		t.Errorf("LossGrad with label 3 of 3 classes: error %v", err)
	}
	o, _ := NewSGD(m, SGDConfig{LR: 0.1})
	ds := Dataset{X: make([]float32, 8), Y: []uint8{0}}
	if _, _, err := TrainEpoch(context.Background(), m, o, ds, 1, 1, nil); err == nil || !strings.Contains(err.Error(), "4 values per sample") {
		t.Errorf("TrainEpoch with mismatched dataset: error %v", err)
	}
	if _, _, err := TrainEpoch(context.Background(), m, o, Dataset{X: make([]float32, 4), Y: []uint8{0}}, 0, 1, nil); err == nil || !strings.Contains(err.Error(), "batch size 0") {
		t.Errorf("TrainEpoch with batch 0: error %v", err)
	}
	for _, a := range []string{"mlp:784-256-10", "mlp:5-3", "cnn:lenet5"} {
		m, err := NewModel(a, 1)
		if err != nil || m.Arch() != a {
			t.Errorf("NewModel(%q) = %v, %v", a, m, err)
		}
	}
}

// blobs is a synthetic 3-class problem in 6 dimensions: class c has mean
// 2 at coordinate c and noise uniform in [-1,1), so it is learnable but not
// trivially separable.
func blobs(n int, seed uint64) Dataset {
	r := rng{s: seed}
	d := Dataset{X: make([]float32, n*6), Y: make([]uint8, n)}
	r.uniform(d.X, 1)
	for i := range n {
		c := r.intn(3)
		d.Y[i] = uint8(c)
		d.X[i*6+c] += 2
	}
	return d
}

func newTrainer(t *testing.T, seed uint64) (*Model, *SGD) {
	t.Helper()
	m, err := NewMLP(6, []int{8}, 3, seed)
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewSGD(m, SGDConfig{LR: 0.05, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4})
	if err != nil {
		t.Fatal(err)
	}
	return m, o
}

func equalTensors(a, b [][]float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		for j := range a[i] {
			if math.Float32bits(a[i][j]) != math.Float32bits(b[i][j]) {
				return false
			}
		}
	}
	return true
}

// TestTrainLearnsAndIsDeterministic trains on blobs: the same seeds give
// bit-identical parameters, another data seed gives different ones, and the
// model learns (test accuracy above 90%: the Bayes accuracy of this problem
// is about 97%, a linear classifier reaches it, and chance is 33%).
func TestTrainLearnsAndIsDeterministic(t *testing.T) {
	train, test := blobs(600, 1), blobs(300, 2)
	run := func(shuffleSeed uint64) (*Model, float64) {
		m, o := newTrainer(t, 7)
		var acc float64
		for e := range 5 {
			var err error
			if _, acc, err = TrainEpoch(context.Background(), m, o, train, 32, EpochSeed(shuffleSeed, e), nil); err != nil {
				t.Fatal(err)
			}
		}
		return m, acc
	}
	a, trainAcc := run(1)
	b, _ := run(1)
	c, _ := run(2)
	if !equalTensors(a.Params(), b.Params()) {
		t.Error("two runs with the same seeds differ")
	}
	if equalTensors(a.Params(), c.Params()) {
		t.Error("runs with different shuffle seeds are identical")
	}
	_, acc, err := Evaluate(a, test)
	if err != nil {
		t.Fatal(err)
	}
	if acc < 0.9 || trainAcc < 0.9 {
		t.Errorf("accuracy train %.3f test %.3f; want both >= 0.9", trainAcc, acc)
	}
}

// TestResumeBitExact checks that saving model and optimizer after epoch 1
// and loading them into fresh objects reproduces epoch 2 bit for bit.
func TestResumeBitExact(t *testing.T) {
	data := blobs(500, 3)
	ctx := context.Background()
	m, o := newTrainer(t, 5)
	for e := range 2 {
		if _, _, err := TrainEpoch(ctx, m, o, data, 64, EpochSeed(9, e), nil); err != nil {
			t.Fatal(err)
		}
	}

	m1, o1 := newTrainer(t, 5)
	if _, _, err := TrainEpoch(ctx, m1, o1, data, 64, EpochSeed(9, 0), nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m1.Save(filepath.Join(dir, "model.bin")); err != nil {
		t.Fatal(err)
	}
	if err := o1.Save(filepath.Join(dir, "opt.bin")); err != nil {
		t.Fatal(err)
	}
	m2, err := LoadModel(filepath.Join(dir, "model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	o2, err := NewSGD(m2, SGDConfig{LR: 1}) // config is replaced by Load
	if err != nil {
		t.Fatal(err)
	}
	if err := o2.Load(filepath.Join(dir, "opt.bin")); err != nil {
		t.Fatal(err)
	}
	if o2.Config() != o1.Config() || o2.Steps() != o1.Steps() {
		t.Fatalf("restored optimizer %+v (%d steps); want %+v (%d steps)", o2.Config(), o2.Steps(), o1.Config(), o1.Steps())
	}
	if _, _, err := TrainEpoch(ctx, m2, o2, data, 64, EpochSeed(9, 1), nil); err != nil {
		t.Fatal(err)
	}
	if !equalTensors(m.Params(), m2.Params()) || !equalTensors(o.Velocity(), o2.Velocity()) {
		t.Error("resumed run differs from the uninterrupted one")
	}
}

// TestStateErrors checks that corrupt, truncated and mismatched states are
// rejected with a clear error and leave the target unchanged.
func TestStateErrors(t *testing.T) {
	m, o := newTrainer(t, 1)
	mb, _ := m.MarshalBinary()
	ob, _ := o.MarshalBinary()
	before := slices.Clone(m.Params()[0])

	flip := bytes.Clone(mb)
	flip[len(flip)/2] ^= 1
	other, _ := NewMLP(6, []int{9}, 3, 1)
	otherB, _ := other.MarshalBinary()
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"truncated":    {mb[:len(mb)-10], "checksum mismatch"},
		"corrupt":      {flip, "checksum mismatch"},
		"empty":        {nil, "too short"},
		"sgd as model": {ob, "bad magic"},
		"other arch":   {otherB, `"mlp:6-9-3"`},
	} {
		if err := m.UnmarshalBinary(c.data); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v; want one containing %q", name, err, c.want)
		}
	}
	if !slices.Equal(before, m.Params()[0]) {
		t.Error("a failed UnmarshalBinary changed the model")
	}
	otherOpt, _ := NewSGD(other, SGDConfig{LR: 0.1})
	if err := otherOpt.UnmarshalBinary(ob); err == nil || !strings.Contains(err.Error(), "tensor 0 has 48 values; want 54") {
		t.Errorf("SGD state for another model: error %v", err)
	}
	if err := o.UnmarshalBinary(mb); err == nil || !strings.Contains(err.Error(), "bad magic") {
		t.Errorf("model state as SGD: error %v", err)
	}
	if _, err := LoadModel(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadModel of a missing file: %v", err)
	}
}

// TestCancel checks that a cancelled context stops TrainEpoch before any
// step and reports the context's error.
func TestCancel(t *testing.T) {
	m, o := newTrainer(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, _, err := TrainEpoch(ctx, m, o, blobs(100, 1), 10, 1, func(done, total int) {
		calls++
		if total != 10 || done != calls {
			t.Errorf("progress(%d, %d) at call %d; want (%d, 10)", done, total, calls, calls)
		}
		if done == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || calls != 3 || o.Steps() != 3 {
		t.Errorf("err %v after %d batches and %d steps; want context.Canceled after 3", err, calls, o.Steps())
	}
}

// TestPermutation checks that Permutation gives permutations, depends only
// on the seed, and is uniform: over 24,000 seeds each of the 24 orders of 4
// items should appear 1000 times; the count is binomial with standard
// deviation ≈ 31, so ±160 (5 sigma) fails a correct shuffle with
// probability ~1e-5.
func TestPermutation(t *testing.T) {
	p := make([]int, 1000)
	Permutation(p, 1)
	q := slices.Clone(p)
	slices.Sort(q)
	for i, v := range q {
		if v != i {
			t.Fatalf("not a permutation: sorted[%d] = %d", i, v)
		}
	}
	p2 := make([]int, 1000)
	Permutation(p2, 1)
	if !slices.Equal(p, p2) {
		t.Error("same seed, different permutation")
	}
	Permutation(p2, 2)
	if slices.Equal(p, p2) {
		t.Error("different seeds, same permutation")
	}
	counts := map[[4]int]int{}
	var s [4]int
	for seed := range uint64(24000) {
		Permutation(s[:], EpochSeed(seed, 0))
		counts[s]++
	}
	if len(counts) != 24 {
		t.Fatalf("%d distinct orders of 4; want 24", len(counts))
	}
	for k, c := range counts {
		if c < 840 || c > 1160 {
			t.Errorf("order %v appeared %d times of 24000; want 1000±160", k, c)
		}
	}
	if EpochSeed(1, 0) == EpochSeed(1, 1) || EpochSeed(1, 0) == EpochSeed(2, 0) {
		t.Error("EpochSeed collides for neighbouring epochs or runs")
	}
}

// TestInit checks He/Glorot bounds and seed determinism: every weight lies
// within its bound, the spread is near that of the uniform distribution
// (standard deviation bound/sqrt(3), within 5% for >= 2,000 draws, where the
// sampling error is ~1.6%), biases are zero.
func TestInit(t *testing.T) {
	m, _ := NewMLP(784, []int{256}, 10, 1)
	m2, _ := NewMLP(784, []int{256}, 10, 1)
	m3, _ := NewMLP(784, []int{256}, 10, 2)
	if !equalTensors(m.Params(), m2.Params()) || equalTensors(m.Params(), m3.Params()) {
		t.Error("initialisation is not determined by the seed")
	}
	bounds := []float64{heBound(784), glorotBound(256, 10)}
	for l, b := range bounds {
		w := m.Params()[2*l]
		var ss float64
		for _, v := range w {
			if math.Abs(float64(v)) > b {
				t.Fatalf("layer %d weight %v outside ±%v", l, v, b)
			}
			ss += float64(v) * float64(v)
		}
		sd := math.Sqrt(ss / float64(len(w)))
		if want := b / math.Sqrt(3); math.Abs(sd-want) > 0.05*want {
			t.Errorf("layer %d weight std %v; want %v", l, sd, want)
		}
		for _, v := range m.Params()[2*l+1] {
			if v != 0 {
				t.Fatalf("layer %d bias %v; want 0", l, v)
			}
		}
	}
}

// TestNoAllocPerStep checks that a training step (forward, backward,
// optimizer) allocates nothing once the buffers exist, for both models, and
// that a whole epoch allocates a constant amount (the permutation), not one
// per step.
func TestNoAllocPerStep(t *testing.T) {
	mlp, _ := NewMLP(784, []int{64}, 10, 1)
	for name, m := range map[string]*Model{"mlp": mlp, "cnn": NewCNN(1)} {
		o, _ := NewSGD(m, SGDConfig{LR: 0.01, Momentum: 0.9, WeightDecay: 1e-4})
		r := rng{s: 1}
		x, y := randomBatch(&r, m, 32)
		if _, _, err := m.LossGrad(x, y); err != nil {
			t.Fatal(err)
		}
		if a := testing.AllocsPerRun(5, func() {
			m.LossGrad(x, y)
			o.Step()
		}); a != 0 {
			t.Errorf("%s: %v allocations per step; want 0", name, a)
		}
		ds := Dataset{X: x, Y: y}
		ctx := context.Background()
		if a := testing.AllocsPerRun(3, func() {
			TrainEpoch(ctx, m, o, ds, 4, 1, nil) // 8 steps
		}); a > 2 {
			t.Errorf("%s: %v allocations per 8-step epoch; want <= 2", name, a)
		}
	}
}
