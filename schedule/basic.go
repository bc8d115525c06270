package schedule

import (
	"fmt"
	"math"
)

// simple holds what the stepwise schedules share: the base learning rates,
// the current ones, and the number of steps taken (PyTorch's last_epoch).
type simple struct {
	kind  string
	base  []float64
	lrs   []float64
	epoch int
}

// LRs returns a copy of the learning rate of every parameter group.
func (s *simple) LRs() []float64 { return clone(s.lrs) }

// Steps returns the number of steps taken since construction.
func (s *simple) Steps() int { return s.epoch }

func (s *simple) marshal(config string) ([]byte, error) {
	return marshalState(s.kind, config, func(e *encoder) {
		e.int(s.epoch)
		e.f64s(s.lrs)
	})
}

func (s *simple) unmarshal(data []byte, config string) error {
	return unmarshalState(data, s.kind, config, func(d *decoder) (func(), error) {
		epoch := d.int()
		lrs := d.f64s(len(s.lrs))
		if d.err != nil {
			return nil, d.err
		}
		if err := checkEpoch(epoch); err != nil {
			return nil, err
		}
		if err := checkLRState(lrs); err != nil {
			return nil, err
		}
		return func() { s.epoch, s.lrs = epoch, lrs }, nil
	})
}

func newSimple(kind string, baseLRs []float64) (simple, error) {
	if err := checkLRs(kind, "base_lrs", baseLRs); err != nil {
		return simple{}, err
	}
	return simple{kind: kind, base: clone(baseLRs), lrs: clone(baseLRs)}, nil
}

// MultiStep multiplies the learning rates by gamma at each milestone, like
// PyTorch's MultiStepLR.
type MultiStep struct {
	simple
	milestones []int
	gamma      float64
}

// NewMultiStep returns a MultiStep schedule over baseLRs (one rate per
// parameter group). Milestones are step counts, strictly increasing and
// >= 1; gamma must be finite and > 0.
func NewMultiStep(baseLRs []float64, milestones []int, gamma float64) (*MultiStep, error) {
	const kind = "multistep"
	s, err := newSimple(kind, baseLRs)
	if err != nil {
		return nil, err
	}
	if err := checkMilestones(kind, milestones, false); err != nil {
		return nil, err
	}
	if err := checkPositive(kind, "gamma", gamma); err != nil {
		return nil, err
	}
	return &MultiStep{simple: s, milestones: append([]int(nil), milestones...), gamma: gamma}, nil
}

func (s *MultiStep) config() string {
	return fmt.Sprintf("milestones=%s gamma=%s base_lrs=%s", fmtInts(s.milestones), fmtF(s.gamma), fmtFs(s.base))
}

// Step advances one step. The metric, if any, is ignored.
func (s *MultiStep) Step(metric ...float64) error {
	if err := noMetric(s.kind, metric); err != nil {
		return err
	}
	s.epoch++
	for _, m := range s.milestones {
		if m == s.epoch {
			for i := range s.lrs {
				s.lrs[i] *= s.gamma
			}
		}
	}
	return nil
}

// MarshalBinary returns the state of the schedule.
func (s *MultiStep) MarshalBinary() ([]byte, error) { return s.marshal(s.config()) }

// UnmarshalBinary restores a state written by MarshalBinary of a MultiStep
// built with the same arguments.
func (s *MultiStep) UnmarshalBinary(data []byte) error { return s.unmarshal(data, s.config()) }

// StepLR multiplies the learning rates by gamma every stepSize steps, like
// PyTorch's StepLR.
type StepLR struct {
	simple
	stepSize int
	gamma    float64
}

// NewStep returns a StepLR schedule over baseLRs. stepSize must be >= 1 and
// gamma finite and > 0.
func NewStep(baseLRs []float64, stepSize int, gamma float64) (*StepLR, error) {
	const kind = "step"
	s, err := newSimple(kind, baseLRs)
	if err != nil {
		return nil, err
	}
	if stepSize < 1 {
		return nil, argErr(kind, "step_size", stepSize, "an integer >= 1")
	}
	if err := checkPositive(kind, "gamma", gamma); err != nil {
		return nil, err
	}
	return &StepLR{simple: s, stepSize: stepSize, gamma: gamma}, nil
}

func (s *StepLR) config() string {
	return fmt.Sprintf("step_size=%d gamma=%s base_lrs=%s", s.stepSize, fmtF(s.gamma), fmtFs(s.base))
}

// Step advances one step. The metric, if any, is ignored.
func (s *StepLR) Step(metric ...float64) error {
	if err := noMetric(s.kind, metric); err != nil {
		return err
	}
	s.epoch++
	if s.epoch%s.stepSize == 0 {
		for i := range s.lrs {
			s.lrs[i] *= s.gamma
		}
	}
	return nil
}

// MarshalBinary returns the state of the schedule.
func (s *StepLR) MarshalBinary() ([]byte, error) { return s.marshal(s.config()) }

// UnmarshalBinary restores a state written by MarshalBinary of a StepLR built
// with the same arguments.
func (s *StepLR) UnmarshalBinary(data []byte) error { return s.unmarshal(data, s.config()) }

// Exponential multiplies the learning rates by gamma at every step, like
// PyTorch's ExponentialLR.
type Exponential struct {
	simple
	gamma float64
}

// NewExponential returns an Exponential schedule over baseLRs; gamma must be
// finite and > 0.
func NewExponential(baseLRs []float64, gamma float64) (*Exponential, error) {
	const kind = "exponential"
	s, err := newSimple(kind, baseLRs)
	if err != nil {
		return nil, err
	}
	if err := checkPositive(kind, "gamma", gamma); err != nil {
		return nil, err
	}
	return &Exponential{simple: s, gamma: gamma}, nil
}

func (s *Exponential) config() string {
	return fmt.Sprintf("gamma=%s base_lrs=%s", fmtF(s.gamma), fmtFs(s.base))
}

// Step advances one step. The metric, if any, is ignored.
func (s *Exponential) Step(metric ...float64) error {
	if err := noMetric(s.kind, metric); err != nil {
		return err
	}
	s.epoch++
	for i := range s.lrs {
		s.lrs[i] *= s.gamma
	}
	return nil
}

// MarshalBinary returns the state of the schedule.
func (s *Exponential) MarshalBinary() ([]byte, error) { return s.marshal(s.config()) }

// UnmarshalBinary restores a state written by MarshalBinary of an
// Exponential built with the same arguments.
func (s *Exponential) UnmarshalBinary(data []byte) error { return s.unmarshal(data, s.config()) }

// Constant keeps the base learning rates unchanged. It is the baseline to
// compare other schedules against, and a filler inside Sequential. (It is not
// PyTorch's ConstantLR, which scales the rate by a factor for some steps; use
// Linear with equal start and end factors inside Sequential for that.)
type Constant struct {
	simple
}

// NewConstant returns a Constant schedule over baseLRs.
func NewConstant(baseLRs []float64) (*Constant, error) {
	s, err := newSimple("constant", baseLRs)
	if err != nil {
		return nil, err
	}
	return &Constant{simple: s}, nil
}

func (s *Constant) config() string { return "base_lrs=" + fmtFs(s.base) }

// Step advances one step. The metric, if any, is ignored.
func (s *Constant) Step(metric ...float64) error {
	if err := noMetric(s.kind, metric); err != nil {
		return err
	}
	s.epoch++
	return nil
}

// MarshalBinary returns the state of the schedule.
func (s *Constant) MarshalBinary() ([]byte, error) { return s.marshal(s.config()) }

// UnmarshalBinary restores a state written by MarshalBinary of a Constant
// built with the same arguments.
func (s *Constant) UnmarshalBinary(data []byte) error { return s.unmarshal(data, s.config()) }

// Linear scales the learning rates by a factor that moves linearly from
// startFactor to endFactor over totalIters steps, then stays at endFactor,
// like PyTorch's LinearLR. It is the usual warmup.
type Linear struct {
	simple
	start, end float64
	total      int
}

// NewLinear returns a Linear schedule over baseLRs. startFactor must be in
// (0, 1], endFactor in [0, 1], and totalIters >= 1. PyTorch's defaults are
// startFactor 1/3, endFactor 1, totalIters 5.
func NewLinear(baseLRs []float64, startFactor, endFactor float64, totalIters int) (*Linear, error) {
	const kind = "linear"
	s, err := newSimple(kind, baseLRs)
	if err != nil {
		return nil, err
	}
	if !finite(startFactor) || startFactor <= 0 || startFactor > 1 {
		return nil, argErr(kind, "start_factor", startFactor, "0 < start_factor <= 1")
	}
	if !finite(endFactor) || endFactor < 0 || endFactor > 1 {
		return nil, argErr(kind, "end_factor", endFactor, "0 <= end_factor <= 1")
	}
	if totalIters < 1 {
		return nil, argErr(kind, "total_iters", totalIters, "an integer >= 1")
	}
	for i := range s.lrs {
		s.lrs[i] *= startFactor
	}
	return &Linear{simple: s, start: startFactor, end: endFactor, total: totalIters}, nil
}

func (s *Linear) config() string {
	return fmt.Sprintf("start_factor=%s end_factor=%s total_iters=%d base_lrs=%s", fmtF(s.start), fmtF(s.end), s.total, fmtFs(s.base))
}

// Step advances one step. The metric, if any, is ignored.
func (s *Linear) Step(metric ...float64) error {
	if err := noMetric(s.kind, metric); err != nil {
		return err
	}
	s.epoch++
	if s.epoch > s.total {
		return nil
	}
	// PyTorch's chainable form, in its order of operations.
	f := 1 + (s.end-s.start)/(float64(s.total)*s.start+float64(s.epoch-1)*(s.end-s.start))
	for i := range s.lrs {
		s.lrs[i] *= f
	}
	return nil
}

// MarshalBinary returns the state of the schedule.
func (s *Linear) MarshalBinary() ([]byte, error) { return s.marshal(s.config()) }

// UnmarshalBinary restores a state written by MarshalBinary of a Linear
// built with the same arguments.
func (s *Linear) UnmarshalBinary(data []byte) error { return s.unmarshal(data, s.config()) }

// Cosine anneals the learning rates from their base values to etaMin along
// a half cosine over tMax steps, like PyTorch's CosineAnnealingLR. As in
// PyTorch it does not stop at tMax: the curve is periodic with period
// 2*tMax and rises back towards the base rates.
type Cosine struct {
	simple
	tMax   int
	etaMin float64
}

// NewCosine returns a Cosine schedule over baseLRs. tMax must be >= 1 and
// etaMin finite and >= 0.
func NewCosine(baseLRs []float64, tMax int, etaMin float64) (*Cosine, error) {
	const kind = "cosine"
	s, err := newSimple(kind, baseLRs)
	if err != nil {
		return nil, err
	}
	if tMax < 1 || tMax > math.MaxInt/2 {
		return nil, argErr(kind, "t_max", tMax, "an integer in [1, %d]", math.MaxInt/2)
	}
	if err := checkNonNeg(kind, "eta_min", etaMin); err != nil {
		return nil, err
	}
	return &Cosine{simple: s, tMax: tMax, etaMin: etaMin}, nil
}

func (s *Cosine) config() string {
	return fmt.Sprintf("t_max=%d eta_min=%s base_lrs=%s", s.tMax, fmtF(s.etaMin), fmtFs(s.base))
}

// Step advances one step. The metric, if any, is ignored.
func (s *Cosine) Step(metric ...float64) error {
	if err := noMetric(s.kind, metric); err != nil {
		return err
	}
	s.epoch++
	e, t := s.epoch, s.tMax
	// PyTorch 1.13's recursive form. Its test uses Python's floor modulo,
	// but only for equality with zero, where Go's remainder agrees.
	if (e-1-t)%(2*t) == 0 {
		for i := range s.lrs {
			s.lrs[i] = s.lrs[i] + (s.base[i]-s.etaMin)*(1-math.Cos(math.Pi/float64(t)))/2
		}
		return nil
	}
	r := (1 + math.Cos(math.Pi*float64(e)/float64(t))) / (1 + math.Cos(math.Pi*float64(e-1)/float64(t)))
	for i := range s.lrs {
		s.lrs[i] = r*(s.lrs[i]-s.etaMin) + s.etaMin
	}
	return nil
}

// MarshalBinary returns the state of the schedule.
func (s *Cosine) MarshalBinary() ([]byte, error) { return s.marshal(s.config()) }

// UnmarshalBinary restores a state written by MarshalBinary of a Cosine
// built with the same arguments.
func (s *Cosine) UnmarshalBinary(data []byte) error { return s.unmarshal(data, s.config()) }

// CosineWarmRestarts anneals the learning rates along a half cosine from
// their base values to etaMin over t0 steps, then restarts at the base
// values with a period multiplied by tMult, like PyTorch's
// CosineAnnealingWarmRestarts stepped once per step without an epoch
// argument.
type CosineWarmRestarts struct {
	simple
	t0, tMult int
	etaMin    float64
	tCur, tI  int
}

// NewCosineWarmRestarts returns a CosineWarmRestarts schedule over baseLRs.
// t0 must be >= 1, tMult >= 1, and etaMin finite and >= 0.
func NewCosineWarmRestarts(baseLRs []float64, t0, tMult int, etaMin float64) (*CosineWarmRestarts, error) {
	const kind = "cosine_warm_restarts"
	s, err := newSimple(kind, baseLRs)
	if err != nil {
		return nil, err
	}
	if t0 < 1 {
		return nil, argErr(kind, "t_0", t0, "an integer >= 1")
	}
	if tMult < 1 {
		return nil, argErr(kind, "t_mult", tMult, "an integer >= 1")
	}
	if err := checkNonNeg(kind, "eta_min", etaMin); err != nil {
		return nil, err
	}
	c := &CosineWarmRestarts{simple: s, t0: t0, tMult: tMult, etaMin: etaMin, tI: t0}
	c.set()
	return c, nil
}

func (s *CosineWarmRestarts) set() {
	for i, b := range s.base {
		s.lrs[i] = s.etaMin + (b-s.etaMin)*(1+math.Cos(math.Pi*float64(s.tCur)/float64(s.tI)))/2
	}
}

func (s *CosineWarmRestarts) config() string {
	return fmt.Sprintf("t_0=%d t_mult=%d eta_min=%s base_lrs=%s", s.t0, s.tMult, fmtF(s.etaMin), fmtFs(s.base))
}

// Step advances one step. The metric, if any, is ignored. Once the period
// would overflow an int it stops growing.
func (s *CosineWarmRestarts) Step(metric ...float64) error {
	if err := noMetric(s.kind, metric); err != nil {
		return err
	}
	s.epoch++
	s.tCur++
	if s.tCur >= s.tI {
		s.tCur -= s.tI
		if s.tI <= math.MaxInt/s.tMult {
			s.tI *= s.tMult
		}
	}
	s.set()
	return nil
}

// MarshalBinary returns the state of the schedule.
func (s *CosineWarmRestarts) MarshalBinary() ([]byte, error) {
	return marshalState(s.kind, s.config(), func(e *encoder) {
		e.int(s.epoch)
		e.int(s.tCur)
		e.int(s.tI)
	})
}

// UnmarshalBinary restores a state written by MarshalBinary of a
// CosineWarmRestarts built with the same arguments.
func (s *CosineWarmRestarts) UnmarshalBinary(data []byte) error {
	return unmarshalState(data, s.kind, s.config(), func(d *decoder) (func(), error) {
		epoch, tCur, tI := d.int(), d.int(), d.int()
		if d.err != nil {
			return nil, d.err
		}
		if err := checkEpoch(epoch); err != nil {
			return nil, err
		}
		if tI < s.t0 || tCur < 0 || tCur >= tI {
			return nil, fmt.Errorf("inconsistent period state t_cur=%d t_i=%d", tCur, tI)
		}
		return func() {
			s.epoch, s.tCur, s.tI = epoch, tCur, tI
			s.set()
		}, nil
	})
}
