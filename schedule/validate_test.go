package schedule

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/autodrop-go/autodrop"
)

// TestConstructorValidation checks that every invalid argument is rejected
// with an *ArgError naming the field and the value.
func TestConstructorValidation(t *testing.T) {
	one := []float64{0.1}
	nan, inf := math.NaN(), math.Inf(1)
	oc := func(f func(*OneCycleOptions)) OneCycleOptions {
		o := OneCycleDefaults()
		f(&o)
		return o
	}
	pl := func(f func(*PlateauOptions)) PlateauOptions {
		o := PlateauDefaults()
		f(&o)
		return o
	}
	c1, _ := NewConstant(one)
	c2, _ := NewConstant([]float64{0.1, 0.2})
	params := func() [][]float32 { return [][]float32{{1}} }
	cases := []struct {
		name         string
		err          error
		field, value string
	}{
		{"no groups", e(NewConstant(nil)), "base_lrs", "[]"},
		{"negative lr", e(NewStep([]float64{0.1, -1}, 1, 0.5)), "base_lrs[1]", "-1"},
		{"NaN lr", e(NewExponential([]float64{nan}, 0.5)), "base_lrs[0]", "NaN"},
		{"milestones not increasing", e(NewMultiStep(one, []int{3, 3}, 0.1)), "milestones", "[3, 3]"},
		{"milestones decreasing", e(NewMultiStep(one, []int{5, 2}, 0.1)), "milestones", "[5, 2]"},
		{"milestone 0", e(NewMultiStep(one, []int{0, 2}, 0.1)), "milestones", "[0, 2]"},
		{"no milestones", e(NewMultiStep(one, nil, 0.1)), "milestones", "[]"},
		{"multistep gamma 0", e(NewMultiStep(one, []int{1}, 0)), "gamma", "0"},
		{"step size 0", e(NewStep(one, 0, 0.1)), "step_size", "0"},
		{"step gamma negative", e(NewStep(one, 2, -0.5)), "gamma", "-0.5"},
		{"exponential gamma inf", e(NewExponential(one, inf)), "gamma", "+Inf"},
		{"t_max 0", e(NewCosine(one, 0, 0)), "t_max", "0"},
		{"t_max overflows", e(NewCosine(one, math.MaxInt, 0)), "t_max", "9223372036854775807"},
		{"eta_min negative", e(NewCosine(one, 5, -1e-3)), "eta_min", "-0.001"},
		{"t_0 0", e(NewCosineWarmRestarts(one, 0, 1, 0)), "t_0", "0"},
		{"t_mult 0", e(NewCosineWarmRestarts(one, 3, 0, 0)), "t_mult", "0"},
		{"warm eta_min NaN", e(NewCosineWarmRestarts(one, 3, 1, nan)), "eta_min", "NaN"},
		{"start_factor 0", e(NewLinear(one, 0, 1, 5)), "start_factor", "0"},
		{"start_factor > 1", e(NewLinear(one, 1.5, 1, 5)), "start_factor", "1.5"},
		{"end_factor > 1", e(NewLinear(one, 0.5, 2, 5)), "end_factor", "2"},
		{"total_iters 0", e(NewLinear(one, 0.5, 1, 0)), "total_iters", "0"},
		{"sequential empty", e(NewSequential(nil, nil)), "schedules", "[]"},
		{"sequential milestone count", e(NewSequential([]Schedule{c1, c2}, []int{1, 2})), "milestones", "[1, 2]"},
		{"sequential groups", e(NewSequential([]Schedule{c1, c2}, []int{3})), "schedules[1]", "a schedule with 2 parameter groups"},
		{"sequential nil", e(NewSequential([]Schedule{c1, nil}, []int{3})), "schedules[1]", "nil"},
		{"sequential milestones", e(NewSequential([]Schedule{c1, c1, c1}, []int{4, 4})), "milestones", "[4, 4]"},
		{"total_steps 0", e(NewOneCycle(one, 0, OneCycleDefaults())), "total_steps", "0"},
		{"max_lr 0", e(NewOneCycle([]float64{0}, 10, OneCycleDefaults())), "max_lr[0]", "0"},
		{"pct_start > 1", e(NewOneCycle(one, 10, oc(func(o *OneCycleOptions) { o.PctStart = 1.2 }))), "pct_start", "1.2"},
		{"pct_start zero phase", e(NewOneCycle(one, 20, oc(func(o *OneCycleOptions) { o.PctStart = 0.05 }))), "pct_start", "0.05"},
		{"anneal", e(NewOneCycle(one, 10, oc(func(o *OneCycleOptions) { o.AnnealStrategy = "cosine" }))), "anneal_strategy", `"cosine"`},
		{"div_factor", e(NewOneCycle(one, 10, oc(func(o *OneCycleOptions) { o.DivFactor = 0 }))), "div_factor", "0"},
		{"final_div_factor", e(NewOneCycle(one, 10, oc(func(o *OneCycleOptions) { o.FinalDivFactor = -1 }))), "final_div_factor", "-1"},
		{"base_momentum", e(NewOneCycle(one, 10, oc(func(o *OneCycleOptions) { o.BaseMomentum = 0.99 }))), "base_momentum", "0.99"},
		{"max_momentum", e(NewOneCycle(one, 10, oc(func(o *OneCycleOptions) { o.MaxMomentum = nan }))), "max_momentum", "NaN"},
		{"mode", e(NewPlateau(one, pl(func(o *PlateauOptions) { o.Mode = "minimum" }))), "mode", `"minimum"`},
		{"factor 1", e(NewPlateau(one, pl(func(o *PlateauOptions) { o.Factor = 1 }))), "factor", "1"},
		{"factor 0", e(NewPlateau(one, pl(func(o *PlateauOptions) { o.Factor = 0 }))), "factor", "0"},
		{"patience", e(NewPlateau(one, pl(func(o *PlateauOptions) { o.Patience = -1 }))), "patience", "-1"},
		{"threshold", e(NewPlateau(one, pl(func(o *PlateauOptions) { o.Threshold = -1e-4 }))), "threshold", "-0.0001"},
		{"threshold rel >= 1", e(NewPlateau(one, pl(func(o *PlateauOptions) { o.Threshold = 1 }))), "threshold", "1"},
		{"threshold_mode", e(NewPlateau(one, pl(func(o *PlateauOptions) { o.ThresholdMode = "relative" }))), "threshold_mode", `"relative"`},
		{"cooldown", e(NewPlateau(one, pl(func(o *PlateauOptions) { o.Cooldown = -2 }))), "cooldown", "-2"},
		{"min_lr count", e(NewPlateau(one, pl(func(o *PlateauOptions) { o.MinLRs = []float64{0, 0} }))), "min_lr", "[0, 0]"},
		{"min_lr negative", e(NewPlateau(one, pl(func(o *PlateauOptions) { o.MinLRs = []float64{-1} }))), "min_lr", "[-1]"},
		{"eps", e(NewPlateau(one, pl(func(o *PlateauOptions) { o.Eps = inf }))), "eps", "+Inf"},
		{"autodrop lr", e(NewAutoDrop(autodrop.Config{LR: 0.2, DropFactor: 0.5}, one, params)), "lr", "0.2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ae *ArgError
			if !errors.As(c.err, &ae) {
				t.Fatalf("got %v, want an *ArgError", c.err)
			}
			if ae.Field != c.field || ae.Value != c.value {
				t.Errorf("field %q value %q, want %q %q (%v)", ae.Field, ae.Value, c.field, c.value, c.err)
			}
			msg := c.err.Error()
			if !strings.HasPrefix(msg, "schedule: ") || !strings.Contains(msg, c.field) || !strings.Contains(msg, "want") {
				t.Errorf("unclear message %q", msg)
			}
		})
	}

	// The core's own validation comes through, naming the field.
	_, err := NewAutoDrop(autodrop.Config{DropFactor: 2}, one, params)
	if !errors.Is(err, autodrop.ErrConfig) || err.Error() != "schedule: autodrop: drop_factor = 2, want in (0, 1)" {
		t.Errorf("autodrop drop factor 2: %v", err)
	}
	_, err = Parse([]byte(`{"type":"autodrop"}`), []float64{5e-5}, ParseOptions{Params: params})
	if !errors.Is(err, autodrop.ErrConfig) || !strings.Contains(err.Error(), "schedule: autodrop: lr = 5e-05, want not below MinLR = 0.0001") {
		t.Errorf("autodrop with a base lr below the preset's min_lr: %v", err)
	}
	// The same schedule twice in a sequential would share its state.
	if _, err := NewSequential([]Schedule{c1, c1}, []int{2}); err == nil || !strings.Contains(err.Error(), "distinct") {
		t.Errorf("sequential with a repeated child: %v", err)
	}
	if _, err := NewAutoDrop[float32](autodrop.Config{DropFactor: 0.5}, one, nil); err == nil {
		t.Error("autodrop without params accepted")
	}
}

// e drops the schedule and keeps the error.
func e[S any](_ S, err error) error { return err }

// TestStepErrorsLeaveState checks the errors of Step and that they change
// nothing.
func TestStepErrorsLeaveState(t *testing.T) {
	one := []float64{0.1}
	p, _ := NewPlateau(one, PlateauDefaults())
	_ = p.Step(1)
	oc, _ := NewOneCycle(one, 3, OneCycleDefaults())
	for range 3 {
		if err := oc.Step(); err != nil {
			t.Fatal(err)
		}
	}
	m := [][]float32{{1, 2}}
	ad, _ := NewAutoDrop(autodrop.Config{DropFactor: 0.5, Theta: 1}, one, func() [][]float32 { return m })
	_ = ad.Step()
	m[0][1] = float32(math.NaN())
	st, _ := NewStep(one, 2, 0.5)
	cases := []struct {
		name string
		s    Schedule
		step func() error
		want string
	}{
		{"plateau NaN", p, func() error { return p.Step(math.NaN()) }, "NaN"},
		{"plateau no metric", p, func() error { return p.Step() }, "needs a metric"},
		{"plateau two metrics", p, func() error { return p.Step(1, 2) }, "one metric"},
		{"onecycle past the end", oc, func() error { return oc.Step() }, "total_steps = 3"},
		{"autodrop NaN parameter", ad, func() error { return ad.Step() }, "NaN"},
		{"step two metrics", st, func() error { return st.Step(1, 2) }, "at most one metric"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _ := c.s.MarshalBinary()
			err := c.step()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			after, _ := c.s.MarshalBinary()
			if !bytes.Equal(before, after) {
				t.Fatal("a failed Step changed the state")
			}
		})
	}
	if !errors.Is(p.Step(), ErrNoMetric) {
		t.Error("Step() of a plateau is not ErrNoMetric")
	}
}

// TestOneCycleHandValues checks three-phase linear annealing against values
// worked out by hand, and that the step past the end holds the final lr
// (PyTorch would extrapolate to 0.1 - 0.099*1.2 < 0).
func TestOneCycleHandValues(t *testing.T) {
	o := OneCycleDefaults()
	o.AnnealStrategy, o.ThreePhase, o.DivFactor, o.FinalDivFactor = AnnealLinear, true, 10, 100
	s, err := NewOneCycle([]float64{1}, 10, o)
	if err != nil {
		t.Fatal(err)
	}
	// Phases end at steps 2, 4 and 9: 0.1 -> 1 -> 0.1 -> 0.001.
	want := []float64{0.1, 0.55, 1, 0.55, 0.1, 0.0802, 0.0604, 0.0406, 0.0208, 0.001, 0.001}
	wantMom := []float64{0.95, 0.9, 0.85, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95}
	for i := range want {
		if i > 0 {
			if err := s.Step(); err != nil {
				t.Fatal(err)
			}
		}
		if got := s.LRs()[0]; math.Abs(got-want[i]) > 1e-15 {
			t.Errorf("step %d: lr %v, want %v", i, got, want[i])
		}
		if got := s.Momentums()[0]; math.Abs(got-wantMom[i]) > 1e-15 {
			t.Errorf("step %d: momentum %v, want %v", i, got, wantMom[i])
		}
	}
}
