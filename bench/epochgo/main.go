// Command epochgo times training epochs of the nn package on MNIST, for
// bench/epoch_vs_pytorch.sh.
//
// Usage:
//
//	go run ./bench/epochgo [-model mlp|cnn] [-hidden 256] [-runs 3] [-batch 128] [-lr 0.05] [-momentum 0.9] [-data DIR] [-locate]
//
// It prints one line per epoch, "epoch <i> seconds <s> loss <l> acc <a>",
// then "median_seconds <s>". Each timed epoch starts from a fresh model
// with the same seed, so runs are comparable. With -locate it prints the
// MNIST directory (see mnist.Locate) and exits.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/autodrop-go/autodrop/mnist"
	"github.com/autodrop-go/autodrop/nn"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "epochgo:", err)
		os.Exit(1)
	}
}

func run() error {
	model := flag.String("model", "mlp", "model: mlp or cnn")
	hidden := flag.String("hidden", "256", "comma-separated hidden sizes of the MLP")
	runs := flag.Int("runs", 3, "number of timed epochs (>= 1)")
	batch := flag.Int("batch", 128, "batch size")
	lr := flag.Float64("lr", 0.05, "learning rate")
	mom := flag.Float64("momentum", 0.9, "momentum")
	data := flag.String("data", "", "MNIST directory (default: located automatically)")
	locate := flag.Bool("locate", false, "print the MNIST directory and exit")
	flag.Parse()
	if *runs < 1 {
		return fmt.Errorf("-runs %d: want at least 1", *runs)
	}
	if *locate {
		d, err := mnist.Locate(*data)
		if err != nil {
			return err
		}
		fmt.Println(d)
		return nil
	}

	train, _, err := mnist.Load(*data)
	if err != nil {
		return err
	}
	ds := nn.Dataset{X: train.Images, Y: train.Labels}
	var secs []float64
	for r := range *runs {
		var m *nn.Model
		switch *model {
		case "mlp":
			var hs []int
			for _, f := range strings.Split(*hidden, ",") {
				h, err := strconv.Atoi(strings.TrimSpace(f))
				if err != nil {
					return fmt.Errorf("-hidden %q: %q is not an integer", *hidden, f)
				}
				hs = append(hs, h)
			}
			if m, err = nn.NewMLP(train.Features(), hs, 10, 1); err != nil {
				return err
			}
		case "cnn":
			m = nn.NewCNN(1)
		default:
			return fmt.Errorf("-model %q: want mlp or cnn", *model)
		}
		opt, err := nn.NewSGD(m, nn.SGDConfig{LR: *lr, Momentum: *mom})
		if err != nil {
			return err
		}
		t0 := time.Now()
		loss, acc, err := nn.TrainEpoch(context.Background(), m, opt, ds, *batch, nn.EpochSeed(1, r), nil)
		if err != nil {
			return err
		}
		s := time.Since(t0).Seconds()
		secs = append(secs, s)
		fmt.Printf("epoch %d seconds %.3f loss %.4f acc %.4f\n", r, s, loss, acc)
	}
	slices.Sort(secs)
	med := (secs[(len(secs)-1)/2] + secs[len(secs)/2]) / 2
	fmt.Printf("median_seconds %.3f\n", med)
	return nil
}
