package nn

import (
	"testing"

	"github.com/autodrop-go/autodrop/internal/gemm"
)

// benchStep times one training step (forward, backward, SGD) on a batch of
// 128 random 28×28 inputs.
func benchStep(b *testing.B, m *Model, kern gemmFunc) {
	old := sgemm
	sgemm = kern
	defer func() { sgemm = old }()
	o, _ := NewSGD(m, SGDConfig{LR: 0.01, Momentum: 0.9})
	r := rng{s: 1}
	x, y := randomBatch(&r, m, 128)
	b.ReportAllocs()
	for b.Loop() {
		m.LossGrad(x, y)
		o.Step()
	}
}

func BenchmarkStepMLP(b *testing.B) {
	for _, k := range []struct {
		name string
		f    gemmFunc
	}{{"ref", refGemm}, {"gemm", gemm.Sgemm}} {
		b.Run(k.name, func(b *testing.B) {
			m, _ := NewMLP(784, []int{256}, 10, 1)
			benchStep(b, m, k.f)
		})
	}
}

func BenchmarkStepCNN(b *testing.B) {
	for _, k := range []struct {
		name string
		f    gemmFunc
	}{{"ref", refGemm}, {"gemm", gemm.Sgemm}} {
		b.Run(k.name, func(b *testing.B) { benchStep(b, NewCNN(1), k.f) })
	}
}
