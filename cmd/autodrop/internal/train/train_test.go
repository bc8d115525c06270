package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/autodrop-go/autodrop/nn"
)

// synthData returns a small learnable 10-class problem of 8x8 "images":
// each class lights a different block of pixels, plus noise.
func synthData(nTrain, nTest int) Data {
	rng := rand.New(rand.NewPCG(1, 2))
	const f = 64
	gen := func(n int) nn.Dataset {
		d := nn.Dataset{X: make([]float32, n*f), Y: make([]uint8, n)}
		for i := range n {
			y := uint8(rng.IntN(10))
			d.Y[i] = y
			for j := range f {
				v := float32(rng.NormFloat64()) * 0.8
				if j/6 == int(y) {
					v += 1.5
				}
				d.X[i*f+j] = v
			}
		}
		return d
	}
	return Data{Train: gen(nTrain), Test: gen(nTest), Features: f}
}

func testConfig(spec string) Config {
	return Config{Model: "mlp", Hidden: []int{12}, Schedule: "test", Spec: spec, Epochs: 5, Batch: 16,
		LR: 0.05, Momentum: 0.9, Seed: 7}
}

// stripSeconds zeroes the wall times, the only field allowed to differ
// between an interrupted-and-resumed run and an uninterrupted one.
func stripSeconds(ms []Metrics) []Metrics {
	out := append([]Metrics(nil), ms...)
	for i := range out {
		out[i].Seconds = 0
	}
	return out
}

// TestResumeReproduces: a run stopped (context cancelled) after k epochs and
// resumed gives exactly the metrics and final model of an uninterrupted run,
// for schedules with state: AutoDrop (with tail averaging and drops),
// plateau (best value and counters) and cosine.
func TestResumeReproduces(t *testing.T) {
	data := synthData(400, 100)
	specs := map[string]string{
		"autodrop": `{"type":"autodrop","preset":"cifar","theta":60,"patience":1,"max_theta":0,"auto_theta":false,"min_lr":0}`,
		"plateau":  `{"type":"plateau","patience":0,"factor":0.5,"threshold":0.5}`,
		"cosine":   `{"type":"cosine","t_max":5}`,
	}
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(spec)
			full := t.TempDir()
			want, err := Run(context.Background(), cfg, data, full, Hooks{})
			if err != nil {
				t.Fatal(err)
			}
			if want.Interrupted || len(want.Metrics) != cfg.Epochs {
				t.Fatalf("uninterrupted run: interrupted %v, %d epochs", want.Interrupted, len(want.Metrics))
			}
			for k := 1; k < cfg.Epochs; k++ {
				dir := t.TempDir()
				ctx, cancel := context.WithCancel(context.Background())
				part, err := Run(ctx, cfg, data, dir, Hooks{Epoch: func(m Metrics, _ float64) {
					if m.Epoch == k {
						cancel()
					}
				}})
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				if !part.Interrupted || len(part.Metrics) != k {
					t.Fatalf("k=%d: interrupted %v after %d epochs", k, part.Interrupted, len(part.Metrics))
				}
				got, err := Resume(context.Background(), dir, 0, data, Hooks{})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(stripSeconds(got.Metrics), stripSeconds(want.Metrics)) {
					t.Fatalf("k=%d: resumed metrics differ:\n got %s\nwant %s", k, js(got.Metrics), js(want.Metrics))
				}
				a, _ := os.ReadFile(filepath.Join(full, ModelFile))
				b, _ := os.ReadFile(filepath.Join(dir, ModelFile))
				if len(a) == 0 || !bytes.Equal(a, b) {
					t.Fatalf("k=%d: final model differs from the uninterrupted run's (%d vs %d bytes)", k, len(b), len(a))
				}
				lines := readLines(t, filepath.Join(dir, MetricsFile))
				if len(lines) != cfg.Epochs {
					t.Fatalf("k=%d: metrics.jsonl has %d lines, want %d", k, len(lines), cfg.Epochs)
				}
			}
			if name == "autodrop" {
				drops := 0
				for _, m := range want.Metrics {
					if m.Dropped {
						drops++
					}
				}
				if drops == 0 {
					t.Fatalf("the autodrop run never dropped, so resume across a drop is untested: %s", js(want.Metrics))
				}
			}
		})
	}
}

// TestCancelMidEpochSaves: cancelling in the middle of an epoch leaves the
// checkpoint of the last completed epoch, from which the run resumes to the
// uninterrupted result.
func TestCancelMidEpochSaves(t *testing.T) {
	data := synthData(400, 100)
	cfg := testConfig(`{"type":"multistep","milestones":[2,3]}`)
	cfg.Epochs = 3
	want, err := Run(context.Background(), cfg, data, "", Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	epoch := 0
	res, err := Run(ctx, cfg, data, dir, Hooks{
		EpochStart: func(e, _, _ int) { epoch = e },
		Progress: func(done, total int) {
			if epoch == 2 && done == total/2 {
				cancel()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || len(res.Metrics) != 1 {
		t.Fatalf("interrupted %v with %d epochs, want true with 1", res.Interrupted, len(res.Metrics))
	}
	if n := len(readLines(t, filepath.Join(dir, MetricsFile))); n != 1 {
		t.Fatalf("metrics.jsonl has %d lines after the interruption, want 1", n)
	}
	got, err := Resume(context.Background(), dir, 0, data, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stripSeconds(got.Metrics), stripSeconds(want.Metrics)) {
		t.Fatalf("resumed metrics differ:\n got %s\nwant %s", js(got.Metrics), js(want.Metrics))
	}
	// Milestone 2: the lr falls after the second step, so epoch 3 trains
	// with 0.1*lr (to rounding).
	if lr := got.Metrics[2].LR; math.Abs(lr-0.1*cfg.LR) > 1e-15 || got.Metrics[1].LR != cfg.LR {
		t.Fatalf("lrs %v, %v, want %v then %v (±1e-15; milestone at 2)", got.Metrics[1].LR, lr, cfg.LR, 0.1*cfg.LR)
	}
}

func TestResumeErrors(t *testing.T) {
	data := synthData(100, 20)
	dir := t.TempDir()
	if _, err := Resume(context.Background(), dir, 0, data, Hooks{}); err == nil || !strings.Contains(err.Error(), CheckpointFile) {
		t.Fatalf("resume of an empty directory: %v, want an error naming %s", err, CheckpointFile)
	}
	cfg := testConfig(`{"type":"constant"}`)
	cfg.Epochs = 2
	if _, err := Run(context.Background(), cfg, data, dir, Hooks{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Resume(context.Background(), dir, 1, data, Hooks{}); err == nil || !strings.Contains(err.Error(), "already done 2 epochs") {
		t.Fatalf("resume to fewer epochs: %v", err)
	}
	other := synthData(100, 20)
	other.Features = 32
	other.Train.X = other.Train.X[:100*32]
	other.Test.X = other.Test.X[:20*32]
	if _, err := Resume(context.Background(), dir, 3, other, Hooks{}); err == nil || !strings.Contains(err.Error(), "model state") {
		t.Fatalf("resume with other data: %v, want a model state error", err)
	}
	if err := os.WriteFile(filepath.Join(dir, CheckpointFile), []byte("{garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Resume(context.Background(), dir, 0, data, Hooks{}); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("resume of a corrupt checkpoint: %v", err)
	}
}

func TestValidate(t *testing.T) {
	base := testConfig(`{"type":"constant"}`)
	cases := []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Model = "rnn" }, `--model "rnn"`},
		{func(c *Config) { c.Epochs = 0 }, "--epochs 0"},
		{func(c *Config) { c.Batch = -1 }, "--batch -1"},
		{func(c *Config) { c.LR = 0 }, "--lr 0"},
		{func(c *Config) { c.Momentum = 1 }, "--momentum 1"},
		{func(c *Config) { c.Momentum = 0; c.Nesterov = true }, "--nesterov"},
		{func(c *Config) { c.WeightDecay = -1 }, "--weight-decay -1"},
	}
	for _, tc := range cases {
		c := base
		tc.mod(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one containing %q", c, err, tc.want)
		}
	}
	if _, err := Run(context.Background(), testConfig(`{"type":"multistep","milestones":[3,2]}`), synthData(20, 5), "", Hooks{}); err == nil || !strings.Contains(err.Error(), "milestones") {
		t.Errorf("bad spec: %v, want an error naming milestones", err)
	}
	if _, err := Run(context.Background(), testConfig(`{"type":"onecycle","total_steps":5}`), synthData(20, 5), "", Hooks{}); err == nil || !strings.Contains(err.Error(), "cycle_momentum") {
		t.Errorf("onecycle cycling the momentum: %v, want an error naming cycle_momentum", err)
	}
	if _, err := Run(context.Background(), testConfig(`{"type":"onecycle","total_steps":5,"cycle_momentum":false}`), synthData(20, 5), "", Hooks{}); err != nil {
		t.Errorf("onecycle without momentum cycling: %v", err)
	}
}

func TestExpandSchedule(t *testing.T) {
	cases := []struct{ in, want string }{
		{"constant", `{"type":"constant"}`},
		{"multistep", `{"gamma":0.1,"milestones":[15,22],"type":"multistep"}`},
		{"cosine", `{"t_max":30,"type":"cosine"}`},
		{"plateau", `{"factor":0.1,"patience":3,"type":"plateau"}`},
		{"autodrop:cifar", `{"preset":"cifar","type":"autodrop"}`},
		{"autodrop:imagenet,theta=1", `{"preset":"imagenet","theta":1,"type":"autodrop"}`},
		{"multistep:milestones=[10,20],gamma=0.2", `{"gamma":0.2,"milestones":[10,20],"type":"multistep"}`},
		{"plateau:mode=max", `{"factor":0.1,"mode":"max","patience":3,"type":"plateau"}`},
		{` {"type":"step","step_size":3} `, `{"type":"step","step_size":3}`},
	}
	for _, tc := range cases {
		got, err := ExpandSchedule(tc.in, 30)
		if err != nil || got != tc.want {
			t.Errorf("ExpandSchedule(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	got, err := ExpandSchedule("autodrop:theta=0.5", 30)
	if err != nil || !strings.Contains(got, `"theta":0.5`) || !strings.Contains(got, `"type":"autodrop"`) {
		t.Errorf("autodrop override: %s, %v", got, err)
	}
	bad := []struct{ in, want string }{
		{"", "empty schedule"},
		{"cosyne", `unknown schedule "cosyne"`},
		{"{oops", "not valid JSON"},
		{"cosine:t_max", `"t_max" is not field=value`},
		{"cosine:type=step", "the type is given by the name"},
	}
	for _, tc := range bad {
		if _, err := ExpandSchedule(tc.in, 30); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ExpandSchedule(%q): error %v, want one containing %q", tc.in, err, tc.want)
		}
	}
	if _, err := ParseHidden("256,x"); err == nil || !strings.Contains(err.Error(), `size 2 ("x")`) {
		t.Errorf("ParseHidden: %v", err)
	}
}

// TestReport draws reports with and without AutoDrop (a constant lr once
// made the log axis fail) and checks they decode as PNG of the stated size.
func TestReport(t *testing.T) {
	data := synthData(200, 50)
	for _, spec := range []string{`{"type":"constant"}`, `{"type":"autodrop","theta":60,"patience":0,"max_theta":0,"auto_theta":false,"min_lr":0}`} {
		res, err := Run(context.Background(), testConfig(spec), data, "", Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "r.png")
		if err := WriteReport(path, "test", res.Metrics, res.NextLR); err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		checkPNG(t, path, 768, 960)
	}
	if err := WriteReport(filepath.Join(t.TempDir(), "r.png"), "", nil, 0); err == nil {
		t.Error("WriteReport of no epochs: no error")
	}
}

func TestSummarize(t *testing.T) {
	mk := func(accs []float64, lrs []float64, dropped int) []Metrics {
		ms := make([]Metrics, len(accs))
		for i := range accs {
			ms[i] = Metrics{Epoch: i + 1, TestAcc: accs[i], LR: lrs[i], Seconds: 1, Dropped: i+1 == dropped}
		}
		return ms
	}
	r := Runs{Name: "x", Metrics: [][]Metrics{
		mk([]float64{0.9, 0.97, 0.98, 0.975}, []float64{0.1, 0.1, 0.01, 0.01}, 0),
		mk([]float64{0.9, 0.95, 0.96, 0.985}, []float64{0.1, 0.1, 0.1, 0.1}, 4),
	}}
	s := Summarize(r, 0.98)
	const tol = 1e-12
	check := func(name string, got, want float64) {
		t.Helper()
		if d := got - want; d > tol || d < -tol {
			t.Errorf("%s = %v, want %v (±%g)", name, got, want, tol)
		}
	}
	check("FinalMean", s.FinalMean, 0.98)
	check("FinalStd", s.FinalStd, 0.007071067811865481) // sample std of .975, .985
	check("BestMean", s.BestMean, 0.9825)
	check("ToTarget", s.ToTarget, 3.5)
	check("Seconds", s.Seconds, 4)
	check("Drops", s.Drops, 0.5) // the second run's drop at its last epoch takes no effect
	if s.Reached != 2 {
		t.Errorf("Reached = %d, want 2", s.Reached)
	}
	tab := Table([]Summary{s}, 0.98)
	if !strings.Contains(tab, "| `x` | 98.00 ± 0.71 | 98.25 ± 0.35 | 3.5 | 4 | 0.5 |") {
		t.Errorf("table row wrong:\n%s", tab)
	}
	other := Runs{Name: "y", Seeds: []uint64{1, 2}, Metrics: [][]Metrics{
		mk([]float64{0.97}, []float64{0.1}, 0), mk([]float64{0.99}, []float64{0.1}, 0)}}
	r.Seeds = []uint64{1, 2}
	pt := PairedTable([]Runs{r, other}, "x")
	// x - y: 0.975-0.97 = +0.5 pp, 0.985-0.99 = -0.5 pp.
	if !strings.Contains(pt, "| `y` | +0.00 ± 0.71 | 1 / 0 / 1 |") {
		t.Errorf("paired table wrong:\n%s", pt)
	}
	if PairedTable([]Runs{other}, "x") != "" {
		t.Error("paired table without the reference is not empty")
	}
	path := filepath.Join(t.TempDir(), "acc.png")
	if err := WriteAccuracyPlot(path, "t", []Runs{r}); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, path, 0, 0)
}

func checkPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); w > 0 && (b.Dx() != w || b.Dy() != h) {
		t.Fatalf("%s is %dx%d, want %dx%d", path, b.Dx(), b.Dy(), w, h)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return errors.Unwrap(err).Error()
	}
	return string(b)
}

// TestEveryShorthandTrains: each documented name expands to a spec that
// schedule.Parse accepts and that runs for the whole budget (onecycle
// included: it may step exactly total_steps times).
func TestEveryShorthandTrains(t *testing.T) {
	data := synthData(64, 16)
	for _, sh := range Shorthands {
		spec, err := ExpandSchedule(sh.Name, 3)
		if err != nil {
			t.Fatalf("%s: %v", sh.Name, err)
		}
		cfg := testConfig(spec)
		cfg.Epochs = 3
		res, err := Run(context.Background(), cfg, data, "", Hooks{})
		if err != nil || len(res.Metrics) != 3 {
			t.Errorf("%s (%s): %v", sh.Name, spec, err)
		}
	}
}
