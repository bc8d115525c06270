package nn

import (
	"math"
	"testing"
)

// refLoss is an independent float64 implementation of the forward pass and
// mean softmax cross-entropy of the models built by NewMLP and newCNN,
// written from the documented layouts (NHWC activations, conv weights
// [out][ky][kx][in], dense weights [out][in]) with plain loops. It walks the
// model's layer list only to learn the layer kinds and sizes.
func refLoss(m *Model, params [][]float64, x []float32, y []uint8) float64 {
	n := len(y)
	var total float64
	for s := range n {
		in := m.in
		act := make([]float64, in.size())
		for i := range act {
			act[i] = float64(x[s*in.size()+i])
		}
		cur := in
		t := 0
		for _, l := range m.layers {
			switch l := l.(type) {
			case *dense:
				w, b := params[t], params[t+1]
				t += 2
				out := make([]float64, l.out)
				for o := range l.out {
					sum := b[o]
					for i := range l.in {
						sum += w[o*l.in+i] * act[i]
					}
					out[o] = sum
				}
				act, cur = out, shape{1, 1, l.out}
			case *conv:
				w, b := params[t], params[t+1]
				t += 2
				oh, ow := cur.h-l.k+1, cur.w-l.k+1
				out := make([]float64, oh*ow*l.out)
				for oy := range oh {
					for ox := range ow {
						for o := range l.out {
							sum := b[o]
							for ky := range l.k {
								for kx := range l.k {
									for c := range cur.c {
										sum += w[((o*l.k+ky)*l.k+kx)*cur.c+c] * act[((oy+ky)*cur.w+ox+kx)*cur.c+c]
									}
								}
							}
							out[(oy*ow+ox)*l.out+o] = sum
						}
					}
				}
				act, cur = out, shape{oh, ow, l.out}
			case *relu:
				for i, v := range act {
					act[i] = math.Max(v, 0)
				}
			case *maxPool:
				oh, ow := cur.h/2, cur.w/2
				out := make([]float64, oh*ow*cur.c)
				for oy := range oh {
					for ox := range ow {
						for c := range cur.c {
							v := math.Inf(-1)
							for dy := range 2 {
								for dx := range 2 {
									v = math.Max(v, act[((2*oy+dy)*cur.w+2*ox+dx)*cur.c+c])
								}
							}
							out[(oy*ow+ox)*cur.c+c] = v
						}
					}
				}
				act, cur = out, shape{oh, ow, cur.c}
			default:
				panic("refLoss: unknown layer")
			}
		}
		mx := math.Inf(-1)
		for _, v := range act {
			mx = math.Max(mx, v)
		}
		var sum float64
		for _, v := range act {
			sum += math.Exp(v - mx)
		}
		total += mx + math.Log(sum) - act[y[s]]
	}
	return total / float64(n)
}

// tinyCNN is a CNN small enough for a full finite-difference check: 2 input
// channels, odd sizes (so pooling drops a row and a column), two conv/pool
// stages, one hidden dense layer.
func tinyCNN(seed uint64) *Model {
	m := newCNN("cnn:test", shape{11, 11, 2}, []int{2, 3}, 3, []int{4}, 3)
	m.init(seed)
	return m
}

func randomBatch(r *rng, m *Model, n int) ([]float32, []uint8) {
	x := make([]float32, n*m.InputSize())
	r.uniform(x, 1)
	y := make([]uint8, n)
	for i := range y {
		y[i] = uint8(r.intn(m.Classes()))
	}
	return x, y
}

// TestGradients compares every analytic gradient (float32 back-propagation)
// with a central finite difference of refLoss in float64 (step h = 1e-6),
// and the model's loss with refLoss.
//
// Tolerance |analytic - numeric| <= 2e-4 + 1e-3*|numeric|: the numeric
// gradient's truncation error is O(h²) ≈ 1e-12 and its rounding error
// ≈ 1e-16/h = 1e-10, so the difference is the float32 error of the analytic
// gradient: relative ≈ (terms summed)*2^-24 ≈ 1e-5 for these sizes, far
// inside 1e-3. The absolute part covers gradients near zero. A wrong index,
// transpose or missing term gives errors of the gradient's own size (~1e-2
// and up), which this catches. A ReLU or max-pool kink within h of a
// parameter's value would break the check; with random inputs that has
// probability ~1e-5 per unit, and the seeds are fixed.
func TestGradients(t *testing.T) {
	mlp, err := NewMLP(7, []int{5, 4}, 3, 11)
	if err != nil {
		t.Fatal(err)
	}
	chunked := tinyCNN(13)
	for _, l := range chunked.layers {
		if c, ok := l.(*conv); ok {
			c.chunk = 2 // batches of 3 samples: chunks of 2 and 1
		}
	}
	models := map[string]*Model{"mlp": mlp, "cnn": tinyCNN(12), "cnn in chunks": chunked}
	for name, m := range models {
		t.Run(name, func(t *testing.T) {
			r := rng{s: 99}
			// Non-zero biases so that their gradients flow through every path.
			for i, p := range m.Params() {
				if i%2 == 1 {
					r.uniform(p, 0.1)
				}
			}
			x, y := randomBatch(&r, m, 3)
			loss, _, err := m.LossGrad(x, y)
			if err != nil {
				t.Fatal(err)
			}
			p64 := make([][]float64, len(m.Params()))
			for i, p := range m.Params() {
				p64[i] = make([]float64, len(p))
				for j, v := range p {
					p64[i][j] = float64(v)
				}
			}
			ref := refLoss(m, p64, x, y)
			if math.Abs(loss-ref) > 1e-5*(1+math.Abs(ref)) {
				t.Fatalf("loss %v, float64 reference %v", loss, ref)
			}
			const h = 1e-6
			checked := 0
			for i, g := range m.Grads() {
				for j := range g {
					orig := p64[i][j]
					p64[i][j] = orig + h
					lp := refLoss(m, p64, x, y)
					p64[i][j] = orig - h
					lm := refLoss(m, p64, x, y)
					p64[i][j] = orig
					num := (lp - lm) / (2 * h)
					if d := math.Abs(float64(g[j]) - num); d > 2e-4+1e-3*math.Abs(num) {
						t.Errorf("tensor %d element %d: analytic gradient %v, numeric %v", i, j, g[j], num)
					}
					checked++
				}
			}
			if checked != m.NumParams() {
				t.Fatalf("checked %d gradients of %d parameters", checked, m.NumParams())
			}
		})
	}
}

// TestLeNetForward checks the full-size CNN's loss against the float64
// reference on a batch of 2: tolerance 1e-5 relative, since float32
// rounding over sums of at most 256 terms is ~1e-6 relative.
func TestLeNetForward(t *testing.T) {
	m := NewCNN(3)
	if got := m.NumParams(); got != 44426 {
		t.Errorf("LeNet has %d parameters; want 44426", got)
	}
	r := rng{s: 5}
	x, y := randomBatch(&r, m, 2)
	loss, _, err := m.Loss(x, y)
	if err != nil {
		t.Fatal(err)
	}
	p64 := make([][]float64, len(m.Params()))
	for i, p := range m.Params() {
		p64[i] = make([]float64, len(p))
		for j, v := range p {
			p64[i][j] = float64(v)
		}
	}
	if ref := refLoss(m, p64, x, y); math.Abs(loss-ref) > 1e-5*(1+ref) {
		t.Errorf("loss %v, float64 reference %v", loss, ref)
	}
}
