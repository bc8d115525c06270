package schedule

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/autodrop-go/autodrop"
)

// run steps s n times (with metrics if given) and returns all lrs of group 0.
func run(t *testing.T, s Schedule, n int, metrics []float64) []float64 {
	t.Helper()
	out := []float64{s.LRs()[0]}
	for i := range n {
		var err error
		if metrics != nil {
			err = s.Step(metrics[i])
		} else {
			err = s.Step()
		}
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		out = append(out, s.LRs()[0])
	}
	return out
}

// TestParseDefaults checks that omitted fields take PyTorch's defaults: the
// parsed schedule steps exactly like the constructor called with them.
func TestParseDefaults(t *testing.T) {
	base := []float64{0.1}
	must := func(s Schedule, err error) Schedule {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cases := []struct {
		spec string
		want Schedule
	}{
		{`{"type":"multistep","milestones":[2,4]}`, must(NewMultiStep(base, []int{2, 4}, 0.1))},
		{`{"type":"step","step_size":3}`, must(NewStep(base, 3, 0.1))},
		{`{"type":"cosine","t_max":4}`, must(NewCosine(base, 4, 0))},
		{`{"type":"cosine_warm_restarts","t_0":3}`, must(NewCosineWarmRestarts(base, 3, 1, 0))},
		{`{"type":"linear"}`, must(NewLinear(base, 1.0/3, 1, 5))},
		{`{"type":"onecycle","total_steps":10}`, must(NewOneCycle(base, 10, OneCycleDefaults()))},
		{`{"type":"constant"}`, must(NewConstant(base))},
	}
	for _, c := range cases {
		s, err := Parse([]byte(c.spec), base, ParseOptions{})
		if err != nil {
			t.Fatalf("%s: %v", c.spec, err)
		}
		if got, want := run(t, s, 10, nil), run(t, c.want, 10, nil); !sameBits(got, want) {
			t.Errorf("%s: %v, want %v", c.spec, got, want)
		}
	}
	// Plateau's defaults: factor 0.1 after more than 10 bad steps.
	s, err := Parse([]byte(`{"type":"plateau"}`), base, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ms := make([]float64, 13)
	for i := range ms {
		ms[i] = 1
	}
	got := run(t, s, 13, ms)
	if got[11] != 0.1 || math.Abs(got[12]-0.01) > 1e-17 || got[13] != got[12] {
		t.Errorf("plateau defaults: %v", got)
	}
	if o, d := s.(*Plateau).o, PlateauDefaults(); o.Mode != d.Mode || o.Factor != d.Factor || o.Patience != d.Patience ||
		o.Threshold != d.Threshold || o.ThresholdMode != d.ThresholdMode || o.Cooldown != d.Cooldown || len(o.MinLRs) != 0 || o.Eps != d.Eps {
		t.Errorf("options %+v, want %+v", o, d)
	}
	// AutoDrop's defaults are the CIFAR preset with the base lr.
	m := newModel()
	s, err = Parse([]byte(`{"type":"autodrop"}`), base, ParseOptions{Params: m.params})
	if err != nil {
		t.Fatal(err)
	}
	want := autodrop.CIFAR()
	want.LR = base[0]
	if got := s.(*AutoDrop[float32]).cfg; got.DropFactor != want.DropFactor || got.Theta != want.Theta || got.Patience != want.Patience || got.LR != want.LR || got.TailAverage != want.TailAverage {
		t.Errorf("autodrop config %+v, want %+v", got, want)
	}
	s, err = Parse([]byte(`{"type":"autodrop","preset":"imagenet","patience":4}`), base, ParseOptions{Params64: func() [][]float64 { return [][]float64{{1}} }})
	if err != nil {
		t.Fatal(err)
	}
	if c := s.(*AutoDrop[float64]).cfg; c.DropFactor != autodrop.ImageNet().DropFactor || c.Patience != 4 {
		t.Errorf("imagenet preset with patience 4: %+v", c)
	}
}

// TestParseErrors checks that bad specs give errors that say what is wrong
// and list what is valid.
func TestParseErrors(t *testing.T) {
	base := []float64{0.1}
	allTypes := "multistep, step, exponential, cosine, cosine_warm_restarts, linear, sequential, onecycle, plateau, constant, autodrop"
	cases := []struct{ spec, want string }{
		{``, "empty spec"},
		{`{"type":"constant"} x`, "data after"},
		{`[1]`, `must be a JSON object`},
		{`{"gamma":0.1}`, `no "type" field; valid types: ` + allTypes},
		{`{"type":3}`, `"type" must be a string`},
		{`{"type":"cosine_annealing"}`, `unknown type "cosine_annealing"; valid types: ` + allTypes},
		{`{"type":"multistep","milestones":[1],"gama":0.1}`, `multistep: unknown field "gama"; valid fields: milestones, gamma`},
		{`{"type":"constant","lr":0.1}`, `constant: unknown field "lr"; valid fields: none`},
		{`{"type":"plateau","Factor":0.5}`, `valid fields: mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps`},
		{`{"type":"multistep"}`, `multistep: missing field "milestones" (a list of integers)`},
		{`{"type":"exponential"}`, `exponential: missing field "gamma" (a number)`},
		{`{"type":"step","step_size":2.5}`, `step: field "step_size": want an integer, got 2.5`},
		{`{"type":"step","step_size":2,"gamma":"0.1"}`, `step: field "gamma": want a number, got "0.1"`},
		{`{"type":"onecycle","total_steps":10,"three_phase":1}`, `field "three_phase": want true or false`},
		{`{"type":"onecycle","total_steps":10,"max_lr":"big"}`, `field "max_lr": want a number or a list of numbers`},
		{`{"type":"onecycle","total_steps":10,"max_lr":[0.1,0.2]}`, `max_lr = [0.1, 0.2], want one value, or one per parameter group (1)`},
		{`{"type":"step","step_size":0}`, `schedule: step: step_size = 0, want an integer >= 1`},
		{`{"type":"multistep","milestones":[5,3]}`, `milestones = [5, 3], want strictly increasing`},
		{`{"type":"sequential","milestones":[2],"schedules":[{"type":"constant"},{"type":"plateau","factor":2}]}`,
			`schedule: schedules[1]: plateau: factor = 2, want 0 < factor < 1`},
		{`{"type":"sequential","milestones":[2],"schedules":[{"type":"constant"},{"type":"sequential","milestones":[1],"schedules":[{"type":"constant"},{"type":"cosinus"}]}]}`,
			`schedule: schedules[1].schedules[1]: unknown type "cosinus"`},
		{`{"type":"sequential","milestones":[2],"schedules":[{"type":"constant"},{"type":"step","size":1}]}`,
			`schedule: schedules[1]: step: unknown field "size"; valid fields: step_size, gamma`},
		{`{"type":"sequential","milestones":[2,3],"schedules":[{"type":"constant"},{"type":"constant"}]}`, `milestones = [2, 3], want one milestone fewer than schedules (1)`},
		{`{"type":"autodrop"}`, `set ParseOptions.Params`},
		{`{"type":"autodrop","lr":0.1}`, `field "lr" is not accepted`},
		{`{"type":"autodrop","preset":"mnist"}`, `preset = "mnist", want "cifar" or "imagenet"`},
		{`{"type":"autodrop","window":1.5}`, `field "window": want an integer`},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.spec), base, ParseOptions{})
		if err == nil {
			t.Errorf("%s: accepted", c.spec)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant ...%s...", c.spec, err, c.want)
		}
	}
	// ArgErrors from nested specs carry the path.
	_, err := Parse([]byte(`{"type":"sequential","milestones":[2],"schedules":[{"type":"constant"},{"type":"cosine","t_max":-1}]}`), base, ParseOptions{})
	var ae *ArgError
	if !errors.As(err, &ae) || ae.Path != "schedules[1]" || ae.Field != "t_max" || ae.Value != "-1" {
		t.Errorf("nested ArgError: %#v", ae)
	}
}

// TestPlateauNegativeLosses checks the relative threshold on negative
// metrics, where PyTorch's best*(1-threshold) would count a worse loss as an
// improvement.
func TestPlateauNegativeLosses(t *testing.T) {
	o := PlateauDefaults()
	o.Patience = 0
	o.Factor = 0.5
	o.Threshold = 0.01
	p, _ := NewPlateau([]float64{1}, o)
	steps := []struct {
		metric float64
		lr     float64
	}{
		{-1.0, 1},     // first value: best = -1
		{-1.02, 1},    // 2% better than -1: an improvement
		{-1.025, 0.5}, // better by 0.5% < 1%: not an improvement (PyTorch: improvement)
		{-1.01, 0.25}, // worse (PyTorch would count it too: -1.01 < -1.02*0.99)
		{-1.5, 0.25},  // clearly better
	}
	for i, s := range steps {
		if err := p.Step(s.metric); err != nil {
			t.Fatal(err)
		}
		if got := p.LRs()[0]; got != s.lr {
			t.Errorf("step %d (metric %v): lr %v, want %v (best %v)", i+1, s.metric, got, s.lr, p.Best())
		}
	}
	if p.Best() != -1.5 {
		t.Errorf("best %v, want -1.5", p.Best())
	}
}

// TestPlateauSymmetry checks on random curves crossing zero that mode "min"
// on a loss and mode "max" on its negation take the same decisions, in both
// threshold modes, and that "abs" mode ignores a shift of the metric.
func TestPlateauSymmetry(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 50 {
		n := 60
		loss := make([]float64, n)
		x := r.Float64()*2 - 1
		for i := range loss {
			x += r.NormFloat64()*0.05 - 0.01
			loss[i] = math.Round(x*(1<<20)) / (1 << 20) // dyadic: the shift below is exact
		}
		for _, mode := range []string{"rel", "abs"} {
			o := PlateauDefaults()
			o.Patience, o.Cooldown, o.Factor, o.Threshold, o.ThresholdMode = r.IntN(4), r.IntN(3), 0.5, 0.02, mode
			neg := make([]float64, n)
			for i := range loss {
				neg[i] = -loss[i]
			}
			a, _ := NewPlateau([]float64{1}, o)
			o.Mode = "max"
			b, _ := NewPlateau([]float64{1}, o)
			la, lb := run(t, a, n, loss), run(t, b, n, neg)
			if !sameBits(la, lb) {
				t.Fatalf("trial %d %s: min on loss %v\nmax on -loss %v", trial, mode, la, lb)
			}
			if mode == "abs" {
				shift := make([]float64, n)
				for i := range loss {
					shift[i] = loss[i] + 8
				}
				o.Mode = "min"
				o.Threshold = 0.0625 // dyadic too, so best-threshold is exact
				c, _ := NewPlateau([]float64{1}, o)
				d, _ := NewPlateau([]float64{1}, o)
				lc, ld := run(t, c, n, loss), run(t, d, n, shift)
				if !sameBits(lc, ld) {
					t.Fatalf("trial %d: abs mode depends on a shift: %v vs %v", trial, lc, ld)
				}
			}
		}
	}
}

// TestSequentialPlateauAfterWarmup checks the composition PyTorch lacks:
// a linear warmup, then ReduceLROnPlateau. The metric given at the milestone
// was measured under the warmup and is not passed to the plateau.
func TestSequentialPlateauAfterWarmup(t *testing.T) {
	spec := `{"type":"sequential","milestones":[2],"schedules":[
		{"type":"linear","start_factor":0.5,"total_iters":2},
		{"type":"plateau","patience":0,"factor":0.5}]}`
	s, err := Parse([]byte(spec), []float64{0.1}, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Warmup: 0.05, 0.05*(1+0.5/1) = 0.075; plateau from step 2 at 0.1.
	// Metric 1 at the milestone is dropped; if the plateau saw it, 3 would
	// be a worsening at step 3 and the lr would halve.
	metrics := []float64{9, 1, 3, 2.5, 2.6, 2.6}
	want := []float64{0.05, 0.07500000000000001, 0.1, 0.1, 0.1, 0.05, 0.025}
	got := run(t, s, len(metrics), metrics)
	for i := range want {
		if !closeRel(got[i], want[i]) {
			t.Fatalf("lrs %v, want %v", got, want)
		}
	}
	if seq := s.(*Sequential); seq.Active() != 1 || seq.Steps() != 6 {
		t.Errorf("active %d after %d steps", seq.Active(), seq.Steps())
	}
	// The warmup ignores a NaN metric; the plateau rejects one.
	s, _ = Parse([]byte(spec), []float64{0.1}, ParseOptions{})
	if err := s.Step(math.NaN()); err != nil {
		t.Errorf("warmup step with NaN: %v", err)
	}
	_ = s.Step(1)
	if err := s.Step(math.NaN()); err == nil {
		t.Error("plateau step with NaN accepted")
	}
}

// TestAutoDropFollowsCore checks that the first group's lr is the core's lr
// at every step, that every group drops by the same factor down to the
// floor, and that the record is exposed.
func TestAutoDropFollowsCore(t *testing.T) {
	m := newModel()
	var recs []autodrop.Record
	cfg := testAutoDropConfig()
	cfg.OnRecord = func(r autodrop.Record) { recs = append(recs, r) }
	s, err := NewAutoDrop(cfg, []float64{0.1, 0.004}, m.params)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Last(); ok {
		t.Error("a record before the first step")
	}
	drops := 0
	for i := 1; i <= 30; i++ {
		m.at(i)
		before := s.LRs()
		if err := s.Step(); err != nil {
			t.Fatal(err)
		}
		r, ok := s.Last()
		if !ok || r.Epoch != i || recs[len(recs)-1] != r {
			t.Fatalf("step %d: record %v", i, r)
		}
		lrs := s.LRs()
		if lrs[0] != r.LR {
			t.Fatalf("step %d: group 0 lr %v, core %v", i, lrs[0], r.LR)
		}
		if r.Dropped {
			drops++
			if want := math.Max(before[1]*0.5, 1e-3); lrs[1] != math.Min(before[1], want) {
				t.Fatalf("step %d: group 1 %v -> %v", i, before[1], lrs[1])
			}
		} else if !sameBits(lrs, before) {
			t.Fatalf("step %d: lrs changed without a drop", i)
		}
	}
	if drops < 3 {
		t.Fatalf("only %d drops; the test trajectory should give several", drops)
	}
	// Group 1: 0.004 halves to 0.002, then stops at the floor 1e-3.
	if got := s.LRs()[1]; got != 1e-3 {
		t.Errorf("group 1 ends at %v, want the floor 1e-3", got)
	}
}

// TestDocsListEveryField checks that the package documentation and
// docs/SCHEDULES.md document every type and field Parse accepts, with its
// default.
func TestDocsListEveryField(t *testing.T) {
	for _, doc := range []struct {
		file    string
		typeRow func(name string) string
		row     func(f FieldDoc) string
	}{
		{"doc.go", func(n string) string { return "\n//\t" + n + " " },
			func(f FieldDoc) string { return "\n//\t  " + f.Name + " " }},
		{"../docs/SCHEDULES.md", func(n string) string { return "### `" + n + "`" },
			func(f FieldDoc) string { return "| `" + f.Name + "` | " + f.Type + " | " + f.Default + " |" }},
	} {
		b, err := os.ReadFile(doc.file)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "\r\n", "\n")
		for _, ty := range Types() {
			i := strings.Index(text, doc.typeRow(ty.Name))
			if i < 0 {
				t.Errorf("%s does not document type %s", doc.file, ty.Name)
				continue
			}
			section := text[i+1:]
			if j := strings.Index(section, doc.typeRow("")); doc.file != "doc.go" && j >= 0 {
				section = section[:j]
			}
			for _, f := range ty.Fields {
				r := doc.row(f)
				if !strings.Contains(section, r) {
					t.Errorf("%s does not document %s.%s as %q", doc.file, ty.Name, f.Name, r)
				}
				if doc.file == "doc.go" {
					line := section[strings.Index(section, r)+1:]
					line = line[:strings.Index(line, "\n")]
					if !strings.Contains(line, " "+f.Default+" ") {
						t.Errorf("doc.go: %s.%s default is not %s: %q", ty.Name, f.Name, f.Default, line)
					}
				}
			}
		}
	}
	// The preset values quoted in the docs.
	c, i := autodrop.CIFAR(), autodrop.ImageNet()
	if c.DropFactor != 0.2 || c.Theta != 0.01 || c.MaxTheta != 1 || c.MinLR != 1e-4 || c.Patience != 19 ||
		!c.AutoTheta || !c.TailAverage || c.Window != 1 || c.Epsilon != 1e-8 || i.DropFactor != 0.1 {
		t.Errorf("the presets changed; update the docs of the autodrop preset field: %+v %+v", c, i)
	}
}
