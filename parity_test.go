package autodrop

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"
)

// fixtureCase is one case of testdata/cases.json, computed by a float64
// transcription of the authors' code (see the spec in the README).
type fixtureCase struct {
	Name        string       `json:"name"`
	Hyperparams fixtureHyper `json:"hyperparams"`
	Trajectory  string       `json:"trajectory"`
	Snapshots   [][]float64  `json:"snapshots"`
	Error       bool         `json:"error"`
	Expected    []fixtureRec `json:"expected"`
}

type fixtureHyper struct {
	LR          float64 `json:"lr"`
	LdFactor    float64 `json:"ld_factor"`
	Theta       float64 `json:"theta"`
	UpperTheta  float64 `json:"upper_theta"`
	LowerLR     float64 `json:"lower_lr"`
	ExtraEpochs int     `json:"extra_epochs"`
	AutoTheta   bool    `json:"auto_theta"`
	VarRD       bool    `json:"var_rd"`
}

type fixtureRec struct {
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

// config translates the reference's hyperparameters (<= 0 meaning "none" for
// the cap and the floor; E extra epochs = patience + 1).
func (h fixtureHyper) config() Config {
	return Config{
		LR:          h.LR,
		DropFactor:  h.LdFactor,
		Theta:       h.Theta,
		MaxTheta:    max(h.UpperTheta, 0),
		MinLR:       max(h.LowerLR, 0),
		Patience:    h.ExtraEpochs - 1,
		AutoTheta:   h.AutoTheta,
		TailAverage: h.VarRD,
	}
}

func loadCases(t testing.TB) []fixtureCase {
	t.Helper()
	raw, err := os.ReadFile("testdata/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []fixtureCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return f.Cases
}

// mnistLayout is the tensor layout of the MNIST trajectory: fc1.weight,
// fc1.bias, fc2.weight, fc2.bias of an MLP 784-32-10.
var mnistLayout = []int{32 * 784, 32, 10 * 32, 10}

// loadMNISTTrajectory returns the 40 snapshots of testdata/mnist_fixed.snap.f32.
func loadMNISTTrajectory(t testing.TB) [][]float32 {
	t.Helper()
	raw, err := os.ReadFile("testdata/mnist_fixed.snap.f32")
	if err != nil {
		t.Fatal(err)
	}
	const n = 25450
	if len(raw) != 40*n*4 {
		t.Fatalf("trajectory has %d bytes, want %d", len(raw), 40*n*4)
	}
	rows := make([][]float32, 40)
	for e := range rows {
		rows[e] = make([]float32, n)
		for i := range rows[e] {
			rows[e][i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[(e*n+i)*4:]))
		}
	}
	return rows
}

// split returns flat as tensors of the given sizes, sharing memory.
func split[T Float](flat []T, sizes []int) [][]T {
	out := make([][]T, len(sizes))
	o := 0
	for i, n := range sizes {
		out[i] = flat[o : o+n : o+n]
		o += n
	}
	return out
}

// Tolerances from the spec: decisions exact; lr and theta 1e-12 relative;
// angles 1e-6 degrees; tail-average sum and L2 1e-7 relative.
const (
	tolRel   = 1e-12
	tolAngle = 1e-6
	tolRD    = 1e-7
)

func relErr(got, want float64) float64 {
	if got == want {
		return 0
	}
	return math.Abs(got-want) / math.Max(math.Abs(want), math.SmallestNonzeroFloat64)
}

func checkRecord(t *testing.T, got Record, want fixtureRec, sum, l2 float64) {
	t.Helper()
	if got.Epoch != want.Epoch {
		t.Errorf("epoch %d: got epoch %d", want.Epoch, got.Epoch)
	}
	if got.HasAngle != (want.Angle != nil) {
		t.Errorf("epoch %d: HasAngle = %v, want %v", want.Epoch, got.HasAngle, want.Angle != nil)
	} else if want.Angle != nil && math.Abs(got.Angle-*want.Angle) > tolAngle {
		t.Errorf("epoch %d: angle %.12f, want %.12f", want.Epoch, got.Angle, *want.Angle)
	}
	if got.HasDelta != (want.DAngle != nil) {
		t.Errorf("epoch %d: HasDelta = %v, want %v", want.Epoch, got.HasDelta, want.DAngle != nil)
	} else if want.DAngle != nil && math.Abs(got.Delta-*want.DAngle) > 2*tolAngle {
		t.Errorf("epoch %d: delta %.12f, want %.12f", want.Epoch, got.Delta, *want.DAngle)
	}
	if got.Armed != want.Enabled || got.Dropped != want.Dropped {
		t.Errorf("epoch %d: armed %v dropped %v, want %v %v", want.Epoch, got.Armed, got.Dropped, want.Enabled, want.Dropped)
	}
	if relErr(got.LR, want.LR) > tolRel || relErr(got.Theta, want.Theta) > tolRel {
		t.Errorf("epoch %d: lr %v theta %v, want %v %v", want.Epoch, got.LR, got.Theta, want.LR, want.Theta)
	}
	if got.Averaged != (want.RD != nil) {
		t.Errorf("epoch %d: Averaged = %v, want %v", want.Epoch, got.Averaged, want.RD != nil)
	} else if want.RD != nil {
		if relErr(sum, want.RD.Sum) > tolRD || relErr(l2, want.RD.L2) > tolRD {
			t.Errorf("epoch %d: tail average sum %.12g l2 %.12g, want %.12g %.12g", want.Epoch, sum, l2, want.RD.Sum, want.RD.L2)
		}
	}
}

func sumL2[T Float](params [][]T) (sum, l2 float64) {
	for _, p := range params {
		for _, v := range p {
			sum += float64(v)
			l2 += float64(v) * float64(v)
		}
	}
	return sum, math.Sqrt(l2)
}

// TestParity replays every fixture case and compares each record.
func TestParity(t *testing.T) {
	var mnist [][]float32
	for _, c := range loadCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			cfg := c.Hyperparams.config()
			if c.Trajectory == "mnist_fixed" {
				if mnist == nil {
					mnist = loadMNISTTrajectory(t)
				}
				s, err := New[float32](cfg)
				if err != nil {
					t.Fatal(err)
				}
				if len(c.Expected) != len(mnist) {
					t.Fatalf("%d expected records for %d snapshots", len(c.Expected), len(mnist))
				}
				flat := make([]float32, len(mnist[0]))
				for e, row := range mnist {
					copy(flat, row) // the fixture averages the snapshots themselves
					params := split(flat, mnistLayout)
					rec, err := s.Observe(params)
					if err != nil {
						t.Fatalf("epoch %d: %v", e+1, err)
					}
					sum, l2 := sumL2(params)
					checkRecord(t, rec, c.Expected[e], sum, l2)
				}
				return
			}
			s, err := New[float64](cfg)
			if err != nil {
				t.Fatal(err)
			}
			for e, snap := range c.Snapshots {
				params := [][]float64{append([]float64(nil), snap...)}
				rec, err := s.Observe(params)
				if c.Error && err != nil {
					if !errors.Is(err, ErrLayout) {
						t.Fatalf("epoch %d: error %v does not wrap ErrLayout", e+1, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("epoch %d: %v", e+1, err)
				}
				if c.Error {
					continue
				}
				sum, l2 := sumL2(params)
				checkRecord(t, rec, c.Expected[e], sum, l2)
			}
			if c.Error {
				t.Fatal("no observation returned an error")
			}
			if len(c.Expected) != len(c.Snapshots) {
				t.Fatalf("%d expected records for %d snapshots", len(c.Expected), len(c.Snapshots))
			}
		})
	}
}
