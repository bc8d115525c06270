package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/autodrop-go/autodrop/schedule"
)

// runScheduleCLI runs the CLI in-process and returns the exit code and both outputs.
func runScheduleCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// parseScheduleLines reads one lr per line (the first group's when a line has
// several).
func parseScheduleLines(t *testing.T, out string) []float64 {
	t.Helper()
	var lrs []float64
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		v, err := strconv.ParseFloat(strings.Fields(line)[0], 64)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		lrs = append(lrs, v)
	}
	return lrs
}

// TestScheduleMatchesTorchTraces runs "autodrop schedule" for each PyTorch
// trace of the schedule package's fixture and compares every printed lr with
// PyTorch's to a relative 1e-12.
func TestScheduleMatchesTorchTraces(t *testing.T) {
	b, err := os.ReadFile("../../schedule/testdata/torch_schedulers.json")
	if err != nil {
		t.Fatal(err)
	}
	var fixture struct {
		Traces []struct {
			Name    string    `json:"name"`
			Initial float64   `json:"initial_lr"`
			NSteps  int       `json:"n_steps"`
			LRs     []float64 `json:"lrs"`
			Metrics []float64 `json:"metrics"`
		} `json:"traces"`
	}
	if err := json.Unmarshal(b, &fixture); err != nil {
		t.Fatal(err)
	}
	specs := map[string]string{
		"MultiStepLR":                 `{"type":"multistep","milestones":[3,6,8],"gamma":0.2}`,
		"StepLR":                      `{"type":"step","step_size":3,"gamma":0.5}`,
		"ExponentialLR":               `{"type":"exponential","gamma":0.9}`,
		"CosineAnnealingLR":           `{"type":"cosine","t_max":10,"eta_min":0.001}`,
		"CosineAnnealingWarmRestarts": `{"type":"cosine_warm_restarts","t_0":3,"t_mult":2}`,
		"LinearLR+CosineAnnealingLR via SequentialLR": `{"type":"sequential","milestones":[5],"schedules":[{"type":"linear","start_factor":0.1,"total_iters":5},{"type":"cosine","t_max":15,"eta_min":0.001}]}`,
		"OneCycleLR":        `{"type":"onecycle","max_lr":0.1,"total_steps":20}`,
		"ReduceLROnPlateau": `{"type":"plateau","factor":0.5,"patience":2,"cooldown":1,"min_lr":1e-4}`,
	}
	if len(fixture.Traces) != len(specs) {
		t.Fatalf("%d traces, %d specs", len(fixture.Traces), len(specs))
	}
	for _, tr := range fixture.Traces {
		t.Run(tr.Name, func(t *testing.T) {
			args := []string{"schedule", "--spec", specs[tr.Name], "--lr", strconv.FormatFloat(tr.Initial, 'g', -1, 64), "--steps", strconv.Itoa(tr.NSteps)}
			if tr.Metrics != nil {
				ms := make([]string, len(tr.Metrics))
				for i, m := range tr.Metrics {
					ms[i] = strconv.FormatFloat(m, 'g', -1, 64)
				}
				args = append(args, "--metrics", strings.Join(ms, ","))
			}
			code, out, errOut := runScheduleCLI(args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			got := parseScheduleLines(t, out)
			if len(got) != len(tr.LRs) {
				t.Fatalf("%d lines, want %d (the lr at construction and after each of %d steps)", len(got), len(tr.LRs), tr.NSteps)
			}
			for i := range got {
				if math.Abs(got[i]-tr.LRs[i]) > 1e-12*math.Abs(tr.LRs[i]) {
					t.Errorf("line %d: %v, PyTorch %v", i, got[i], tr.LRs[i])
				}
			}
		})
	}
}

// TestScheduleIssueExample checks the exact output of the issue's example.
func TestScheduleIssueExample(t *testing.T) {
	code, out, errOut := runScheduleCLI("schedule", "--spec", `{"type":"multistep","milestones":[3,6,8],"gamma":0.2}`, "--lr", "0.1", "--steps", "20")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "0.1\n0.1\n0.1\n" + strings.Repeat("0.020000000000000004\n", 3) + strings.Repeat("0.004000000000000001\n", 2) + strings.Repeat("0.0008000000000000003\n", 13)
	if out != want {
		t.Errorf("output\n%s\nwant\n%s", out, want)
	}
	if errOut != "" {
		t.Errorf("stderr: %q", errOut)
	}
}

// TestScheduleGroupsAndMetricsDefaultSteps checks several groups (one column
// each) and that --steps defaults to the number of metrics.
func TestScheduleGroupsAndMetricsDefaultSteps(t *testing.T) {
	code, out, errOut := runScheduleCLI("schedule", "--spec", `{"type":"plateau","patience":0,"factor":0.5}`, "--lr", "0.1, 0.02", "--metrics", "3,2,2.5")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if want := "0.1 0.02\n0.1 0.02\n0.1 0.02\n0.05 0.01\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

// TestScheduleHelpDocumentsEverything checks that -h exits 0 and documents
// every type and field with its default.
func TestScheduleHelpDocumentsEverything(t *testing.T) {
	code, out, help := runScheduleCLI("schedule", "-h")
	if code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	for _, flag := range []string{"-spec", "-lr", "-steps", "-metrics", "-plot"} {
		if !strings.Contains(help, flag) {
			t.Errorf("help does not document %s", flag)
		}
	}
	for _, ty := range schedule.Types() {
		i := strings.Index(help, "\n  "+ty.Name)
		if i < 0 {
			t.Errorf("help does not document type %s", ty.Name)
			continue
		}
		for _, f := range ty.Fields {
			if !strings.Contains(help[i:], f.Name) || !strings.Contains(help[i:], "default "+f.Default) {
				t.Errorf("help does not document %s.%s (default %s)", ty.Name, f.Name, f.Default)
			}
		}
	}
	// The command is listed by "autodrop help".
	if _, _, list := runScheduleCLI("help"); !strings.Contains(list, "schedule") {
		t.Error("autodrop help does not list schedule")
	}
}

// TestScheduleErrors checks the exit codes and messages of bad input, and
// that nothing is printed on stdout when the command fails.
func TestScheduleErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"--steps", "x"}, 2, "invalid value"},
		{[]string{"--spec", `{"type":"constant"}`, "extra"}, 2, `unexpected argument "extra"`},
		{[]string{}, 1, "--spec is required"},
		{[]string{"--spec", `{"type":"multistep","milestones":[3],"gama":0.2}`}, 1, `unknown field "gama"; valid fields: milestones, gamma`},
		{[]string{"--spec", `{"type":"cosin"}`}, 1, `unknown type "cosin"; valid types: multistep, step,`},
		{[]string{"--spec", `{"type":"step","step_size":0}`}, 1, "step_size = 0, want an integer >= 1"},
		{[]string{"--spec", `{"type":"constant"}`, "--lr", "0.1,abc"}, 1, `--lr "0.1,abc": value 2 ("abc") is not a number`},
		{[]string{"--spec", `{"type":"constant"}`, "--lr", "-1"}, 1, "base_lrs[0] = -1"},
		{[]string{"--spec", `{"type":"constant"}`, "--steps", "-1"}, 1, "--steps -1: want >= 0"},
		{[]string{"--spec", `{"type":"plateau"}`, "--steps", "3"}, 1, "step 1: schedule: plateau: Step needs a metric: pass one metric per step with --metrics"},
		{[]string{"--spec", `{"type":"plateau"}`, "--steps", "3", "--metrics", "1,2"}, 1, "--metrics has 2 values but --steps is 3"},
		{[]string{"--spec", `{"type":"plateau"}`, "--metrics", "1,NaN"}, 1, "step 2: schedule: plateau: metric is NaN at step 2"},
		{[]string{"--spec", `{"type":"onecycle","total_steps":5}`, "--steps", "7"}, 1, "step 6: schedule: onecycle: cannot take step 6: total_steps = 5"},
		{[]string{"--spec", `{"type":"autodrop"}`}, 1, `step 1: an autodrop schedule observes a model's parameters`},
		{[]string{"--spec", `{"type":"constant"}`, "--plot", "out.txt"}, 1, "must end in .png, .svg or .pdf"},
		{[]string{"--spec", `{"type":"constant"}`, "--plot", filepath.Join(t.TempDir(), "missing", "p.png")}, 1, "--plot:"},
	}
	for _, c := range cases {
		code, out, errOut := runScheduleCLI(append([]string{"schedule"}, c.args...)...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and %q", c.args, code, errOut, c.code, c.want)
		}
		if out != "" {
			t.Errorf("%q: printed %q despite the error", c.args, out)
		}
	}
	// A warmup before autodrop can be printed up to the milestone.
	code, out, errOut := runScheduleCLI("schedule", "--spec", `{"type":"sequential","milestones":[2],"schedules":[{"type":"linear","start_factor":0.5,"total_iters":2},{"type":"autodrop"}]}`, "--steps", "2")
	if code != 0 || out != "0.05\n0.07500000000000001\n0.1\n" {
		t.Errorf("warmup before autodrop: exit %d, %q, %s", code, out, errOut)
	}
}

// TestSchedulePlot checks that --plot writes a decodable PNG, replaces an
// existing file, and leaves no temporary file behind.
func TestSchedulePlot(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lr.png")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runScheduleCLI("schedule", "--spec", `{"type":"cosine_warm_restarts","t_0":5}`, "--lr", "0.1,0.05", "--steps", "30", "--plot", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if n := len(parseScheduleLines(t, out)); n != 31 {
		t.Errorf("%d lines printed, want 31", n)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 200 {
		t.Errorf("image %v too small", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only lr.png", names)
	}
	// SVG works too.
	svg := filepath.Join(dir, "lr.svg")
	if code, _, errOut := runScheduleCLI("schedule", "--spec", `{"type":"constant"}`, "--steps", "3", "--plot", svg); code != 0 {
		t.Fatalf("svg: %s", errOut)
	}
	if b, _ := os.ReadFile(svg); !bytes.Contains(b, []byte("<svg")) {
		t.Error("the .svg file is not SVG")
	}
}
