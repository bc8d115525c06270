package schedule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/autodrop-go/autodrop"
)

// ParseOptions carries what Parse needs beyond the spec and the base rates.
type ParseOptions struct {
	// Params returns the model's parameters (live slices, one per tensor)
	// for an "autodrop" schedule over float32 parameters. Set Params or
	// Params64 when the spec may contain "autodrop".
	Params func() [][]float32
	// Params64 is Params for float64 parameters.
	Params64 func() [][]float64
	// OnRecord, if set, becomes the autodrop.Config.OnRecord of every
	// "autodrop" schedule in the spec.
	OnRecord func(autodrop.Record)
	// Logger, if set, becomes the autodrop.Config.Logger of every
	// "autodrop" schedule in the spec.
	Logger *slog.Logger
}

// FieldDoc documents one field of a spec type.
type FieldDoc struct {
	Name    string // JSON name, PyTorch's argument name in snake case
	Type    string // JSON type, e.g. "number", "integer", "list of integers"
	Default string // the default, or "required"
	Doc     string // one-line description
}

// TypeDoc documents one spec type.
type TypeDoc struct {
	Name    string // the value of "type"
	PyTorch string // the PyTorch scheduler it mirrors, if any
	Summary string // one-line description
	Fields  []FieldDoc
}

const required = "required"

type specType struct {
	TypeDoc
	build func(f *fields, base []float64, opts ParseOptions) (Schedule, error)
}

// types lists the spec types in documentation order, with their builders.
// It is set in init because sequential's builder refers back to it.
var types []specType

func init() { types = specTypes() }

func specTypes() []specType {
	return []specType{
		{TypeDoc{"multistep", "MultiStepLR", "multiply the lr by gamma at each milestone", []FieldDoc{
			{"milestones", "list of integers", required, "steps at which the lr drops; strictly increasing, >= 1"},
			{"gamma", "number", "0.1", "multiplier at each milestone; > 0"},
		}}, func(f *fields, base []float64, _ ParseOptions) (Schedule, error) {
			ms, g := f.ints("milestones"), f.float("gamma", 0.1)
			if f.err != nil {
				return nil, f.err
			}
			return NewMultiStep(base, ms, g)
		}},
		{TypeDoc{"step", "StepLR", "multiply the lr by gamma every step_size steps", []FieldDoc{
			{"step_size", "integer", required, "period of the drops; >= 1"},
			{"gamma", "number", "0.1", "multiplier at each drop; > 0"},
		}}, func(f *fields, base []float64, _ ParseOptions) (Schedule, error) {
			n, g := f.int("step_size", 0, true), f.float("gamma", 0.1)
			if f.err != nil {
				return nil, f.err
			}
			return NewStep(base, n, g)
		}},
		{TypeDoc{"exponential", "ExponentialLR", "multiply the lr by gamma at every step", []FieldDoc{
			{"gamma", "number", required, "multiplier at each step; > 0"},
		}}, func(f *fields, base []float64, _ ParseOptions) (Schedule, error) {
			g := f.floatReq("gamma")
			if f.err != nil {
				return nil, f.err
			}
			return NewExponential(base, g)
		}},
		{TypeDoc{"cosine", "CosineAnnealingLR", "half cosine from the lr to eta_min over t_max steps (periodic after t_max, as in PyTorch)", []FieldDoc{
			{"t_max", "integer", required, "steps from the lr to eta_min; >= 1 (and < 2^62)"},
			{"eta_min", "number", "0", "lowest lr; >= 0"},
		}}, func(f *fields, base []float64, _ ParseOptions) (Schedule, error) {
			t, e := f.int("t_max", 0, true), f.float("eta_min", 0)
			if f.err != nil {
				return nil, f.err
			}
			return NewCosine(base, t, e)
		}},
		{TypeDoc{"cosine_warm_restarts", "CosineAnnealingWarmRestarts", "cosine from the lr to eta_min, restarting after t_0, t_0*t_mult, ... steps", []FieldDoc{
			{"t_0", "integer", required, "length of the first period; >= 1"},
			{"t_mult", "integer", "1", "factor by which each period grows; >= 1"},
			{"eta_min", "number", "0", "lowest lr; >= 0"},
		}}, func(f *fields, base []float64, _ ParseOptions) (Schedule, error) {
			t0, tm, e := f.int("t_0", 0, true), f.int("t_mult", 1, false), f.float("eta_min", 0)
			if f.err != nil {
				return nil, f.err
			}
			return NewCosineWarmRestarts(base, t0, tm, e)
		}},
		{TypeDoc{"linear", "LinearLR", "scale the lr by a factor going linearly from start_factor to end_factor over total_iters steps (warmup)", []FieldDoc{
			{"start_factor", "number", "1/3", "factor at step 0; 0 < start_factor <= 1"},
			{"end_factor", "number", "1", "factor from step total_iters on; 0 <= end_factor <= 1"},
			{"total_iters", "integer", "5", "steps to reach end_factor; >= 1"},
		}}, func(f *fields, base []float64, _ ParseOptions) (Schedule, error) {
			s, e, n := f.float("start_factor", 1.0/3), f.float("end_factor", 1), f.int("total_iters", 5, false)
			if f.err != nil {
				return nil, f.err
			}
			return NewLinear(base, s, e, n)
		}},
		{TypeDoc{"sequential", "SequentialLR", "run schedules one after another; each starts afresh at its milestone; any type may be a child, including plateau and autodrop", []FieldDoc{
			{"schedules", "list of specs", required, "the schedules, in order"},
			{"milestones", "list of integers", required, "steps at which the next schedule takes over; one fewer than schedules, strictly increasing, >= 1"},
		}}, buildSequential},
		{TypeDoc{"onecycle", "OneCycleLR", "the 1cycle policy: lr from max_lr/div_factor up to max_lr, then down to max_lr/div_factor/final_div_factor at step total_steps-1", []FieldDoc{
			{"max_lr", "number or list of numbers", "the base lr", "peak lr, one for all groups or one per group; > 0"},
			{"total_steps", "integer", required, "length of the cycle; >= 1"},
			{"pct_start", "number", "0.3", "fraction of the cycle spent raising the lr; in [0, 1]"},
			{"anneal_strategy", "string", `"cos"`, `"cos" or "linear"`},
			{"div_factor", "number", "25", "initial lr = max_lr/div_factor; > 0"},
			{"final_div_factor", "number", "1e4", "final lr = initial lr/final_div_factor; > 0"},
			{"three_phase", "boolean", "false", "anneal back to the initial lr before the final lr"},
			{"cycle_momentum", "boolean", "true", "cycle the momentum inversely to the lr (OneCycle.Momentums)"},
			{"base_momentum", "number", "0.85", "momentum at the peak lr; 0 <= base_momentum <= max_momentum"},
			{"max_momentum", "number", "0.95", "momentum at the ends of the cycle"},
		}}, buildOneCycle},
		{TypeDoc{"plateau", "ReduceLROnPlateau", "multiply the lr by factor when the metric stops improving (needs a metric at every step)", []FieldDoc{
			{"mode", "string", `"min"`, `"min" (loss) or "max" (accuracy)`},
			{"factor", "number", "0.1", "multiplier at each reduction; 0 < factor < 1"},
			{"patience", "integer", "10", "steps without improvement tolerated; >= 0"},
			{"threshold", "number", "1e-4", "least improvement that counts; >= 0"},
			{"threshold_mode", "string", `"rel"`, `"rel" (relative to the magnitude of best) or "abs"`},
			{"cooldown", "integer", "0", "steps after a reduction during which bad steps are not counted; >= 0"},
			{"min_lr", "number or list of numbers", "0", "floor of the lr, one for all groups or one per group; >= 0"},
			{"eps", "number", "1e-8", "reductions smaller than eps are skipped; >= 0"},
		}}, buildPlateau},
		{TypeDoc{"constant", "", "keep the lr unchanged", nil},
			func(_ *fields, base []float64, _ ParseOptions) (Schedule, error) { return NewConstant(base) }},
		{TypeDoc{"autodrop", "", "AutoDrop: drop the lr when the angular velocity of the parameters saturates; the lr is the base lr (no lr field); observes the model's parameters", []FieldDoc{
			{"preset", "string", `"cifar"`, `"cifar" (drop_factor 0.2, theta 0.01, max_theta 1, min_lr 1e-4, patience 19, auto_theta and tail_average on, window 1, epsilon 1e-8) or "imagenet" (the same with drop_factor 0.1): gives the fields not set`},
			{"drop_factor", "number", "preset", "multiplier at each drop; 0 < drop_factor < 1"},
			{"theta", "number", "preset", "saturation threshold in degrees; >= 0"},
			{"max_theta", "number", "preset", "cap on theta under auto_theta; 0 means none"},
			{"min_lr", "number", "preset", "floor of the lr at a drop; <= the base lr"},
			{"patience", "integer", "preset", "observations between arming and the drop; >= 0"},
			{"auto_theta", "boolean", "preset", "raise theta at each drop: theta/drop_factor, capped at max_theta"},
			{"tail_average", "boolean", "preset", "replace the parameters by their tail average at a drop"},
			{"window", "integer", "preset", "number of deltas averaged before the test; >= 1 (0 means 1)"},
			{"epsilon", "number", "preset", "added to the norms' product in the cosine; 0 means 1e-8"},
		}}, buildAutoDrop},
	}
}

// Types documents every spec type Parse accepts and its fields, in
// documentation order.
func Types() []TypeDoc {
	out := make([]TypeDoc, len(types))
	for i, t := range types {
		out[i] = t.TypeDoc
		out[i].Fields = append([]FieldDoc(nil), t.Fields...)
	}
	return out
}

func typeNames() string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}

// Parse builds a schedule from a JSON spec such as
//
//	{"type": "multistep", "milestones": [30, 60, 80], "gamma": 0.2}
//
// over baseLRs, the initial learning rate of each parameter group. The
// "type" field selects the schedule and the other fields are its arguments,
// named after PyTorch's in snake case; omitted fields take PyTorch's
// defaults. See the package documentation, or Types, for every type and
// field. An unknown type or field is an error that lists the valid ones; an
// invalid value is an *ArgError naming the field.
func Parse(spec []byte, baseLRs []float64, opts ParseOptions) (Schedule, error) {
	dec := json.NewDecoder(bytes.NewReader(spec))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New(`schedule: empty spec: want a JSON object such as {"type": "constant"}`)
		}
		return nil, fmt.Errorf("schedule: spec is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("schedule: spec has data after the JSON object")
	}
	return parseSpec(raw, "", baseLRs, opts)
}

func parseSpec(raw json.RawMessage, path string, base []float64, opts ParseOptions) (Schedule, error) {
	where := "schedule: "
	if path != "" {
		where += path + ": "
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf(`%sspec must be a JSON object with a "type" field, got %s`, where, abbrev(raw))
	}
	tr, ok := obj["type"]
	if !ok {
		return nil, fmt.Errorf(`%sspec has no "type" field; valid types: %s`, where, typeNames())
	}
	var typ string
	if err := json.Unmarshal(tr, &typ); err != nil {
		return nil, fmt.Errorf(`%s"type" must be a string, got %s; valid types: %s`, where, abbrev(tr), typeNames())
	}
	for _, t := range types {
		if t.Name != typ {
			continue
		}
		f := &fields{obj: obj, path: path, where: where + typ + ": "}
		if typ == "autodrop" {
			if _, ok := obj["lr"]; ok {
				return nil, fmt.Errorf(`%sfield "lr" is not accepted: AutoDrop starts at the base lr, as every schedule does`, f.where)
			}
		}
		valid := make([]string, len(t.Fields))
		for i, fd := range t.Fields {
			valid[i] = fd.Name
		}
		for k := range obj {
			if k != "type" && !contains(valid, k) {
				list := "none"
				if len(valid) > 0 {
					list = strings.Join(valid, ", ")
				}
				return nil, fmt.Errorf("%sunknown field %q; valid fields: %s", f.where, k, list)
			}
		}
		s, err := t.build(f, base, opts)
		if err != nil {
			var ae *ArgError
			if errors.As(err, &ae) && ae.Path == "" {
				ae.Path = path
			}
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("%sunknown type %q; valid types: %s", where, typ, typeNames())
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func abbrev(raw []byte) string {
	s := strings.TrimSpace(string(raw))
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}

// fields decodes the fields of one spec object. The first error sticks.
type fields struct {
	obj   map[string]json.RawMessage
	path  string // location of the spec, e.g. "schedules[1]"
	where string // error prefix
	err   error
}

// get decodes field name into v if present (null counts as absent).
func (f *fields) get(name string, v any, want string) bool {
	raw, ok := f.obj[name]
	if !ok || f.err != nil || string(bytes.TrimSpace(raw)) == "null" {
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		f.err = fmt.Errorf("%sfield %q: want %s, got %s", f.where, name, want, abbrev(raw))
		return false
	}
	return true
}

func (f *fields) missing(name, want string) {
	if f.err == nil {
		f.err = fmt.Errorf("%smissing field %q (%s)", f.where, name, want)
	}
}

func (f *fields) float(name string, def float64) float64 {
	v := def
	f.get(name, &v, "a number")
	return v
}

func (f *fields) floatReq(name string) float64 {
	var v float64
	if !f.get(name, &v, "a number") {
		f.missing(name, "a number")
	}
	return v
}

func (f *fields) int(name string, def int, req bool) int {
	v := def
	if !f.get(name, &v, "an integer") && req {
		f.missing(name, "an integer")
	}
	return v
}

func (f *fields) ints(name string) []int {
	var v []int
	if !f.get(name, &v, "a list of integers") {
		f.missing(name, "a list of integers")
	}
	return v
}

func (f *fields) str(name, def string) string {
	v := def
	f.get(name, &v, "a string")
	return v
}

func (f *fields) bool(name string, def bool) bool {
	v := def
	f.get(name, &v, "true or false")
	return v
}

// floats decodes a number or a list of numbers; ok reports presence.
func (f *fields) floats(name string) (v []float64, ok bool) {
	raw, present := f.obj[name]
	if !present || f.err != nil || string(bytes.TrimSpace(raw)) == "null" {
		return nil, false
	}
	var x float64
	if json.Unmarshal(raw, &x) == nil {
		return []float64{x}, true
	}
	if json.Unmarshal(raw, &v) == nil {
		return v, true
	}
	f.err = fmt.Errorf("%sfield %q: want a number or a list of numbers, got %s", f.where, name, abbrev(raw))
	return nil, false
}

func buildSequential(f *fields, base []float64, opts ParseOptions) (Schedule, error) {
	var raws []json.RawMessage
	if !f.get("schedules", &raws, "a list of specs") {
		f.missing("schedules", "a list of specs")
	}
	ms := f.ints("milestones")
	if f.err != nil {
		return nil, f.err
	}
	prefix := ""
	if f.path != "" {
		prefix = f.path + "."
	}
	children := make([]Schedule, len(raws))
	for i, r := range raws {
		s, err := parseSpec(r, fmt.Sprintf("%sschedules[%d]", prefix, i), base, opts)
		if err != nil {
			return nil, err
		}
		children[i] = s
	}
	return NewSequential(children, ms)
}

func buildOneCycle(f *fields, base []float64, _ ParseOptions) (Schedule, error) {
	o := OneCycleDefaults()
	maxLR, ok := f.floats("max_lr")
	if !ok {
		maxLR = base
	} else if len(maxLR) == 1 && len(base) > 1 {
		for len(maxLR) < len(base) {
			maxLR = append(maxLR, maxLR[0])
		}
	}
	total := f.int("total_steps", 0, true)
	o.PctStart = f.float("pct_start", o.PctStart)
	o.AnnealStrategy = f.str("anneal_strategy", o.AnnealStrategy)
	o.DivFactor = f.float("div_factor", o.DivFactor)
	o.FinalDivFactor = f.float("final_div_factor", o.FinalDivFactor)
	o.ThreePhase = f.bool("three_phase", o.ThreePhase)
	o.CycleMomentum = f.bool("cycle_momentum", o.CycleMomentum)
	o.BaseMomentum = f.float("base_momentum", o.BaseMomentum)
	o.MaxMomentum = f.float("max_momentum", o.MaxMomentum)
	if f.err != nil {
		return nil, f.err
	}
	if len(maxLR) != len(base) {
		return nil, argErr("onecycle", "max_lr", maxLR, "one value, or one per parameter group (%d)", len(base))
	}
	return NewOneCycle(maxLR, total, o)
}

func buildPlateau(f *fields, base []float64, _ ParseOptions) (Schedule, error) {
	o := PlateauDefaults()
	o.Mode = f.str("mode", o.Mode)
	o.Factor = f.float("factor", o.Factor)
	o.Patience = f.int("patience", o.Patience, false)
	o.Threshold = f.float("threshold", o.Threshold)
	o.ThresholdMode = f.str("threshold_mode", o.ThresholdMode)
	o.Cooldown = f.int("cooldown", o.Cooldown, false)
	o.MinLRs, _ = f.floats("min_lr")
	o.Eps = f.float("eps", o.Eps)
	if f.err != nil {
		return nil, f.err
	}
	return NewPlateau(base, o)
}

func buildAutoDrop(f *fields, base []float64, opts ParseOptions) (Schedule, error) {
	preset := f.str("preset", "cifar")
	if f.err != nil {
		return nil, f.err
	}
	c, err := autodrop.Preset(preset)
	if err != nil {
		return nil, argErr("autodrop", "preset", preset, `"cifar" or "imagenet"`)
	}
	c.DropFactor = f.float("drop_factor", c.DropFactor)
	c.Theta = f.float("theta", c.Theta)
	c.MaxTheta = f.float("max_theta", c.MaxTheta)
	c.MinLR = f.float("min_lr", c.MinLR)
	c.Patience = f.int("patience", c.Patience, false)
	c.AutoTheta = f.bool("auto_theta", c.AutoTheta)
	c.TailAverage = f.bool("tail_average", c.TailAverage)
	c.Window = f.int("window", c.Window, false)
	c.Epsilon = f.float("epsilon", c.Epsilon)
	if f.err != nil {
		return nil, f.err
	}
	c.LR = 0
	c.OnRecord, c.Logger = opts.OnRecord, opts.Logger
	switch {
	case opts.Params != nil && opts.Params64 != nil:
		return nil, &ArgError{Schedule: "autodrop", Want: "only one of ParseOptions.Params and ParseOptions.Params64"}
	case opts.Params64 != nil:
		return NewAutoDrop(c, base, opts.Params64)
	case opts.Params != nil:
		return NewAutoDrop(c, base, opts.Params)
	}
	return nil, &ArgError{Schedule: "autodrop", Want: "the model's parameters: set ParseOptions.Params (AutoDrop observes the parameters, so it needs a model)"}
}
