package nn

import (
	"fmt"
	"math"
)

// SGDConfig holds the hyper-parameters of SGD.
type SGDConfig struct {
	// LR is the learning rate, >= 0.
	LR float64
	// Momentum is the momentum factor mu, in [0, 1).
	Momentum float64
	// Nesterov selects Nesterov momentum; it needs Momentum > 0.
	Nesterov bool
	// WeightDecay is the L2 penalty, >= 0, added to the gradient.
	WeightDecay float64
}

// validate reports the first bad field.
func (c SGDConfig) validate() error {
	switch {
	case math.IsNaN(c.LR) || math.IsInf(c.LR, 0) || c.LR < 0:
		return fmt.Errorf("nn: SGD learning rate %v; want a finite value >= 0", c.LR)
	case math.IsNaN(c.Momentum) || c.Momentum < 0 || c.Momentum >= 1:
		return fmt.Errorf("nn: SGD momentum %v; want 0 <= momentum < 1", c.Momentum)
	case math.IsNaN(c.WeightDecay) || math.IsInf(c.WeightDecay, 0) || c.WeightDecay < 0:
		return fmt.Errorf("nn: SGD weight decay %v; want a finite value >= 0", c.WeightDecay)
	case c.Nesterov && c.Momentum == 0:
		return fmt.Errorf("nn: SGD Nesterov momentum needs momentum > 0")
	}
	return nil
}

// SGD is stochastic gradient descent in PyTorch's form (torch.optim.SGD with
// dampening 0). For each parameter p with gradient g, one Step does
//
//	g = g + wd*p          (if WeightDecay > 0)
//	v = mu*v + g          (if Momentum > 0; v starts at 0, so the first v is g)
//	d = g + mu*v          (Nesterov) or d = v (otherwise)
//	p = p - lr*d
//
// in float32, so a learning-rate drop scales the step, as in the AutoDrop
// paper.
type SGD struct {
	cfg    SGDConfig
	params [][]float32
	grads  [][]float32
	vel    [][]float32
	steps  uint64
	blocks []sgdBlock // the update split into pieces for parallelFor
}

// sgdBlock is a range of one tensor, the unit of parallel work in Step.
type sgdBlock struct{ t, lo, hi int }

// sgdBlockSize is the number of parameters per block: large enough to
// amortise the hand-off, small enough to balance two to a few cores.
const sgdBlockSize = 1 << 14

// NewSGD returns an SGD optimizer for the parameters of m, with zero
// velocity. It fails if a field of cfg is out of range.
func NewSGD(m *Model, cfg SGDConfig) (*SGD, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	o := &SGD{cfg: cfg, params: m.Params(), grads: m.Grads()}
	o.vel = make([][]float32, len(o.params))
	for i, p := range o.params {
		o.vel[i] = make([]float32, len(p))
		for lo := 0; lo < len(p); lo += sgdBlockSize {
			o.blocks = append(o.blocks, sgdBlock{i, lo, min(lo+sgdBlockSize, len(p))})
		}
	}
	return o, nil
}

// Config returns the current hyper-parameters (with the current LR).
func (o *SGD) Config() SGDConfig { return o.cfg }

// LR returns the current learning rate.
func (o *SGD) LR() float64 { return o.cfg.LR }

// SetLR sets the learning rate used by later steps. It fails if lr is
// negative, infinite or NaN, leaving the rate unchanged.
func (o *SGD) SetLR(lr float64) error {
	c := o.cfg
	c.LR = lr
	if err := c.validate(); err != nil {
		return err
	}
	o.cfg = c
	return nil
}

// Steps returns the number of steps taken (restored by UnmarshalBinary).
func (o *SGD) Steps() uint64 { return o.steps }

// Velocity returns the momentum buffers, one per parameter tensor, in the
// order of Model.Params. They are the optimizer's own storage.
func (o *SGD) Velocity() [][]float32 { return o.vel }

// Step updates the model's parameters from its current gradients. The
// update is elementwise, so splitting it over the CPUs does not change the
// result.
func (o *SGD) Step() {
	parallelFor(len(o.blocks), o)
	o.steps++
}

// run updates blocks [lo,hi); it makes SGD a ranger for parallelFor.
func (o *SGD) run(lo, hi int) {
	lr := float32(o.cfg.LR)
	mu := float32(o.cfg.Momentum)
	wd := float32(o.cfg.WeightDecay)
	nest := o.cfg.Nesterov
	for _, b := range o.blocks[lo:hi] {
		p := o.params[b.t][b.lo:b.hi]
		g := o.grads[b.t][b.lo:b.hi]
		v := o.vel[b.t][b.lo:b.hi]
		g, v = g[:len(p)], v[:len(p)] // lets the compiler drop bounds checks
		// Each product is rounded to float32 before the addition (the
		// explicit conversions forbid fused multiply-add), so results are
		// the same on every architecture.
		switch {
		case mu == 0:
			for i, pi := range p {
				gi := g[i]
				if wd != 0 {
					gi += float32(wd * pi)
				}
				p[i] = pi - float32(lr*gi)
			}
		case !nest:
			for i, pi := range p {
				gi := g[i]
				if wd != 0 {
					gi += float32(wd * pi)
				}
				vi := float32(mu*v[i]) + gi
				v[i] = vi
				p[i] = pi - float32(lr*vi)
			}
		default:
			for i, pi := range p {
				gi := g[i]
				if wd != 0 {
					gi += float32(wd * pi)
				}
				vi := float32(mu*v[i]) + gi
				v[i] = vi
				d := gi + float32(mu*vi)
				p[i] = pi - float32(lr*d)
			}
		}
	}
}
