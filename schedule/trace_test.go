package schedule

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// relTol is the tolerance of the PyTorch traces: |got-want| <= relTol*|want|.
// Go's math.Cos and the C library's cos may differ in the last bit, and the
// recursive formulas carry such differences along.
const relTol = 1e-12

type torchTrace struct {
	Name        string    `json:"name"`
	Constructor string    `json:"constructor"`
	InitialLR   float64   `json:"initial_lr"`
	NSteps      int       `json:"n_steps"`
	LRs         []float64 `json:"lrs"`
	Momentums   []float64 `json:"momentums"`
	Metrics     []float64 `json:"metrics"`
}

func loadTraces(t *testing.T) map[string]torchTrace {
	t.Helper()
	b, err := os.ReadFile("testdata/torch_schedulers.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		TorchVersion string       `json:"torch_version"`
		Traces       []torchTrace `json:"traces"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	m := map[string]torchTrace{}
	for _, tr := range f.Traces {
		if len(tr.LRs) != tr.NSteps+1 {
			t.Fatalf("%s: %d lrs for %d steps", tr.Name, len(tr.LRs), tr.NSteps)
		}
		m[tr.Name] = tr
	}
	return m
}

// traceSpecs maps each trace of the fixture to the spec that reproduces it.
var traceSpecs = map[string]string{
	"MultiStepLR":                 `{"type":"multistep","milestones":[3,6,8],"gamma":0.2}`,
	"StepLR":                      `{"type":"step","step_size":3,"gamma":0.5}`,
	"ExponentialLR":               `{"type":"exponential","gamma":0.9}`,
	"CosineAnnealingLR":           `{"type":"cosine","t_max":10,"eta_min":0.001}`,
	"CosineAnnealingWarmRestarts": `{"type":"cosine_warm_restarts","t_0":3,"t_mult":2,"eta_min":0}`,
	"LinearLR+CosineAnnealingLR via SequentialLR": `{"type":"sequential","milestones":[5],"schedules":[
		{"type":"linear","start_factor":0.1,"end_factor":1.0,"total_iters":5},
		{"type":"cosine","t_max":15,"eta_min":0.001}]}`,
	"OneCycleLR":        `{"type":"onecycle","max_lr":0.1,"total_steps":20}`,
	"ReduceLROnPlateau": `{"type":"plateau","mode":"min","factor":0.5,"patience":2,"threshold":1e-4,"threshold_mode":"rel","cooldown":1,"min_lr":1e-4,"eps":1e-8}`,
}

func closeRel(got, want float64) bool {
	return math.Abs(got-want) <= relTol*math.Abs(want)
}

// TestTorchTraces checks every schedule against PyTorch 1.13, step by step.
func TestTorchTraces(t *testing.T) {
	traces := loadTraces(t)
	if len(traces) != len(traceSpecs) {
		t.Errorf("fixture has %d traces, the test knows %d", len(traces), len(traceSpecs))
	}
	for name, spec := range traceSpecs {
		t.Run(name, func(t *testing.T) {
			tr, ok := traces[name]
			if !ok {
				t.Fatalf("no trace %q in the fixture", name)
			}
			s, err := Parse([]byte(spec), []float64{tr.InitialLR}, ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			check := func(i int) {
				t.Helper()
				lrs := s.LRs()
				if len(lrs) != 1 || !closeRel(lrs[0], tr.LRs[i]) {
					t.Errorf("lrs[%d] = %v, PyTorch %v", i, lrs, tr.LRs[i])
				}
				if tr.Momentums != nil {
					m := s.(*OneCycle).Momentums()
					if len(m) != 1 || !closeRel(m[0], tr.Momentums[i]) {
						t.Errorf("momentums[%d] = %v, PyTorch %v", i, m, tr.Momentums[i])
					}
				}
			}
			check(0)
			for i := 0; i < tr.NSteps; i++ {
				var err error
				if tr.Metrics != nil {
					err = s.Step(tr.Metrics[i])
				} else {
					err = s.Step()
				}
				if err != nil {
					t.Fatalf("step %d: %v", i+1, err)
				}
				check(i + 1)
			}
		})
	}
}
