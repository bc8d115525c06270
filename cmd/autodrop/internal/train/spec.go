package train

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// DefaultAutoDrop is the AutoDrop configuration behind the "autodrop"
// shorthand: tuned for the small MNIST models of this harness, where the
// paper's theta of 0.01 degrees never fires (see docs/BENCHMARKS.md).
// Fields not set here come from the cifar preset.
var DefaultAutoDrop = map[string]any{
	"type":         "autodrop",
	"preset":       "cifar",
	"theta":        2.0,
	"max_theta":    0.0,
	"auto_theta":   false,
	"patience":     2,
	"window":       3,
	"drop_factor":  0.1,
	"tail_average": false,
}

// Shorthands lists the schedule names accepted by ExpandSchedule, with what
// each expands to for a run of a given number of epochs.
var Shorthands = []struct{ Name, Doc string }{
	{"autodrop", `our default AutoDrop for small models: {"type":"autodrop","preset":"cifar","theta":2,"window":3,"patience":2,"drop_factor":0.1,"auto_theta":false,"max_theta":0,"tail_average":false} (min_lr 1e-4 from the preset)`},
	{"autodrop:cifar", `the paper's CIFAR preset: {"type":"autodrop","preset":"cifar"} (theta 0.01, patience 19, drop 0.2, auto theta up to 1, tail averaging, min lr 1e-4)`},
	{"autodrop:imagenet", `the paper's ImageNet preset: {"type":"autodrop","preset":"imagenet"} (as cifar with drop factor 0.1)`},
	{"constant", `{"type":"constant"}`},
	{"multistep", `{"type":"multistep","milestones":[E/2, 3E/4],"gamma":0.1} for E epochs`},
	{"step", `{"type":"step","step_size":max(1,E/3),"gamma":0.1}`},
	{"cosine", `{"type":"cosine","t_max":E}`},
	{"exponential", `{"type":"exponential","gamma":0.9}`},
	{"plateau", `{"type":"plateau","factor":0.1,"patience":max(1,E/10)} on the test loss`},
	{"onecycle", `{"type":"onecycle","total_steps":E,"cycle_momentum":false} (max lr = --lr)`},
	{"cosine_warm_restarts", `{"type":"cosine_warm_restarts","t_0":max(1,E/3)}`},
	{"linear", `{"type":"linear"} (PyTorch's defaults: warm up from lr/3 over 5 epochs)`},
}

// ExpandSchedule turns the --schedule argument into a JSON spec for
// schedule.Parse. A value starting with "{" is a JSON spec and is returned
// unchanged. Otherwise it is NAME[:OVERRIDES], where NAME is one of
// Shorthands and OVERRIDES is a comma-separated list of field=value pairs
// that replace or add fields of the spec (values are JSON numbers, booleans,
// lists or bare strings), e.g. "autodrop:theta=0.5,patience=3" or
// "multistep:milestones=[10,20],gamma=0.2". "autodrop:cifar" and
// "autodrop:imagenet" select the paper's presets; further overrides follow
// a comma: "autodrop:cifar,theta=1".
func ExpandSchedule(s string, epochs int) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("empty schedule: give a name (%s) or a JSON spec", shorthandNames())
	}
	if strings.HasPrefix(s, "{") {
		if !json.Valid([]byte(s)) {
			return "", fmt.Errorf("schedule %q is not valid JSON", s)
		}
		return s, nil
	}
	name, rest, _ := strings.Cut(s, ":")
	e := max(epochs, 1)
	var spec map[string]any
	switch name {
	case "autodrop":
		spec = map[string]any{}
		for k, v := range DefaultAutoDrop {
			spec[k] = v
		}
		// A bare preset name right after the colon selects the paper preset.
		first, more, _ := strings.Cut(rest, ",")
		if first == "cifar" || first == "imagenet" {
			spec = map[string]any{"type": "autodrop", "preset": first}
			rest = more
		}
	case "constant":
		spec = map[string]any{"type": "constant"}
	case "multistep":
		m1, m2 := max(1, e/2), max(1, e*3/4)
		if m2 <= m1 {
			m2 = m1 + 1
		}
		spec = map[string]any{"type": "multistep", "milestones": []int{m1, m2}, "gamma": 0.1}
	case "step":
		spec = map[string]any{"type": "step", "step_size": max(1, e/3), "gamma": 0.1}
	case "cosine":
		spec = map[string]any{"type": "cosine", "t_max": e}
	case "exponential":
		spec = map[string]any{"type": "exponential", "gamma": 0.9}
	case "plateau":
		spec = map[string]any{"type": "plateau", "factor": 0.1, "patience": max(1, e/10)}
	case "onecycle":
		spec = map[string]any{"type": "onecycle", "total_steps": e, "cycle_momentum": false}
	case "cosine_warm_restarts":
		spec = map[string]any{"type": "cosine_warm_restarts", "t_0": max(1, e/3)}
	case "linear":
		spec = map[string]any{"type": "linear"}
	default:
		return "", fmt.Errorf("unknown schedule %q: want one of %s, or a JSON spec such as {\"type\":\"multistep\",\"milestones\":[10,20]}", name, shorthandNames())
	}
	if rest != "" {
		for _, kv := range splitTop(rest) {
			k, v, ok := strings.Cut(kv, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				return "", fmt.Errorf("schedule %q: override %q is not field=value", s, kv)
			}
			if k == "type" {
				return "", fmt.Errorf("schedule %q: the type is given by the name %q, not by an override", s, name)
			}
			spec[k] = overrideValue(strings.TrimSpace(v))
		}
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return "", fmt.Errorf("schedule %q: %v", s, err)
	}
	return string(b), nil
}

// overrideValue reads v as JSON if it is valid JSON, else as a string.
func overrideValue(v string) any {
	var x any
	if err := json.Unmarshal([]byte(v), &x); err == nil {
		return x
	}
	return v
}

// splitTop splits s at commas outside brackets, so that list values such as
// milestones=[10,20] stay whole.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func shorthandNames() string {
	names := make([]string, len(Shorthands))
	for i, s := range Shorthands {
		names[i] = s.Name
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// ParseHidden parses comma-separated positive layer sizes, e.g. "256,128".
func ParseHidden(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	out := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("size %d (%q) is not a positive integer", i+1, p)
		}
		out[i] = n
	}
	return out, nil
}
