package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/autodrop-go/autodrop/cmd/autodrop/internal/train"
	"github.com/autodrop-go/autodrop/mnist"
	"github.com/autodrop-go/autodrop/nn"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

func init() {
	register(command{
		name:    "train",
		summary: "train an MLP or CNN on MNIST under AutoDrop (or any schedule) and report",
		run:     runTrain,
	})
}

// Defaults of "autodrop train" (see docs/BENCHMARKS.md for how they were
// chosen).
const (
	defaultModel    = "mlp"
	defaultHidden   = "256"
	defaultSchedule = "autodrop"
	defaultEpochs   = 30
	defaultBatch    = 128
	defaultLR       = 0.1
	defaultMomentum = 0.9
	defaultSeed     = 1
	defaultOut      = "autodrop-run"
)

func trainUsage(fs *flag.FlagSet) func() {
	return func() {
		w := fs.Output()
		fmt.Fprint(w, `usage: autodrop train [flags]
       autodrop train --resume DIR [--epochs N] [--data DIR]

Trains a model on MNIST with SGD under a learning-rate schedule, one schedule
step per epoch. While an epoch runs a progress bar is shown on stderr (only
on a terminal); after each epoch one line gives the losses, accuracies, the
lr, AutoDrop's angular velocity and its drops. In --out it writes, after
every epoch and atomically:

  metrics.jsonl    one JSON object per epoch: epoch, lr (the rate the epoch
                   trained with), train_loss, train_acc, test_loss, test_acc,
                   angle, delta, theta (AutoDrop's angular velocity, its
                   change and its threshold, in degrees; null until AutoDrop
                   has enough epochs, or without AutoDrop), dropped (AutoDrop
                   dropped the rate at the end of the epoch), seconds
  checkpoint.json  model, optimizer and schedule state, for --resume
  model.bin        the model (nn.LoadModel reads it)
  run.json         the settings of the run

and report.png at the end (lr, angular velocity, loss and accuracy against
the epoch, drops marked). Ctrl-C stops after the last completed epoch's
state is saved; --resume DIR continues the run and reproduces the
uninterrupted run exactly (except the seconds).

MNIST is found in --data, else in $AUTODROP_MNIST_DIR, else in the GoMNIST
module (fetched through the Go module proxy on first use).

--schedule takes a JSON spec (see "autodrop schedule -h" for every type and
field) or a name, optionally with field overrides: NAME[:field=value,...].
Names (E is --epochs):
`)
		for _, s := range train.Shorthands {
			fmt.Fprintf(w, "  %-21s %s\n", s.Name, s.Doc)
		}
		fmt.Fprint(w, `Examples: autodrop:theta=0.5,patience=3   autodrop:cifar,theta=1
          multistep:milestones=[10,20],gamma=0.2
          '{"type":"cosine","t_max":30,"eta_min":0.001}'

The default, "autodrop", tests the change of the angular velocity averaged
over 3 epochs against theta = 2 degrees: the paper's 0.01 degrees
(autodrop:cifar) never arms on models this small, whose angle moves by
degrees from epoch to epoch.

flags:
`)
		fs.PrintDefaults()
	}
}

// trainFlags are the settings shared by train and compare.
type trainFlags struct {
	model, hidden, data, schedule string
	epochs, batch                 int
	lr, momentum, weightDecay     float64
	nesterov                      bool
	seed                          uint64
}

func (f *trainFlags) bind(fs *flag.FlagSet, withSchedule bool) {
	fs.StringVar(&f.model, "model", defaultModel, "model: mlp or cnn (LeNet-5)")
	fs.StringVar(&f.hidden, "hidden", defaultHidden, "comma-separated hidden layer sizes of the MLP")
	fs.StringVar(&f.data, "data", "", "directory of the four MNIST files (default: $AUTODROP_MNIST_DIR, else the GoMNIST module)")
	if withSchedule {
		fs.StringVar(&f.schedule, "schedule", defaultSchedule, "learning-rate schedule: a name[:field=value,...] or a JSON spec (see above)")
	}
	fs.IntVar(&f.epochs, "epochs", defaultEpochs, "number of epochs")
	fs.IntVar(&f.batch, "batch", defaultBatch, "minibatch size")
	fs.Float64Var(&f.lr, "lr", defaultLR, "base learning rate (the schedule starts from it)")
	fs.Float64Var(&f.momentum, "momentum", defaultMomentum, "SGD momentum, in [0, 1)")
	fs.BoolVar(&f.nesterov, "nesterov", false, "use Nesterov momentum")
	fs.Float64Var(&f.weightDecay, "weight-decay", 0, "L2 weight decay added to the gradient")
	fs.Uint64Var(&f.seed, "seed", defaultSeed, "seed of the initialisation and the shuffling")
}

// config checks the flags and returns the run configuration.
func (f *trainFlags) config() (train.Config, error) {
	hidden, err := train.ParseHidden(f.hidden)
	if err != nil {
		return train.Config{}, fmt.Errorf("--hidden %q: %v", f.hidden, err)
	}
	cfg := train.Config{
		Model: f.model, Hidden: hidden, Schedule: f.schedule, Epochs: f.epochs, Batch: f.batch,
		LR: f.lr, Momentum: f.momentum, Nesterov: f.nesterov, WeightDecay: f.weightDecay, Seed: f.seed,
	}
	if cfg.Model == "cnn" {
		cfg.Hidden = nil
	} else if cfg.Model == "mlp" && len(hidden) == 0 {
		return cfg, errors.New("--hidden: the MLP needs at least one hidden layer size, e.g. --hidden 256")
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	if f.schedule != "" {
		if cfg.Spec, err = train.ExpandSchedule(f.schedule, f.epochs); err != nil {
			return cfg, fmt.Errorf("--schedule: %w", err)
		}
	}
	return cfg, nil
}

// loadData loads MNIST (see mnist.Load) as train.Data.
func loadData(dir string) (train.Data, error) {
	tr, te, err := mnist.Load(dir)
	if err != nil {
		return train.Data{}, err
	}
	if tr.Features() != te.Features() {
		return train.Data{}, fmt.Errorf("training images have %d pixels, test images %d", tr.Features(), te.Features())
	}
	return train.Data{
		Train:    nn.Dataset{X: tr.Images, Y: tr.Labels},
		Test:     nn.Dataset{X: te.Images, Y: te.Labels},
		Features: tr.Features(),
	}, nil
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("autodrop train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f trainFlags
	f.bind(fs, true)
	out := fs.String("out", defaultOut, "output `directory` (created if needed)")
	resume := fs.String("resume", "", "continue the run saved in `DIR` (its --out); only --epochs and --data may be given with it")
	verbose := fs.Bool("v", false, "log every AutoDrop observation (slog, to stderr)")
	fs.Usage = trainUsage(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "autodrop train: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })

	var cfg train.Config
	var err error
	if *resume != "" {
		var extra []string // in flag.Visit's (sorted) order, so the message is stable
		fs.Visit(func(fl *flag.Flag) {
			if n := fl.Name; n != "resume" && n != "epochs" && n != "data" && n != "v" {
				extra = append(extra, "--"+n)
			}
		})
		if len(extra) > 0 {
			return fmt.Errorf("%s cannot be given with --resume: the run's settings come from %s", strings.Join(extra, ", "), filepath.Join(*resume, train.RunFile))
		}
		if cfg, err = train.ReadConfig(*resume); err != nil {
			return err
		}
		if set["epochs"] {
			if f.epochs < 1 {
				return fmt.Errorf("--epochs %d: want >= 1", f.epochs)
			}
			cfg.Epochs = f.epochs
		}
		*out = *resume
	} else {
		if cfg, err = f.config(); err != nil {
			return err
		}
		if *out == "" {
			return errors.New("--out: give an output directory")
		}
	}

	data, err := loadData(f.data)
	if err != nil {
		return err
	}
	level := slog.LevelInfo + 100 // quiet unless -v
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	arch, err := cfg.Arch(data.Features)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s, %d training and %d test images, %d epochs, batch %d, lr %g, momentum %g",
		arch, data.Train.Len(), data.Test.Len(), cfg.Epochs, cfg.Batch, cfg.LR, cfg.Momentum)
	if cfg.Nesterov {
		fmt.Fprint(stderr, " (Nesterov)")
	}
	if cfg.WeightDecay > 0 {
		fmt.Fprintf(stderr, ", weight decay %g", cfg.WeightDecay)
	}
	fmt.Fprintf(stderr, ", seed %d\nschedule %s\nwriting to %s\n", cfg.Seed, cfg.Spec, *out)

	hooks := trainHooks(stderr, logger)
	var res *train.Result
	if *resume != "" {
		res, err = train.Resume(ctx, *resume, cfg.Epochs, data, hooks.Hooks)
	} else {
		res, err = train.Run(ctx, cfg, data, *out, hooks.Hooks)
	}
	hooks.finish()
	if err != nil {
		return err
	}
	if len(res.Metrics) > 0 {
		title := fmt.Sprintf("%s, %s, lr %g", arch, cfg.Schedule, cfg.LR)
		if err := train.WriteReport(filepath.Join(*out, train.ReportFile), title, res.Metrics, res.NextLR); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	if res.Interrupted {
		if len(res.Metrics) == 0 {
			return fmt.Errorf("interrupted before the first epoch finished; nothing was saved to resume from")
		}
		return fmt.Errorf("interrupted after epoch %d of %d; the state is saved: continue with\n  autodrop train --resume %s", len(res.Metrics), cfg.Epochs, *out)
	}
	last := res.Metrics[len(res.Metrics)-1]
	drops, floor := 0, 0
	for i, m := range res.Metrics {
		next := res.NextLR
		if i+1 < len(res.Metrics) {
			next = res.Metrics[i+1].LR
		}
		switch {
		case m.Dropped && train.Fell(m.LR, next):
			drops++
		case m.Dropped:
			floor++
		}
	}
	fmt.Fprintf(stdout, "test accuracy %.2f%% after %d epochs; lr %g -> %g, %d AutoDrop drops",
		100*last.TestAcc, last.Epoch, res.Metrics[0].LR, res.NextLR, drops)
	if floor > 0 {
		fmt.Fprintf(stdout, " (and %d at the lr floor, which changed nothing)", floor)
	}
	fmt.Fprintf(stdout, "; %s, %s, %s in %s\n", train.MetricsFile, train.ReportFile, train.ModelFile, *out)
	return nil
}

// progressHooks prints the progress bar and the epoch lines.
type progressHooks struct {
	train.Hooks
	bar *progressbar.ProgressBar
}

func (h *progressHooks) finish() {
	if h.bar != nil {
		_ = h.bar.Clear()
		h.bar = nil
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func trainHooks(stderr io.Writer, logger *slog.Logger) *progressHooks {
	h := &progressHooks{}
	h.Logger = logger
	tty := isTerminal(stderr)
	if tty {
		h.EpochStart = func(epoch, epochs, batches int) {
			h.bar = progressbar.NewOptions(batches,
				progressbar.OptionSetWriter(stderr),
				progressbar.OptionSetDescription(fmt.Sprintf("epoch %d/%d", epoch, epochs)),
				progressbar.OptionShowCount(),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
				progressbar.OptionSetPredictTime(true),
			)
		}
		h.Progress = func(done, total int) {
			if h.bar != nil {
				_ = h.bar.Set(done)
			}
		}
	}
	h.Epoch = func(m train.Metrics, next float64) {
		h.finish()
		fmt.Fprintln(stderr, epochLine(m, next))
	}
	return h
}

// epochLine formats one epoch for stderr.
func epochLine(m train.Metrics, next float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "epoch %3d  lr %-8.3g train loss %.4f acc %6.2f%%  test loss %.4f acc %6.2f%%",
		m.Epoch, m.LR, m.TrainLoss, 100*m.TrainAcc, m.TestLoss, 100*m.TestAcc)
	if m.Angle != nil {
		fmt.Fprintf(&b, "  angle %6.2f°", *m.Angle)
	}
	if m.Delta != nil {
		fmt.Fprintf(&b, " Δ %+6.2f°", *m.Delta)
	}
	fmt.Fprintf(&b, "  %.1fs", m.Seconds)
	switch {
	case m.Dropped && train.Fell(m.LR, next):
		fmt.Fprintf(&b, "  ▼ AutoDrop: lr → %.3g", next)
	case m.Dropped:
		fmt.Fprintf(&b, "  ▼ AutoDrop: drop, but the lr is at its floor")
	case next != m.LR:
		fmt.Fprintf(&b, "  lr → %.3g", next)
	}
	return b.String()
}
