package schedule

import (
	"fmt"
	"math"
)

// Anneal strategies of OneCycle.
const (
	AnnealCos    = "cos"
	AnnealLinear = "linear"
)

// OneCycleOptions are the optional arguments of NewOneCycle, named after
// PyTorch's OneCycleLR. Start from OneCycleDefaults.
type OneCycleOptions struct {
	PctStart       float64 // fraction of the cycle spent raising the lr; in [0, 1]
	AnnealStrategy string  // AnnealCos or AnnealLinear
	DivFactor      float64 // initial lr = max lr / DivFactor; > 0
	FinalDivFactor float64 // final lr = initial lr / FinalDivFactor; > 0
	ThreePhase     bool    // add a third phase that anneals to the final lr
	CycleMomentum  bool    // cycle the momentum inversely to the lr
	BaseMomentum   float64 // lowest momentum (at the peak lr); in [0, MaxMomentum]
	MaxMomentum    float64 // highest momentum (at the ends); finite
}

// OneCycleDefaults returns PyTorch's defaults: pct_start 0.3, cosine
// annealing, div_factor 25, final_div_factor 1e4, two phases, momentum cycled
// between 0.85 and 0.95.
func OneCycleDefaults() OneCycleOptions {
	return OneCycleOptions{
		PctStart:       0.3,
		AnnealStrategy: AnnealCos,
		DivFactor:      25,
		FinalDivFactor: 1e4,
		CycleMomentum:  true,
		BaseMomentum:   0.85,
		MaxMomentum:    0.95,
	}
}

type ocPhase struct {
	endStep                    float64
	startLR, endLR             int // 0 initial, 1 max, 2 min
	startMomentum, endMomentum int // 0 base, 1 max
}

// OneCycle is the 1cycle policy of PyTorch's OneCycleLR: the lr rises from
// max_lr/div_factor to max_lr, then anneals to max_lr/div_factor/
// final_div_factor at step totalSteps-1, while the momentum (if cycled) moves
// the opposite way. The base learning rates of the optimizer play no part.
// As in PyTorch 1.13, one step past totalSteps-1 is allowed; stepping further
// is an error. At that extra step cosine annealing continues the curve, as in
// PyTorch, but linear annealing holds the final lr and momentum (PyTorch
// extrapolates the line, which can give a negative lr).
type OneCycle struct {
	maxLRs     []float64
	total      int
	o          OneCycleOptions
	phases     []ocPhase
	groups     [][3]float64 // initial, max, min lr per group
	epoch      int
	lrs        []float64
	momentums  []float64
	annealFunc func(start, end, pct float64) float64
}

// NewOneCycle returns a OneCycle schedule with one group per entry of
// maxLRs. totalSteps must be >= 1. Every argument is checked, including
// that no phase has zero length (where PyTorch would divide by zero).
func NewOneCycle(maxLRs []float64, totalSteps int, o OneCycleOptions) (*OneCycle, error) {
	const kind = "onecycle"
	if err := checkLRs(kind, "max_lr", maxLRs); err != nil {
		return nil, err
	}
	for i, m := range maxLRs {
		if m <= 0 {
			return nil, argErr(kind, fmt.Sprintf("max_lr[%d]", i), m, "a finite number > 0")
		}
	}
	if totalSteps < 1 {
		return nil, argErr(kind, "total_steps", totalSteps, "an integer >= 1")
	}
	if !finite(o.PctStart) || o.PctStart < 0 || o.PctStart > 1 {
		return nil, argErr(kind, "pct_start", o.PctStart, "0 <= pct_start <= 1")
	}
	s := &OneCycle{maxLRs: clone(maxLRs), total: totalSteps, o: o}
	switch o.AnnealStrategy {
	case AnnealCos:
		s.annealFunc = annealCos
	case AnnealLinear:
		s.annealFunc = annealLinear
	default:
		return nil, argErr(kind, "anneal_strategy", o.AnnealStrategy, "%q or %q", AnnealCos, AnnealLinear)
	}
	if err := checkPositive(kind, "div_factor", o.DivFactor); err != nil {
		return nil, err
	}
	if err := checkPositive(kind, "final_div_factor", o.FinalDivFactor); err != nil {
		return nil, err
	}
	if o.CycleMomentum {
		if !finite(o.MaxMomentum) || o.MaxMomentum < 0 {
			return nil, argErr(kind, "max_momentum", o.MaxMomentum, "a finite number >= 0")
		}
		if !finite(o.BaseMomentum) || o.BaseMomentum < 0 || o.BaseMomentum > o.MaxMomentum {
			return nil, argErr(kind, "base_momentum", o.BaseMomentum, "0 <= base_momentum <= max_momentum (%s)", fmtF(o.MaxMomentum))
		}
	}
	// The phases, with PyTorch's float arithmetic.
	p1 := o.PctStart*float64(totalSteps) - 1
	last := float64(totalSteps - 1)
	if o.ThreePhase {
		s.phases = []ocPhase{
			{p1, 0, 1, 1, 0},
			{2*o.PctStart*float64(totalSteps) - 2, 1, 0, 0, 1},
			{last, 0, 2, 1, 1},
		}
	} else {
		s.phases = []ocPhase{
			{p1, 0, 1, 1, 0},
			{last, 1, 2, 0, 1},
		}
	}
	start := 0.0
	for i, ph := range s.phases {
		if ph.endStep == start {
			return nil, &ArgError{Schedule: kind, Field: "pct_start", Value: fmtF(o.PctStart),
				Want: fmt.Sprintf("a value that gives phase %d of the cycle a non-zero length with total_steps = %d (PyTorch would divide by zero)", i+1, totalSteps)}
		}
		start = ph.endStep
	}
	s.groups = make([][3]float64, len(maxLRs))
	for i, m := range maxLRs {
		initial := m / o.DivFactor
		s.groups[i] = [3]float64{initial, m, initial / o.FinalDivFactor}
	}
	s.lrs = make([]float64, len(maxLRs))
	if o.CycleMomentum {
		s.momentums = make([]float64, len(maxLRs))
	}
	s.compute()
	return s, nil
}

func annealCos(start, end, pct float64) float64 {
	cosOut := math.Cos(math.Pi*pct) + 1
	return end + (start-end)/2.0*cosOut
}

func annealLinear(start, end, pct float64) float64 {
	return (end-start)*pct + start
}

// compute sets lrs and momentums for s.epoch, as PyTorch's get_lr.
func (s *OneCycle) compute() {
	step := float64(s.epoch)
	mom := [2]float64{s.o.BaseMomentum, s.o.MaxMomentum}
	for g := range s.lrs {
		start := 0.0
		for i, ph := range s.phases {
			if step <= ph.endStep || i == len(s.phases)-1 {
				pct := (step - start) / (ph.endStep - start)
				if pct > 1 && s.o.AnnealStrategy == AnnealLinear {
					// Only at the step past the end that PyTorch allows:
					// linear extrapolation would go below the final lr,
					// even below zero. Hold the final values instead.
					pct = 1
				}
				s.lrs[g] = s.annealFunc(s.groups[g][ph.startLR], s.groups[g][ph.endLR], pct)
				if s.o.CycleMomentum {
					s.momentums[g] = s.annealFunc(mom[ph.startMomentum], mom[ph.endMomentum], pct)
				}
				break
			}
			start = ph.endStep
		}
	}
}

// LRs returns a copy of the learning rate of every parameter group.
func (s *OneCycle) LRs() []float64 { return clone(s.lrs) }

// Momentums returns a copy of the momentum of every parameter group (beta1
// for Adam-like optimizers), or nil when the momentum is not cycled. Set the
// optimizer's momentum to it at every step, as PyTorch's OneCycleLR does.
func (s *OneCycle) Momentums() []float64 {
	if s.momentums == nil {
		return nil
	}
	return clone(s.momentums)
}

// Steps returns the number of steps taken since construction.
func (s *OneCycle) Steps() int { return s.epoch }

// Step advances one step. The metric, if any, is ignored. Stepping past
// step totalSteps is an error, as in PyTorch.
func (s *OneCycle) Step(metric ...float64) error {
	if err := noMetric("onecycle", metric); err != nil {
		return err
	}
	if s.epoch+1 > s.total {
		return fmt.Errorf("schedule: onecycle: cannot take step %d: total_steps = %d", s.epoch+1, s.total)
	}
	s.epoch++
	s.compute()
	return nil
}

func (s *OneCycle) config() string {
	o := s.o
	return fmt.Sprintf("max_lr=%s total_steps=%d pct_start=%s anneal_strategy=%s div_factor=%s final_div_factor=%s three_phase=%t cycle_momentum=%t base_momentum=%s max_momentum=%s",
		fmtFs(s.maxLRs), s.total, fmtF(o.PctStart), o.AnnealStrategy, fmtF(o.DivFactor), fmtF(o.FinalDivFactor),
		o.ThreePhase, o.CycleMomentum, fmtF(o.BaseMomentum), fmtF(o.MaxMomentum))
}

// MarshalBinary returns the state of the schedule.
func (s *OneCycle) MarshalBinary() ([]byte, error) {
	return marshalState("onecycle", s.config(), func(e *encoder) { e.int(s.epoch) })
}

// UnmarshalBinary restores a state written by MarshalBinary of a OneCycle
// built with the same arguments.
func (s *OneCycle) UnmarshalBinary(data []byte) error {
	return unmarshalState(data, "onecycle", s.config(), func(d *decoder) (func(), error) {
		epoch := d.int()
		if d.err != nil {
			return nil, d.err
		}
		if epoch < 0 || epoch > s.total {
			return nil, fmt.Errorf("step count %d outside [0, %d]", epoch, s.total)
		}
		return func() { s.epoch = epoch; s.compute() }, nil
	})
}
