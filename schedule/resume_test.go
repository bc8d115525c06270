package schedule

import (
	"bytes"
	"math"
	"testing"

	"github.com/autodrop-go/autodrop"
)

// model is a deterministic stand-in for a network: before step i the test
// sets its parameters to a point of a fixed trajectory whose turning angle
// settles (10 + 30/i degrees), so AutoDrop arms and drops.
type model struct{ p [][]float32 }

func newModel() *model { return &model{p: [][]float32{make([]float32, 2), make([]float32, 1)}} }

func (m *model) params() [][]float32 { return m.p }

// at sets the parameters to the trajectory point after i steps.
func (m *model) at(i int) {
	var x, y, z, phi float64
	for k := 1; k <= i; k++ {
		phi += (10 + 30/float64(k)) * math.Pi / 180
		x += math.Cos(phi)
		y += math.Sin(phi)
		z += 0.1
	}
	m.p[0][0], m.p[0][1], m.p[1][0] = float32(x), float32(y), float32(z)
}

// testAutoDropConfig drops within a few steps on the model's trajectory.
func testAutoDropConfig() autodrop.Config {
	return autodrop.Config{DropFactor: 0.5, Theta: 1, Patience: 2, MinLR: 1e-3, TailAverage: true, Window: 1}
}

// resumeCase is a schedule, how to build it afresh, and the metrics to feed.
type resumeCase struct {
	name    string
	steps   int
	metrics []float64 // nil: Step without a metric
	// build returns a fresh schedule and a hook run before each step i
	// (1-based), e.g. to move the model.
	build func(t *testing.T) (Schedule, func(i int))
}

func specCase(name, spec string, base []float64, steps int, metrics []float64) resumeCase {
	return resumeCase{name, steps, metrics, func(t *testing.T) (Schedule, func(int)) {
		t.Helper()
		m := newModel()
		s, err := Parse([]byte(spec), base, ParseOptions{Params: m.params})
		if err != nil {
			t.Fatal(err)
		}
		return s, m.at
	}}
}

// plateauMetrics is a loss curve with improvements, plateaus and a bump.
func plateauMetrics(n int, offset float64) []float64 {
	ms := make([]float64, n)
	for i := range ms {
		ms[i] = offset + 1/float64(1+i/3) + 0.05*math.Sin(float64(i))
	}
	return ms
}

func resumeCases(t *testing.T) []resumeCase {
	traces := loadTraces(t)
	var cases []resumeCase
	for name, spec := range traceSpecs {
		tr := traces[name]
		cases = append(cases, specCase(name, spec, []float64{tr.InitialLR}, tr.NSteps, tr.Metrics))
	}
	two := []float64{0.1, 0.01}
	cases = append(cases,
		specCase("constant", `{"type":"constant"}`, two, 10, nil),
		specCase("linear defaults", `{"type":"linear"}`, two, 10, nil),
		specCase("multistep two groups", `{"type":"multistep","milestones":[2,5]}`, two, 10, nil),
		specCase("warm restarts t_mult 1", `{"type":"cosine_warm_restarts","t_0":4,"eta_min":0.01}`, two, 18, nil),
		specCase("onecycle linear three phase", `{"type":"onecycle","max_lr":[0.5,0.05],"total_steps":25,"anneal_strategy":"linear","three_phase":true,"pct_start":0.25}`, two, 25, nil),
		specCase("onecycle no momentum", `{"type":"onecycle","total_steps":12,"cycle_momentum":false}`, two, 12, nil),
		specCase("plateau max abs", `{"type":"plateau","mode":"max","threshold_mode":"abs","threshold":0.01,"patience":1,"cooldown":2,"factor":0.3}`, two, 40, plateauMetrics(40, 0)),
		specCase("plateau negative", `{"type":"plateau","patience":1,"cooldown":1,"factor":0.5,"min_lr":[0.01,0.001]}`, two, 40, plateauMetrics(40, -3)),
		specCase("warmup then plateau", `{"type":"sequential","milestones":[3],"schedules":[{"type":"linear","total_iters":3},{"type":"plateau","patience":1,"factor":0.5}]}`, two, 40, plateauMetrics(40, 0)),
		specCase("autodrop", `{"type":"autodrop","preset":"cifar","drop_factor":0.5,"theta":1,"patience":2,"min_lr":0.001,"auto_theta":false,"max_theta":0}`, two, 40, nil),
		specCase("warmup then autodrop", `{"type":"sequential","milestones":[4],"schedules":[{"type":"linear","total_iters":4},{"type":"autodrop","drop_factor":0.5,"theta":1,"patience":2,"min_lr":0.001}]}`, two, 40, nil),
		specCase("nested sequential", `{"type":"sequential","milestones":[2,6],"schedules":[
			{"type":"constant"},
			{"type":"sequential","milestones":[2],"schedules":[{"type":"exponential","gamma":0.9},{"type":"step","step_size":2}]},
			{"type":"cosine","t_max":5}]}`, two, 15, nil),
	)
	return cases
}

func stepCase(t *testing.T, c resumeCase, s Schedule, before func(int), i int) {
	t.Helper()
	before(i)
	var err error
	if c.metrics != nil {
		err = s.Step(c.metrics[i-1])
	} else {
		err = s.Step()
	}
	if err != nil {
		t.Fatalf("step %d: %v", i, err)
	}
}

func sameBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

// momentums returns the OneCycle momentums, or nil for other schedules.
func momentums(s Schedule) []float64 {
	if oc, ok := s.(*OneCycle); ok {
		return oc.Momentums()
	}
	return nil
}

// TestResumeEveryStep interrupts every schedule after every step k: it
// saves the state, restores it into a freshly built schedule, continues, and
// requires the same learning rates (bit for bit) and the same final state as
// the uninterrupted run.
func TestResumeEveryStep(t *testing.T) {
	for _, c := range resumeCases(t) {
		t.Run(c.name, func(t *testing.T) {
			ref, before := c.build(t)
			want := [][]float64{ref.LRs()}
			wantMom := [][]float64{momentums(ref)}
			for i := 1; i <= c.steps; i++ {
				stepCase(t, c, ref, before, i)
				want = append(want, ref.LRs())
				wantMom = append(wantMom, momentums(ref))
			}
			final, err := ref.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if sameBits(want[0], want[c.steps]) && c.name != "constant" {
				t.Fatalf("the lr never changes in %d steps; the case tests nothing", c.steps)
			}
			for k := 0; k <= c.steps; k++ {
				a, beforeA := c.build(t)
				for i := 1; i <= k; i++ {
					stepCase(t, c, a, beforeA, i)
				}
				state, err := a.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				b, beforeB := c.build(t)
				if err := b.UnmarshalBinary(state); err != nil {
					t.Fatalf("k=%d: %v", k, err)
				}
				for i := k; i <= c.steps; i++ {
					if i > k {
						stepCase(t, c, b, beforeB, i)
					}
					if got := b.LRs(); !sameBits(got, want[i]) {
						t.Fatalf("resumed after %d steps: lrs at step %d = %v, uninterrupted %v", k, i, got, want[i])
					}
					if got := momentums(b); !sameBits(got, wantMom[i]) {
						t.Fatalf("resumed after %d steps: momentums at step %d = %v, uninterrupted %v", k, i, got, wantMom[i])
					}
				}
				got, err := b.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, final) {
					t.Fatalf("resumed after %d steps: final state differs from the uninterrupted run", k)
				}
			}
		})
	}
}

// TestResumeRejects checks that a state is only accepted by a schedule
// built with the same arguments, that corrupt states are rejected, and that
// a rejected state changes nothing.
func TestResumeRejects(t *testing.T) {
	base := []float64{0.1}
	a, _ := NewMultiStep(base, []int{3, 6}, 0.2)
	for range 4 {
		_ = a.Step()
	}
	state, _ := a.MarshalBinary()

	b, _ := NewMultiStep(base, []int{3, 7}, 0.2)
	_ = b.Step()
	before, _ := b.MarshalBinary()
	p, _ := NewPlateau(base, PlateauDefaults())
	for name, tc := range map[string]struct {
		s    Schedule
		data []byte
	}{
		"other milestones": {b, state},
		"other type":       {p, state},
		"truncated":        {b, state[:len(state)-3]},
		"trailing":         {b, append(append([]byte(nil), state...), 0)},
		"empty":            {b, nil},
		"garbage":          {b, []byte("not a state at all")},
	} {
		t.Run(name, func(t *testing.T) {
			s0, _ := tc.s.MarshalBinary()
			err := tc.s.UnmarshalBinary(tc.data)
			if err == nil {
				t.Fatal("accepted")
			}
			t.Log(err)
			s1, _ := tc.s.MarshalBinary()
			if !bytes.Equal(s0, s1) {
				t.Fatal("a rejected state changed the schedule")
			}
		})
	}
	after, _ := b.MarshalBinary()
	if !bytes.Equal(before, after) {
		t.Fatal("state changed")
	}

	// A Sequential whose second child rejects its state restores the first.
	mk := func(g float64) *Sequential {
		c1, _ := NewExponential(base, 0.5)
		c2, _ := NewExponential(base, g)
		s, _ := NewSequential([]Schedule{c1, c2}, []int{2})
		return s
	}
	x := mk(0.9)
	for range 3 {
		_ = x.Step()
	}
	xs, _ := x.MarshalBinary()
	y := mk(0.8) // the second child differs
	_ = y.Step()
	y0, _ := y.MarshalBinary()
	if err := y.UnmarshalBinary(xs); err == nil {
		t.Fatal("sequential accepted a state of a different child")
	}
	if y1, _ := y.MarshalBinary(); !bytes.Equal(y0, y1) {
		t.Fatal("a rejected state changed the sequential schedule")
	}
}
