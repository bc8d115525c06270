package main

import (
	"context"
	"encoding/json"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/autodrop-go/autodrop/mnist"
)

// writeSynthMNIST writes a small learnable MNIST look-alike (28x28 images,
// each class a bright horizontal band plus noise) as the four IDX files,
// gzip-compressed, in a new directory, and returns it.
func writeSynthMNIST(t *testing.T, nTrain, nTest int) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	write := func(imgName, lblName string, n int) {
		img := make([]byte, n*28*28)
		lbl := make([]byte, n)
		for i := range n {
			y := rng.IntN(10)
			lbl[i] = byte(y)
			for p := range 28 * 28 {
				v := rng.IntN(90)
				if row := p / 28; row >= 2+y*2 && row < 4+y*2 {
					v += 150
				}
				img[i*784+p] = byte(v)
			}
		}
		if err := mnist.WriteIDXFile(filepath.Join(dir, imgName+".gz"), []int{n, 28, 28}, img, true); err != nil {
			t.Fatal(err)
		}
		if err := mnist.WriteIDXFile(filepath.Join(dir, lblName+".gz"), []int{n}, lbl, true); err != nil {
			t.Fatal(err)
		}
	}
	write(mnist.TrainImagesFile, mnist.TrainLabelsFile, nTrain)
	write(mnist.TestImagesFile, mnist.TestLabelsFile, nTest)
	return dir
}

// metricsKeys are the fields every line of metrics.jsonl must have.
var metricsKeys = []string{"angle", "delta", "dropped", "epoch", "lr", "seconds", "test_acc", "test_loss", "theta", "train_acc", "train_loss"}

func readMetrics(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s line %d: %v", path, i+1, err)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if !reflect.DeepEqual(keys, metricsKeys) {
			t.Fatalf("%s line %d has fields %v, want %v", path, i+1, keys, metricsKeys)
		}
		out = append(out, m)
	}
	return out
}

func decodePNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// tinyArgs are the flags of a fast run on the synthetic data.
func tinyArgs(data, out string, epochs string) []string {
	return []string{"train", "--data", data, "--out", out, "--hidden", "16", "--batch", "32",
		"--epochs", epochs, "--lr", "0.05", "--schedule", "autodrop:theta=60,patience=0,window=1,min_lr=0"}
}

func TestTrainWritesOutputs(t *testing.T) {
	data := writeSynthMNIST(t, 300, 100)
	out := filepath.Join(t.TempDir(), "run")
	stdout, stderr, code := runCmd(tinyArgs(data, out, "4")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	ms := readMetrics(t, filepath.Join(out, "metrics.jsonl"))
	if len(ms) != 4 {
		t.Fatalf("metrics.jsonl has %d epochs, want 4", len(ms))
	}
	for i, m := range ms {
		if int(m["epoch"].(float64)) != i+1 {
			t.Errorf("line %d: epoch %v", i+1, m["epoch"])
		}
		for _, k := range []string{"train_acc", "test_acc"} {
			if v := m[k].(float64); v < 0 || v > 1 {
				t.Errorf("epoch %d: %s = %v, want a fraction in [0, 1]", i+1, k, v)
			}
		}
		// AutoDrop measures an angle from its third observation on and a
		// delta from the fourth (window 1).
		if (m["angle"] != nil) != (i+1 >= 3) || (m["delta"] != nil) != (i+1 >= 4) {
			t.Errorf("epoch %d: angle %v delta %v", i+1, m["angle"], m["delta"])
		}
	}
	if acc := ms[3]["test_acc"].(float64); acc < 0.9 {
		t.Errorf("final test accuracy %v on the synthetic bands, want >= 0.9", acc)
	}
	decodePNG(t, filepath.Join(out, "report.png"))
	for _, f := range []string{"model.bin", "checkpoint.json", "run.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if n := strings.Count(stderr, "\nepoch "); n != 4 {
		t.Errorf("stderr has %d epoch lines, want 4:\n%s", n, stderr)
	}
	if strings.Contains(stderr, "\r") {
		t.Errorf("progress bar drawn although stderr is not a terminal:\n%q", stderr)
	}
	if !strings.Contains(stdout, "test accuracy") {
		t.Errorf("stdout: %q", stdout)
	}
}

// TestTrainResumeCLI: 2 epochs, then --resume to 4, equals 4 epochs in one
// go (all fields but seconds), across AutoDrop drops.
func TestTrainResumeCLI(t *testing.T) {
	data := writeSynthMNIST(t, 300, 100)
	full := filepath.Join(t.TempDir(), "full")
	part := filepath.Join(t.TempDir(), "part")
	if _, stderr, code := runCmd(tinyArgs(data, full, "4")...); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if _, stderr, code := runCmd(tinyArgs(data, part, "2")...); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if _, stderr, code := runCmd("train", "--resume", part, "--epochs", "4", "--data", data); code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, stderr)
	}
	want := readMetrics(t, filepath.Join(full, "metrics.jsonl"))
	got := readMetrics(t, filepath.Join(part, "metrics.jsonl"))
	drops := 0
	for i := range want {
		delete(want[i], "seconds")
		delete(got[i], "seconds")
		if want[i]["dropped"] == true {
			drops++
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("resumed run differs:\n got %v\nwant %v", got, want)
	}
	if drops == 0 {
		t.Fatalf("no drop in the run; the test should cover one: %v", want)
	}
	a, _ := os.ReadFile(filepath.Join(full, "model.bin"))
	b, _ := os.ReadFile(filepath.Join(part, "model.bin"))
	if len(a) == 0 || string(a) != string(b) {
		t.Fatal("resumed model differs from the uninterrupted one")
	}
}

// TestTrainCancelled: a cancelled context (Ctrl-C) stops the run with an
// error telling how to resume.
func TestTrainCancelled(t *testing.T) {
	data := writeSynthMNIST(t, 100, 20)
	out := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var so, se strings.Builder
	err := runTrain(ctx, tinyArgs(data, out, "3")[1:], &so, &se)
	if err == nil || !strings.Contains(err.Error(), "interrupted before the first epoch finished") {
		t.Fatalf("error %v, want an interruption before the first epoch", err)
	}
	// Cancelled after the first epoch (the command's Epoch hook is the only
	// place to do it deterministically): the error gives the resume command
	// and the saved run resumes.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	var stderr cancelAfterFirstEpoch
	stderr.cancel = cancel
	err = runTrain(ctx, tinyArgs(data, out, "3")[1:], &so, &stderr)
	if err == nil || !strings.Contains(err.Error(), "interrupted after epoch 1 of 3") || !strings.Contains(err.Error(), "autodrop train --resume "+out) {
		t.Fatalf("error %v, want an interruption after epoch 1 with the resume command", err)
	}
	if n := len(readMetrics(t, filepath.Join(out, "metrics.jsonl"))); n != 1 {
		t.Fatalf("metrics.jsonl has %d epochs after the interruption, want 1", n)
	}
	decodePNG(t, filepath.Join(out, "report.png"))
	if _, se, code := runCmd("train", "--resume", out, "--data", data); code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, se)
	}
	if n := len(readMetrics(t, filepath.Join(out, "metrics.jsonl"))); n != 3 {
		t.Fatalf("metrics.jsonl has %d epochs after the resume, want 3", n)
	}
}

// cancelAfterFirstEpoch is a stderr that cancels the run when the line of
// epoch 1 is written, as Ctrl-C would between epochs.
type cancelAfterFirstEpoch struct {
	strings.Builder
	cancel func()
}

func (w *cancelAfterFirstEpoch) Write(p []byte) (int, error) {
	if strings.HasPrefix(string(p), "epoch   1 ") {
		w.cancel()
	}
	return w.Builder.Write(p)
}

func TestTrainBadFlags(t *testing.T) {
	data := writeSynthMNIST(t, 40, 10)
	out := t.TempDir()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--model", "rnn"}, 1, `--model "rnn": want mlp or cnn`},
		{[]string{"--hidden", "256,abc"}, 1, `--hidden "256,abc": size 2 ("abc") is not a positive integer`},
		{[]string{"--hidden", "0"}, 1, `--hidden "0"`},
		{[]string{"--epochs", "0"}, 1, "--epochs 0: want >= 1"},
		{[]string{"--batch", "0"}, 1, "--batch 0: want >= 1"},
		{[]string{"--lr", "-1"}, 1, "--lr -1: want a finite number > 0"},
		{[]string{"--momentum", "1.5"}, 1, "--momentum 1.5"},
		{[]string{"--momentum", "0", "--nesterov"}, 1, "--nesterov needs --momentum > 0"},
		{[]string{"--weight-decay", "-0.1"}, 1, "--weight-decay -0.1"},
		{[]string{"--schedule", "cosyne"}, 1, `unknown schedule "cosyne"`},
		{[]string{"--schedule", `{"type":"cosine"}`}, 1, "t_max"},
		{[]string{"--schedule", "autodrop:thetta=1"}, 1, "thetta"},
		{[]string{"--schedule", "autodrop:theta=-1"}, 1, "theta"},
		{[]string{"--epochs", "x"}, 2, `invalid value "x" for flag -epochs`},
		{[]string{"--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--model", "cnn", "--data", t.TempDir()}, 1, "train-images-idx3-ubyte"},
		{[]string{"--resume", t.TempDir()}, 1, "run.json"},
		{[]string{"--resume", out, "--lr", "0.3"}, 1, "--lr, --out cannot be given with --resume"},
	}
	for _, tc := range cases {
		args := append([]string{"train", "--data", data, "--out", out}, tc.args...)
		_, stderr, code := runCmd(args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr\n%s\nwant exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	if _, stderr, code := runCmd("train", "-h"); code != 0 || !strings.Contains(stderr, "autodrop:cifar") {
		t.Errorf("-h: exit %d\n%s", code, stderr)
	}
}

func TestCompareWritesTable(t *testing.T) {
	data := writeSynthMNIST(t, 200, 60)
	out := filepath.Join(t.TempDir(), "cmp")
	stdout, stderr, code := runCmd("compare", "--data", data, "--out", out, "--hidden", "16", "--batch", "32",
		"--epochs", "3", "--lr", "0.05", "--seeds", "2", "--target", "0.5",
		"--schedule", "constant", "--schedule", "multistep", "--schedule", "autodrop:theta=60,patience=0")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	md, err := os.ReadFile(filepath.Join(out, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| schedule | final test acc (%) | best test acc (%) | epochs to 50.00% |",
		"| `constant` |", "| `multistep` |", "| `autodrop:theta=60,patience=0` |", `"milestones":[1,2]`} {
		if !strings.Contains(string(md), want) || (strings.HasPrefix(want, "|") && !strings.Contains(stdout, want)) {
			t.Errorf("results.md or stdout lacks %q:\n%s\nstdout:\n%s", want, md, stdout)
		}
	}
	// 3 schedules x 2 seeds = 6 runs, each 3 epochs.
	runs, _ := filepath.Glob(filepath.Join(out, "runs", "*.jsonl"))
	if len(runs) != 6 {
		t.Errorf("%d run files, want 6", len(runs))
	}
	for _, r := range runs {
		if n := len(readMetrics(t, r)); n != 3 {
			t.Errorf("%s: %d epochs, want 3", r, n)
		}
	}
	decodePNG(t, filepath.Join(out, "accuracy.png"))

	// --from-results redoes the table from results.json with a new target,
	// training nothing.
	stdout2, stderr, code := runCmd("compare", "--from-results", "--out", out, "--target", "0.99")
	if code != 0 || !strings.Contains(stdout2, "epochs to 99.00%") || strings.Replace(stdout2, "99.00%", "50.00%", 1) == stdout {
		t.Errorf("--from-results: exit %d\n%s\nstdout:\n%s", code, stderr, stdout2)
	}
	md2, _ := os.ReadFile(filepath.Join(out, "results.md"))
	if !strings.Contains(string(md2), "epochs to 99.00%") {
		t.Errorf("results.md not rewritten:\n%s", md2)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--seeds", "0"}, "--seeds 0: want >= 1"},
		{[]string{"--target", "98"}, "--target 98: want a fraction"},
		{[]string{"--schedule", "constant", "--schedule", "nope"}, `--schedule "nope"`},
		{[]string{"--schedule", `{"type":"step"}`}, "step_size"},
		{[]string{"--from-results", "--out", t.TempDir()}, "results.json"},
	} {
		args := append([]string{"compare", "--data", data, "--out", out}, tc.args...)
		if _, stderr, code := runCmd(args...); code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr\n%s\nwant %q", tc.args, code, stderr, tc.want)
		}
	}
}
