package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const trajectory = "../../testdata/mnist_fixed.snap.f32"

// runCmd runs the CLI in-process and returns stdout, stderr and the exit code.
func runCmd(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

type expectedRecord struct {
	Epoch   int      `json:"epoch"`
	Angle   *float64 `json:"angle"`
	DAngle  *float64 `json:"dangle"`
	Enabled bool     `json:"enabled"`
	Dropped bool     `json:"dropped"`
	Theta   float64  `json:"theta"`
	LR      float64  `json:"lr"`
	RD      *struct {
		Sum float64 `json:"sum"`
		L2  float64 `json:"l2"`
	} `json:"rd"`
}

func loadCase(t *testing.T, name string) []expectedRecord {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []struct {
			Name     string           `json:"name"`
			Expected []expectedRecord `json:"expected"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.Cases {
		if c.Name == name {
			return c.Expected
		}
	}
	t.Fatalf("no case %q", name)
	return nil
}

// TestReplayMatchesFixtures replays the MNIST trajectory with the settings of
// two fixture cases and compares every line (tolerances of the spec: angles
// 1e-6 degrees, lr and theta 1e-12 relative, averages 1e-7 relative).
func TestReplayMatchesFixtures(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"official_script__rd_from_snapshots", []string{"--preset", "cifar", "--lr", "0.05"}},
		{"theta0.5_ee5_auto_rd__rd_from_snapshots", []string{"--lr", "0.05", "--theta", "0.5", "--patience", "4"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := loadCase(t, c.name)
			stdout, stderr, code := runCmd(append(append([]string{"replay"}, c.args...), "--params", "25450", trajectory)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			if len(lines) != len(want) {
				t.Fatalf("%d lines, want %d", len(lines), len(want))
			}
			for i, l := range lines {
				var got replayLine
				if err := json.Unmarshal([]byte(l), &got); err != nil {
					t.Fatalf("line %d: %v", i+1, err)
				}
				w := want[i]
				if got.Epoch != w.Epoch || got.Armed != w.Enabled || got.Dropped != w.Dropped {
					t.Fatalf("line %d: %s, want %+v", i+1, l, w)
				}
				if (got.Angle == nil) != (w.Angle == nil) || (got.Angle != nil && math.Abs(*got.Angle-*w.Angle) > 1e-6) {
					t.Fatalf("line %d: angle in %s, want %v", i+1, l, w.Angle)
				}
				if (got.Delta == nil) != (w.DAngle == nil) || (got.Delta != nil && math.Abs(*got.Delta-*w.DAngle) > 2e-6) {
					t.Fatalf("line %d: delta in %s", i+1, l)
				}
				if math.Abs(got.LR-w.LR) > 1e-12*w.LR || math.Abs(got.Theta-w.Theta) > 1e-12*w.Theta {
					t.Fatalf("line %d: lr/theta in %s, want %v %v", i+1, l, w.LR, w.Theta)
				}
				if (got.AverageSum == nil) != (w.RD == nil) {
					t.Fatalf("line %d: average in %s, want %v", i+1, l, w.RD)
				}
				if w.RD != nil && (math.Abs(*got.AverageSum-w.RD.Sum) > 1e-7*math.Abs(w.RD.Sum) || math.Abs(*got.AverageL2-w.RD.L2) > 1e-7*w.RD.L2) {
					t.Fatalf("line %d: average in %s, want %v %v", i+1, l, w.RD.Sum, w.RD.L2)
				}
			}
		})
	}
}

func writeF64(t *testing.T, rows [][]float64) string {
	t.Helper()
	var b []byte
	for _, r := range rows {
		for _, v := range r {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
	}
	p := filepath.Join(t.TempDir(), "traj.f64")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReplayNonFiniteEpoch(t *testing.T) {
	p := writeF64(t, [][]float64{{0, 0}, {1, 0}, {math.NaN(), 1}, {1, 1}, {2, 1}})
	stdout, stderr, code := runCmd("replay", "--dtype", "float64", "--params", "2", "--theta", "0", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines:\n%s", len(lines), stdout)
	}
	var bad struct {
		Epoch int    `json:"epoch"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(lines[2]), &bad); err != nil || bad.Epoch != 3 || !strings.Contains(bad.Error, "tensor 0 index 0 is NaN") {
		t.Fatalf("line 3: %s", lines[2])
	}
	// The state is unchanged: epoch 4 is the third accepted observation, the
	// first with an angle (steps (1,0) then (0,1): 90 degrees).
	var l4 replayLine
	if err := json.Unmarshal([]byte(lines[3]), &l4); err != nil || l4.Angle == nil || *l4.Angle != 90 || l4.Delta != nil {
		t.Fatalf("line 4: %s", lines[3])
	}
}

func TestReplayErrors(t *testing.T) {
	p := writeF64(t, [][]float64{{0, 0, 0}})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--dtype", "float64", "--params", "2", p}, "not a multiple of the row size"},
		{[]string{"--params", "2", "--dtype", "float16", p}, "--dtype"},
		{[]string{"--params", "0", p}, "--params"},
		{[]string{"--params", "3", "--dtype", "float64", "--drop-factor", "2", p}, "DropFactor"},
		{[]string{"--params", "3", "--dtype", "float64", "--preset", "mnist", p}, "unknown preset"},
		{[]string{"--params", "3", filepath.Join(t.TempDir(), "missing")}, "no such file"},
	} {
		stdout, stderr, code := runCmd(append([]string{"replay"}, c.args...)...)
		if code == 0 || stdout != "" || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want an error mentioning %q and no output", c.args, code, stdout, stderr, c.want)
		}
	}
	if _, _, code := runCmd("replay", "--bogus"); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if _, _, code := runCmd("replay", "-h"); code != 0 {
		t.Errorf("-h: exit %d, want 0", code)
	}
}

func TestReplayCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	p := writeF64(t, [][]float64{{0}, {1}})
	if err := runReplay(ctx, []string{"--dtype", "float64", "--params", "1", p}, &out, &out); err == nil {
		t.Error("a cancelled replay returned no error")
	}
}
