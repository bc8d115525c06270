package nn

import (
	"context"
	"fmt"
)

// Dataset is a set of labelled samples: X holds len(Y) samples of equal
// size, contiguous and row-major (for MNIST, mnist.Set's Images and Labels).
type Dataset struct {
	X []float32
	Y []uint8
}

// Len returns the number of samples.
func (d Dataset) Len() int { return len(d.Y) }

// check validates d against m.
func (d Dataset) check(m *Model) error {
	in := m.InputSize()
	if len(d.X) != len(d.Y)*in {
		return fmt.Errorf("nn: dataset has %d labels and %d input values; the model needs %d values per sample (%d in all)", len(d.Y), len(d.X), in, len(d.Y)*in)
	}
	for i, c := range d.Y {
		if int(c) >= m.Classes() {
			return fmt.Errorf("nn: dataset label %d of sample %d is out of range for %d classes", c, i, m.Classes())
		}
	}
	return nil
}

// TrainEpoch runs one epoch of minibatch training: it visits the samples of
// data in the order Permutation(seed) (use EpochSeed for a per-epoch seed),
// in batches of batch samples (the last batch may be smaller, as with
// PyTorch's DataLoader), and after each batch takes one opt step. It
// returns the mean training loss and accuracy over the samples seen, each
// measured before that batch's step. progress, if not nil, is called after
// each batch with the number of batches done and the total.
//
// ctx is checked before each batch; on cancellation TrainEpoch returns the
// statistics so far and ctx.Err(), leaving the model and optimizer after the
// last completed step (mid-epoch: resume from the state saved at the end of
// the previous epoch to reproduce an uninterrupted run).
//
// Training allocates only once per epoch (the permutation) and when a batch
// is larger than any before; each step is allocation-free.
func TrainEpoch(ctx context.Context, m *Model, opt *SGD, data Dataset, batch int, seed uint64, progress func(done, total int)) (loss, acc float64, err error) {
	if batch <= 0 {
		return 0, 0, fmt.Errorf("nn: batch size %d; want > 0", batch)
	}
	if err := data.check(m); err != nil {
		return 0, 0, err
	}
	if len(opt.params) != len(m.params) || (len(m.params) > 0 && &opt.params[0][0] != &m.params[0][0]) {
		return 0, 0, fmt.Errorf("nn: the optimizer was created for another model")
	}
	N := data.Len()
	if N == 0 {
		return 0, 0, fmt.Errorf("nn: empty dataset")
	}
	perm := make([]int, N)
	Permutation(perm, seed)
	total := (N + batch - 1) / batch
	m.reserve(min(batch, N))
	in := m.InputSize()
	var sumLoss float64
	correct, seen := 0, 0
	for b := range total {
		if err := ctx.Err(); err != nil {
			return meanStats(sumLoss, correct, seen, err)
		}
		idx := perm[b*batch : min((b+1)*batch, N)]
		n := len(idx)
		x := m.acts[0]
		y := m.labels(n)
		for r, s := range idx {
			copy(x[r*in:(r+1)*in], data.X[s*in:(s+1)*in])
			y[r] = data.Y[s]
		}
		l, c := m.lossGradFrom(nil, n, y)
		opt.Step()
		sumLoss += l * float64(n)
		correct += c
		seen += n
		if progress != nil {
			progress(b+1, total)
		}
	}
	return meanStats(sumLoss, correct, seen, nil)
}

func meanStats(sumLoss float64, correct, seen int, err error) (float64, float64, error) {
	if seen == 0 {
		return 0, 0, err
	}
	return sumLoss / float64(seen), float64(correct) / float64(seen), err
}

// labels returns the model's label buffer for n samples.
func (m *Model) labels(n int) []uint8 {
	if cap(m.ybuf) < n {
		m.ybuf = make([]uint8, n)
	}
	return m.ybuf[:n]
}

// evalBatch is the number of samples Evaluate processes at once.
const evalBatch = 500

// Evaluate returns the mean softmax cross-entropy and the accuracy of m on
// data, without changing the parameters.
func Evaluate(m *Model, data Dataset) (loss, acc float64, err error) {
	if err := data.check(m); err != nil {
		return 0, 0, err
	}
	N := data.Len()
	if N == 0 {
		return 0, 0, fmt.Errorf("nn: empty dataset")
	}
	in := m.InputSize()
	var sum float64
	correct := 0
	for s := 0; s < N; s += evalBatch {
		n := min(evalBatch, N-s)
		logits := m.forward(data.X[s*in:(s+n)*in], n)
		l, c := m.softmaxXent(logits, data.Y[s:s+n], nil, n)
		sum += l * float64(n)
		correct += c
	}
	return sum / float64(N), float64(correct) / float64(N), nil
}
