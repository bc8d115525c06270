package nn

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// trainedHash trains an MLP and a CNN briefly on random data and returns a
// hash of their parameters' bits.
func trainedHash() string {
	h := sha256.New()
	mlp, _ := NewMLP(784, []int{64, 32}, 10, 3)
	for _, m := range []*Model{mlp, NewCNN(3)} {
		r := rng{s: 4}
		x, y := randomBatch(&r, m, 300)
		o, _ := NewSGD(m, SGDConfig{LR: 0.01, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4})
		for e := range 2 {
			if _, _, err := TrainEpoch(context.Background(), m, o, Dataset{X: x, Y: y}, 64, EpochSeed(1, e), nil); err != nil {
				panic(err)
			}
		}
		for _, p := range m.Params() {
			for _, v := range p {
				h.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)))
			}
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestHelperTrainedHash is run as a subprocess by TestThreadCountIndependent.
func TestHelperTrainedHash(t *testing.T) {
	if os.Getenv("NN_HASH_HELPER") != "1" {
		t.Skip("helper for TestThreadCountIndependent")
	}
	fmt.Println("HASH", trainedHash())
}

// TestThreadCountIndependent checks that training gives bit-identical
// parameters with 1, 2 and 3 CPUs (GOMAXPROCS), so a run reproduces on any
// machine and a resumed run matches an uninterrupted one.
func TestThreadCountIndependent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs subprocesses")
	}
	var hashes []string
	for _, procs := range []string{"1", "2", "3"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperTrainedHash$", "-test.count=1")
		cmd.Env = append(os.Environ(), "NN_HASH_HELPER=1", "GOMAXPROCS="+procs)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("GOMAXPROCS=%s: %v\n%s", procs, err, out)
		}
		_, after, ok := strings.Cut(string(out), "HASH ")
		if !ok {
			t.Fatalf("GOMAXPROCS=%s: no hash in output:\n%s", procs, out)
		}
		hashes = append(hashes, strings.Fields(after)[0])
	}
	if hashes[0] != hashes[1] || hashes[1] != hashes[2] {
		t.Errorf("parameter hashes differ with GOMAXPROCS 1, 2, 3: %v", hashes)
	}
}
