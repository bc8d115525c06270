package schedule

import (
	"errors"
	"fmt"
	"math"
)

// PlateauOptions are the arguments of NewPlateau, named after PyTorch's
// ReduceLROnPlateau. Start from PlateauDefaults.
type PlateauOptions struct {
	// Mode is "min" (the metric should fall, e.g. a loss) or "max" (it
	// should rise, e.g. an accuracy).
	Mode string
	// Factor multiplies the learning rates at a reduction; 0 < Factor < 1.
	Factor float64
	// Patience is the number of steps without improvement tolerated before
	// a reduction; >= 0.
	Patience int
	// Threshold is the least change that counts as an improvement; >= 0.
	Threshold float64
	// ThresholdMode is "rel" (relative to the best value's magnitude) or
	// "abs".
	ThresholdMode string
	// Cooldown is the number of steps after a reduction during which bad
	// steps are not counted; >= 0.
	Cooldown int
	// MinLRs is the floor of the learning rates: empty (0 for every
	// group), one value for every group, or one value per group; each >= 0.
	MinLRs []float64
	// Eps: a reduction smaller than Eps is skipped; >= 0.
	Eps float64
}

// PlateauDefaults returns PyTorch's defaults: mode "min", factor 0.1,
// patience 10, threshold 1e-4 relative, no cooldown, min lr 0, eps 1e-8.
func PlateauDefaults() PlateauOptions {
	return PlateauOptions{Mode: "min", Factor: 0.1, Patience: 10, Threshold: 1e-4, ThresholdMode: "rel", Eps: 1e-8}
}

// Plateau reduces the learning rates by o.Factor when the metric passed to
// Step has not improved for more than o.Patience steps, like PyTorch's
// ReduceLROnPlateau, with two differences: a NaN metric is an error (PyTorch
// counts it as a bad step), and in "rel" mode the threshold is relative to
// the magnitude of the best value, so that negative metrics work (PyTorch's
// best*(1-threshold) demands a worsening for negative losses). For a best
// value >= 0 the arithmetic is PyTorch's.
type Plateau struct {
	o        PlateauOptions
	base     []float64
	minLRs   []float64
	lrs      []float64
	epoch    int
	best     float64
	bad      int
	cooldown int
}

// NewPlateau returns a Plateau schedule over baseLRs.
func NewPlateau(baseLRs []float64, o PlateauOptions) (*Plateau, error) {
	const kind = "plateau"
	if err := checkLRs(kind, "base_lrs", baseLRs); err != nil {
		return nil, err
	}
	if o.Mode != "min" && o.Mode != "max" {
		return nil, argErr(kind, "mode", o.Mode, `"min" or "max"`)
	}
	if !finite(o.Factor) || o.Factor <= 0 || o.Factor >= 1 {
		return nil, argErr(kind, "factor", o.Factor, "0 < factor < 1")
	}
	if o.Patience < 0 {
		return nil, argErr(kind, "patience", o.Patience, "an integer >= 0")
	}
	if err := checkNonNeg(kind, "threshold", o.Threshold); err != nil {
		return nil, err
	}
	if o.ThresholdMode != "rel" && o.ThresholdMode != "abs" {
		return nil, argErr(kind, "threshold_mode", o.ThresholdMode, `"rel" or "abs"`)
	}
	if o.ThresholdMode == "rel" && o.Mode == "min" && o.Threshold >= 1 {
		return nil, argErr(kind, "threshold", o.Threshold, `< 1 in mode "min" with threshold_mode "rel"`)
	}
	if o.Cooldown < 0 {
		return nil, argErr(kind, "cooldown", o.Cooldown, "an integer >= 0")
	}
	if err := checkNonNeg(kind, "eps", o.Eps); err != nil {
		return nil, err
	}
	minLRs := make([]float64, len(baseLRs))
	switch len(o.MinLRs) {
	case 0:
	case 1:
		for i := range minLRs {
			minLRs[i] = o.MinLRs[0]
		}
	case len(baseLRs):
		copy(minLRs, o.MinLRs)
	default:
		return nil, argErr(kind, "min_lr", o.MinLRs, "one value, or one per parameter group (%d)", len(baseLRs))
	}
	for i, m := range minLRs {
		if !finite(m) || m < 0 {
			return nil, argErr(kind, "min_lr", o.MinLRs, "finite values >= 0 (group %d has %s)", i, fmtF(m))
		}
	}
	o.MinLRs = clone(o.MinLRs)
	s := &Plateau{o: o, base: clone(baseLRs), minLRs: minLRs, lrs: clone(baseLRs)}
	s.best = s.worst()
	return s, nil
}

func (s *Plateau) worst() float64 {
	if s.o.Mode == "min" {
		return math.Inf(1)
	}
	return math.Inf(-1)
}

// isBetter is PyTorch's is_better with the relative threshold taken on
// |best|: identical to PyTorch for best >= 0.
func (s *Plateau) isBetter(a float64) bool {
	best, th := s.best, s.o.Threshold
	if math.IsInf(best, 0) {
		// Before the first finite metric; PyTorch's products give ±Inf too,
		// but best*(1-th) with th = 1 would be NaN.
		if s.o.Mode == "min" {
			return a < best
		}
		return a > best
	}
	switch {
	case s.o.Mode == "min" && s.o.ThresholdMode == "rel":
		if best < 0 {
			return a < best*(1+th)
		}
		return a < best*(1-th)
	case s.o.Mode == "min":
		return a < best-th
	case s.o.ThresholdMode == "rel":
		if best < 0 {
			return a > best*(1-th)
		}
		return a > best*(th+1)
	default:
		return a > best+th
	}
}

// ErrNoMetric is returned by Step of a schedule that needs a metric when
// none is given.
var ErrNoMetric = errors.New("schedule: plateau: Step needs a metric")

// Step records the metric of the step just finished (a validation loss in
// mode "min") and reduces the learning rates if it has plateaued. The
// metric is required; NaN is an error and changes nothing. ±Inf is
// accepted (a diverged loss counts as a bad step).
func (s *Plateau) Step(metric ...float64) error {
	if len(metric) == 0 {
		return ErrNoMetric
	}
	if len(metric) > 1 {
		return fmt.Errorf("schedule: plateau: Step takes one metric, got %d", len(metric))
	}
	m := metric[0]
	if math.IsNaN(m) {
		return fmt.Errorf("schedule: plateau: metric is NaN at step %d", s.epoch+1)
	}
	s.epoch++
	if s.isBetter(m) {
		s.best = m
		s.bad = 0
	} else {
		s.bad++
	}
	if s.cooldown > 0 {
		s.cooldown--
		s.bad = 0
	}
	if s.bad > s.o.Patience {
		for i, old := range s.lrs {
			lr := math.Max(old*s.o.Factor, s.minLRs[i])
			if old-lr > s.o.Eps {
				s.lrs[i] = lr
			}
		}
		s.cooldown = s.o.Cooldown
		s.bad = 0
	}
	return nil
}

// LRs returns a copy of the learning rate of every parameter group.
func (s *Plateau) LRs() []float64 { return clone(s.lrs) }

// Steps returns the number of steps taken since construction.
func (s *Plateau) Steps() int { return s.epoch }

// Best returns the best metric seen so far (+Inf in mode "min" and -Inf in
// mode "max" before the first step).
func (s *Plateau) Best() float64 { return s.best }

// BadSteps returns the number of consecutive steps without improvement
// counted towards PlateauOptions.Patience.
func (s *Plateau) BadSteps() int { return s.bad }

// CooldownLeft returns the number of cooldown steps left.
func (s *Plateau) CooldownLeft() int { return s.cooldown }

func (s *Plateau) config() string {
	o := s.o
	return fmt.Sprintf("mode=%s factor=%s patience=%d threshold=%s threshold_mode=%s cooldown=%d min_lr=%s eps=%s base_lrs=%s",
		o.Mode, fmtF(o.Factor), o.Patience, fmtF(o.Threshold), o.ThresholdMode, o.Cooldown, fmtFs(s.minLRs), fmtF(o.Eps), fmtFs(s.base))
}

// MarshalBinary returns the state of the schedule, including the best
// value and the patience and cooldown counters.
func (s *Plateau) MarshalBinary() ([]byte, error) {
	return marshalState("plateau", s.config(), func(e *encoder) {
		e.int(s.epoch)
		e.f64s(s.lrs)
		e.f64(s.best)
		e.int(s.bad)
		e.int(s.cooldown)
	})
}

// UnmarshalBinary restores a state written by MarshalBinary of a Plateau
// built with the same arguments.
func (s *Plateau) UnmarshalBinary(data []byte) error {
	return unmarshalState(data, "plateau", s.config(), func(d *decoder) (func(), error) {
		epoch := d.int()
		lrs := d.f64s(len(s.lrs))
		best := d.f64()
		bad := d.int()
		cooldown := d.int()
		if d.err != nil {
			return nil, d.err
		}
		if err := checkEpoch(epoch); err != nil {
			return nil, err
		}
		if err := checkLRState(lrs); err != nil {
			return nil, err
		}
		if math.IsNaN(best) || bad < 0 || bad > s.o.Patience || cooldown < 0 || cooldown > s.o.Cooldown {
			return nil, fmt.Errorf("inconsistent counters: best=%s bad=%d cooldown=%d", fmtF(best), bad, cooldown)
		}
		return func() {
			s.epoch, s.lrs, s.best, s.bad, s.cooldown = epoch, lrs, best, bad, cooldown
		}, nil
	})
}
