// Package nn is a small, fast float32 neural-network harness for MNIST: an
// MLP and a LeNet-style CNN with ReLU and softmax cross-entropy, a
// PyTorch-compatible SGD optimizer, deterministic initialisation and
// shuffling, one-epoch training and evaluation, and binary state for exact
// resumption.
//
// Parameters are exposed as [][]float32, one slice per tensor, in a fixed
// order; callers (such as the AutoDrop scheduler) may read them and
// overwrite them in place between steps.
//
// A Model and an SGD are not safe for concurrent use; separate models may be
// trained concurrently.
package nn

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Model is a feed-forward classifier: a sequence of layers ending in logits
// for Classes() classes, trained with softmax cross-entropy.
type Model struct {
	arch    string
	in      shape
	classes int
	layers  []layer
	shapes  []shape // shapes[i] is the input of layer i; the last is the output
	params  [][]float32
	grads   [][]float32

	batch int         // capacity of the buffers, in samples
	acts  [][]float32 // acts[i] holds the input of layer i; the last the logits
	dacts [][]float32 // gradients with respect to acts (dacts[0] unused)
	ybuf  []uint8     // labels of the current training batch
}

// NewMLP returns a multilayer perceptron with in inputs, one ReLU hidden
// layer per entry of hidden, and out outputs, initialised from seed: hidden
// layers with He uniform weights (bound sqrt(6/fan_in)), the output layer with
// Glorot uniform weights (bound sqrt(6/(fan_in+fan_out))), biases zero.
// Its parameters are, per layer, W [out][in] then b [out] (PyTorch's
// nn.Linear order). It fails if a size is not positive.
func NewMLP(in int, hidden []int, out int, seed uint64) (*Model, error) {
	if in <= 0 {
		return nil, fmt.Errorf("nn: MLP input size %d; want > 0", in)
	}
	if out <= 0 {
		return nil, fmt.Errorf("nn: MLP output size %d; want > 0", out)
	}
	sizes := []string{strconv.Itoa(in)}
	for i, h := range hidden {
		if h <= 0 {
			return nil, fmt.Errorf("nn: MLP hidden layer %d has size %d; want > 0", i+1, h)
		}
		sizes = append(sizes, strconv.Itoa(h))
	}
	sizes = append(sizes, strconv.Itoa(out))
	m := &Model{arch: "mlp:" + strings.Join(sizes, "-"), in: shape{1, 1, in}, classes: out}
	prev := in
	for _, h := range hidden {
		m.add(newDense(prev, h))
		m.add(&relu{shape{1, 1, h}})
		prev = h
	}
	m.add(newDense(prev, out))
	m.init(seed)
	return m, nil
}

// NewCNN returns a LeNet-5-style convolutional network for 28×28 grey images
// and 10 classes, initialised from seed:
//
//	conv 5×5, 6 channels → max pool 2×2 → ReLU   (28×28 → 24×24 → 12×12)
//	conv 5×5, 16 channels → max pool 2×2 → ReLU  (12×12 → 8×8 → 4×4)
//	dense 256 → 120 → ReLU → dense 120 → 84 → ReLU → dense 84 → 10
//
// (pooling before ReLU is the same function as ReLU before pooling, cheaper).
// Layers followed by ReLU get He uniform weights, the output layer Glorot
// uniform, biases zero. Activations are stored height×width×channels, so
// conv weights are [out][ky][kx][in] and the first dense layer's inputs are
// in (y, x, channel) order. Its parameters are W then b for each of the two
// convolutions and three dense layers (44,426 numbers).
func NewCNN(seed uint64) *Model {
	m := newCNN("cnn:lenet5", shape{28, 28, 1}, []int{6, 16}, 5, []int{120, 84}, 10)
	m.init(seed)
	return m
}

// newCNN builds conv k×k → max pool 2×2 → ReLU for each entry of convs
// (output channels), then ReLU dense layers of the hidden sizes, then a dense
// layer to classes outputs. The weights are left zero.
func newCNN(arch string, in shape, convs []int, k int, hidden []int, classes int) *Model {
	m := &Model{arch: arch, in: in, classes: classes}
	s := in
	for _, ch := range convs {
		// Pooling before ReLU gives the same outputs and gradients as ReLU
		// before pooling (ReLU is monotonic, so it commutes with max) at a
		// quarter of the ReLU work.
		c := newConv(s, ch, k)
		m.add(c)
		p := newMaxPool(c.os)
		m.add(p)
		m.add(&relu{p.os})
		s = p.os
	}
	prev := s.size()
	for _, h := range hidden {
		m.add(newDense(prev, h))
		m.add(&relu{shape{1, 1, h}})
		prev = h
	}
	m.add(newDense(prev, classes))
	return m
}

// NewModel builds a model from an architecture string as returned by
// Model.Arch: "mlp:784-256-10" (input, hidden sizes, output) or "cnn:lenet5".
func NewModel(arch string, seed uint64) (*Model, error) {
	kind, spec, ok := strings.Cut(arch, ":")
	switch {
	case ok && kind == "mlp":
		parts := strings.Split(spec, "-")
		if len(parts) < 2 {
			return nil, fmt.Errorf("nn: architecture %q: an MLP needs at least input and output sizes, as in mlp:784-256-10", arch)
		}
		sizes := make([]int, len(parts))
		for i, p := range parts {
			v, err := strconv.Atoi(p)
			if err != nil || v <= 0 {
				return nil, fmt.Errorf("nn: architecture %q: layer size %q is not a positive integer", arch, p)
			}
			sizes[i] = v
		}
		return NewMLP(sizes[0], sizes[1:len(sizes)-1], sizes[len(sizes)-1], seed)
	case ok && kind == "cnn" && spec == "lenet5":
		return NewCNN(seed), nil
	}
	return nil, fmt.Errorf("nn: unknown architecture %q; want mlp:IN-HIDDEN...-OUT or cnn:lenet5", arch)
}

func (m *Model) add(l layer) {
	if len(m.shapes) == 0 {
		m.shapes = append(m.shapes, m.in)
	}
	m.layers = append(m.layers, l)
	m.shapes = append(m.shapes, l.outShape())
	p, g := l.tensors()
	m.params = append(m.params, p...)
	m.grads = append(m.grads, g...)
}

// init draws the weights layer by layer from one SplitMix64 stream.
func (m *Model) init(seed uint64) {
	r := rng{s: seed}
	last := len(m.layers) - 1
	for i, l := range m.layers {
		switch l := l.(type) {
		case *dense:
			if i == last {
				r.uniform(l.w, glorotBound(l.in, l.out))
			} else {
				r.uniform(l.w, heBound(l.in))
			}
		case *conv:
			r.uniform(l.w, heBound(l.k*l.k*l.in))
		}
	}
}

// Arch returns the architecture string, e.g. "mlp:784-256-10" or
// "cnn:lenet5"; NewModel(m.Arch(), seed) builds the same architecture.
func (m *Model) Arch() string { return m.arch }

// InputSize returns the number of input features per sample.
func (m *Model) InputSize() int { return m.in.size() }

// Classes returns the number of output classes.
func (m *Model) Classes() int { return m.classes }

// Params returns the parameter tensors, one slice per tensor, in a fixed
// order (see NewMLP and NewCNN). The slices are the model's own storage:
// writing to them changes the model.
func (m *Model) Params() [][]float32 { return m.params }

// Grads returns the gradient tensors matching Params, as left by the last
// call of LossGrad (or TrainEpoch). They are the model's own storage.
func (m *Model) Grads() [][]float32 { return m.grads }

// NumParams returns the total number of parameters.
func (m *Model) NumParams() int {
	n := 0
	for _, p := range m.params {
		n += len(p)
	}
	return n
}

// reserve grows the activation buffers to hold n samples. It allocates only
// when n exceeds every earlier batch.
func (m *Model) reserve(n int) {
	if n <= m.batch {
		return
	}
	m.batch = n
	m.acts = make([][]float32, len(m.shapes))
	m.dacts = make([][]float32, len(m.shapes))
	for i, s := range m.shapes {
		m.acts[i] = make([]float32, n*s.size())
		if i > 0 {
			m.dacts[i] = make([]float32, n*s.size())
		}
	}
	for _, l := range m.layers {
		l.reserve(n)
	}
}

// checkBatch validates x and y and returns the number of samples.
func (m *Model) checkBatch(x []float32, y []uint8) (int, error) {
	in := m.in.size()
	if len(x)%in != 0 {
		return 0, fmt.Errorf("nn: input has %d values, not a multiple of the model's %d inputs per sample", len(x), in)
	}
	n := len(x) / in
	if y != nil {
		if len(y) != n {
			return 0, fmt.Errorf("nn: %d labels for %d samples", len(y), n)
		}
		for i, c := range y {
			if int(c) >= m.classes {
				return 0, fmt.Errorf("nn: label %d of sample %d is out of range for %d classes", c, i, m.classes)
			}
		}
	}
	return n, nil
}

// Forward computes the logits of the samples in x (len(x) a multiple of
// InputSize) and returns them, n rows of Classes() values. The returned slice
// is the model's buffer, valid until the next call on the model.
func (m *Model) Forward(x []float32) ([]float32, error) {
	n, err := m.checkBatch(x, nil)
	if err != nil {
		return nil, err
	}
	return m.forward(x, n), nil
}

func (m *Model) forward(x []float32, n int) []float32 {
	m.reserve(n)
	copy(m.acts[0], x[:n*m.in.size()])
	for i, l := range m.layers {
		l.forward(m.acts[i], m.acts[i+1], n)
	}
	return m.acts[len(m.layers)][:n*m.classes]
}

// Loss returns the mean softmax cross-entropy of the samples in x with
// labels y and how many are classified correctly (arg max of the logits, the
// lowest class on ties), without computing gradients.
func (m *Model) Loss(x []float32, y []uint8) (loss float64, correct int, err error) {
	n, err := m.checkBatch(x, y)
	if err != nil {
		return 0, 0, err
	}
	if n == 0 {
		return 0, 0, nil
	}
	logits := m.forward(x, n)
	loss, correct = m.softmaxXent(logits, y, nil, n)
	return loss, correct, nil
}

// LossGrad is Loss plus back-propagation: it overwrites Grads with the
// gradient of the mean loss with respect to Params.
func (m *Model) LossGrad(x []float32, y []uint8) (loss float64, correct int, err error) {
	n, err := m.checkBatch(x, y)
	if err != nil {
		return 0, 0, err
	}
	if n == 0 {
		return 0, 0, fmt.Errorf("nn: LossGrad on an empty batch")
	}
	loss, correct = m.lossGradFrom(x, n, y)
	return loss, correct, nil
}

// lossGradFrom runs forward and backward on n samples: x is copied into
// the input buffer first unless it is nil (the batch is already there).
func (m *Model) lossGradFrom(x []float32, n int, y []uint8) (float64, int) {
	m.reserve(n)
	if x != nil {
		copy(m.acts[0], x[:n*m.in.size()])
	}
	for i, l := range m.layers {
		l.forward(m.acts[i], m.acts[i+1], n)
	}
	L := len(m.layers)
	loss, correct := m.softmaxXent(m.acts[L][:n*m.classes], y, m.dacts[L], n)
	for i := L - 1; i >= 0; i-- {
		var dx []float32
		if i > 0 {
			dx = m.dacts[i]
		}
		m.layers[i].backward(m.acts[i], m.acts[i+1], m.dacts[i+1], dx, n)
	}
	return loss, correct
}

// softmaxXent returns the mean cross-entropy and the number correct; if
// dlogits is not nil it receives the gradient of the mean loss,
// (softmax - onehot)/n.
func (m *Model) softmaxXent(logits []float32, y []uint8, dlogits []float32, n int) (float64, int) {
	K := m.classes
	var loss float64
	correct := 0
	inv := 1 / float32(n)
	for s := range n {
		row := logits[s*K : (s+1)*K]
		mx, arg := row[0], 0
		for j, v := range row {
			if v > mx {
				mx, arg = v, j
			}
		}
		if arg == int(y[s]) {
			correct++
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v - mx))
		}
		lse := math.Log(sum)
		loss += lse - float64(row[y[s]]-mx)
		if dlogits != nil {
			d := dlogits[s*K : (s+1)*K]
			for j, v := range row {
				p := float32(math.Exp(float64(v-mx) - lse))
				if j == int(y[s]) {
					p--
				}
				d[j] = p * inv
			}
		}
	}
	return loss / float64(n), correct
}
