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
	dir := filepath.Join(t.TempDir(), "ckpt")
	cfg := autodrop.Config{LR: 0.1, DropFactor: 0.2, Theta: 2, Patience: 1, TailAverage: true}
	if err := run(2, 256, 256, 64, 16, cfg, "", dir, 0); err != nil {
		t.Fatal(err)
	}
	if err := run(1, 256, 256, 64, 16, cfg, "", dir, 0); err != nil {
		t.Fatalf("resuming from the checkpoint: %v", err)
	}
}
