package main

import (
	"path/filepath"
	"testing"

	"github.com/autodrop-go/autodrop"
	"github.com/autodrop-go/autodrop/mnist"
)

// TestExampleSmoke trains 2 epochs on 256 MNIST images with a checkpoint,
// then resumes for a third. It is skipped when MNIST cannot be located.
func TestExampleSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	if _, err := mnist.Locate(""); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	o := options{
		epochs: 2, nTrain: 256, nTest: 256, batch: 64, hidden: 16, solver: "momentum", momentum: 0.9,
		cfg:  autodrop.Config{LR: 0.01, DropFactor: 0.2, Theta: 2, Patience: 1, TailAverage: true},
		ckpt: filepath.Join(t.TempDir(), "model.ckpt"),
	}
	if err := run(o); err != nil {
		t.Fatal(err)
	}
	o.epochs = 1
	if err := run(o); err != nil {
		t.Fatalf("resuming from the checkpoint: %v", err)
	}
}
