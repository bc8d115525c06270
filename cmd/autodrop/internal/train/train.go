// Package train is the training loop behind "autodrop train" and "autodrop
// compare": it trains an nn model on a data set under a schedule of package
// schedule, one scheduler step per epoch, records one Metrics per epoch,
// and saves a checkpoint atomically after every epoch so that a run can be
// resumed and continues exactly as if never interrupted.
package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/autodrop-go/autodrop"
	"github.com/autodrop-go/autodrop/nn"
	"github.com/autodrop-go/autodrop/schedule"
)

// Config describes a run. It is saved as run.json in the output directory
// and read back by Resume.
type Config struct {
	// Model is "mlp" or "cnn".
	Model string `json:"model"`
	// Hidden are the hidden layer sizes of the MLP.
	Hidden []int `json:"hidden,omitempty"`
	// Schedule is the --schedule argument as given, and Spec the JSON spec
	// it expanded to (see ExpandSchedule); Spec is what is used.
	Schedule string `json:"schedule"`
	Spec     string `json:"spec"`
	// Epochs is the number of epochs of the run, Batch the minibatch size.
	Epochs int `json:"epochs"`
	Batch  int `json:"batch"`
	// LR, Momentum, Nesterov and WeightDecay configure SGD (LR is the base
	// rate the schedule starts from).
	LR          float64 `json:"lr"`
	Momentum    float64 `json:"momentum"`
	Nesterov    bool    `json:"nesterov"`
	WeightDecay float64 `json:"weight_decay"`
	// Seed determines the initialisation and the shuffling.
	Seed uint64 `json:"seed"`
}

// Arch returns the nn architecture string of the model, for inputs of in
// features.
func (c Config) Arch(in int) (string, error) {
	switch c.Model {
	case "mlp":
		if len(c.Hidden) == 0 {
			return "", errors.New("--hidden: the MLP needs at least one hidden layer size")
		}
		a := fmt.Sprintf("mlp:%d", in)
		for _, h := range c.Hidden {
			if h <= 0 {
				return "", fmt.Errorf("--hidden: size %d is not positive", h)
			}
			a += fmt.Sprintf("-%d", h)
		}
		return a + "-10", nil
	case "cnn":
		if in != 28*28 {
			return "", fmt.Errorf("--model cnn needs 28x28 images, the data has %d pixels per image", in)
		}
		return "cnn:lenet5", nil
	}
	return "", fmt.Errorf("--model %q: want mlp or cnn", c.Model)
}

// Validate reports the first invalid field of c, naming the flag.
func (c Config) Validate() error {
	switch {
	case c.Model != "mlp" && c.Model != "cnn":
		return fmt.Errorf("--model %q: want mlp or cnn", c.Model)
	case c.Epochs < 1:
		return fmt.Errorf("--epochs %d: want >= 1", c.Epochs)
	case c.Batch < 1:
		return fmt.Errorf("--batch %d: want >= 1", c.Batch)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("--lr %v: want a finite number > 0", c.LR)
	case !(c.Momentum >= 0 && c.Momentum < 1):
		return fmt.Errorf("--momentum %v: want 0 <= momentum < 1", c.Momentum)
	case c.Nesterov && c.Momentum == 0:
		return errors.New("--nesterov needs --momentum > 0")
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return fmt.Errorf("--weight-decay %v: want a finite number >= 0", c.WeightDecay)
	}
	return nil
}

// Metrics is what one epoch produced: one line of metrics.jsonl.
type Metrics struct {
	// Epoch is 1-based. LR is the rate the epoch was trained with.
	Epoch int     `json:"epoch"`
	LR    float64 `json:"lr"`
	// TrainLoss and TrainAcc are averaged over the epoch's batches, each
	// measured before that batch's step; TestLoss and TestAcc are measured
	// on the test set at the end of the epoch, after the scheduler's step
	// (so after a tail average, if one was written back).
	TrainLoss float64 `json:"train_loss"`
	TrainAcc  float64 `json:"train_acc"`
	TestLoss  float64 `json:"test_loss"`
	TestAcc   float64 `json:"test_acc"`
	// Angle and Delta are AutoDrop's angular velocity and its change, in
	// degrees, from the observation at the end of the epoch; nil when the
	// schedule has no AutoDrop or AutoDrop has not observed enough epochs.
	Angle *float64 `json:"angle"`
	Delta *float64 `json:"delta"`
	// Theta is AutoDrop's threshold after the observation, in degrees;
	// nil without AutoDrop.
	Theta *float64 `json:"theta"`
	// Dropped reports that AutoDrop dropped the rate at the end of this
	// epoch (the next epoch trains with the lower rate, unless the rate
	// was already at its floor, min_lr).
	Dropped bool `json:"dropped"`
	// Seconds is the wall time of the epoch (training, evaluation and the
	// scheduler's step; not the checkpoint).
	Seconds float64 `json:"seconds"`
}

// Data is a training and a test set.
type Data struct {
	Train, Test nn.Dataset
	// Features is the number of inputs per sample.
	Features int
}

// Hooks are optional callbacks of a run.
type Hooks struct {
	// EpochStart is called before each epoch with its number, the total and
	// the number of batches.
	EpochStart func(epoch, epochs, batches int)
	// Progress is called after each batch (see nn.TrainEpoch).
	Progress func(done, total int)
	// Epoch is called after each epoch, once its checkpoint is saved, with
	// the rate the next epoch will use.
	Epoch func(m Metrics, nextLR float64)
	// Logger receives AutoDrop's records (drops at Info level) if set.
	Logger *slog.Logger
}

// Result is what Run returns: the metrics of every epoch so far.
type Result struct {
	Config  Config
	Metrics []Metrics
	// Interrupted is true when the context was cancelled before the last
	// epoch; Metrics then hold the completed epochs, which are saved.
	Interrupted bool
	// NextLR is the rate the schedule gives after the last completed epoch.
	NextLR float64
}

// File names in an output directory.
const (
	RunFile        = "run.json"
	CheckpointFile = "checkpoint.json"
	MetricsFile    = "metrics.jsonl"
	ModelFile      = "model.bin"
	ReportFile     = "report.png"
)

// checkpoint is the state saved after each epoch, in one file written
// atomically, so that its parts always belong to the same epoch.
type checkpoint struct {
	Version   int       `json:"version"`
	Config    Config    `json:"config"`
	Epoch     int       `json:"epoch"`
	Model     []byte    `json:"model"`
	Optimizer []byte    `json:"optimizer"`
	Schedule  []byte    `json:"schedule"`
	Metrics   []Metrics `json:"metrics"`
}

// run is the state of a run in progress.
type run struct {
	cfg   Config
	data  Data
	model *nn.Model
	opt   *nn.SGD
	sched schedule.Schedule
	rec   *autodrop.Record // the last AutoDrop record of the current step
	out   string
	hooks Hooks
	done  []Metrics
}

func newRun(cfg Config, data Data, out string, hooks Hooks) (*run, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if data.Train.Len() == 0 || data.Test.Len() == 0 {
		return nil, errors.New("empty data set")
	}
	arch, err := cfg.Arch(data.Features)
	if err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, data: data, out: out, hooks: hooks}
	if r.model, err = nn.NewModel(arch, cfg.Seed); err != nil {
		return nil, err
	}
	if r.opt, err = nn.NewSGD(r.model, nn.SGDConfig{LR: cfg.LR, Momentum: cfg.Momentum, Nesterov: cfg.Nesterov, WeightDecay: cfg.WeightDecay}); err != nil {
		return nil, err
	}
	r.sched, err = schedule.Parse([]byte(cfg.Spec), []float64{cfg.LR}, schedule.ParseOptions{
		Params: r.model.Params,
		OnRecord: func(rec autodrop.Record) {
			r.rec = &rec
		},
		Logger: hooks.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("--schedule: %w", err)
	}
	// nn.SGD's momentum is fixed for a run, so a OneCycle that cycles the
	// momentum cannot be followed: refuse it rather than ignore it.
	if mc, ok := r.sched.(interface{ Momentums() []float64 }); ok && mc.Momentums() != nil {
		return nil, errors.New(`--schedule: onecycle with "cycle_momentum": true (its default) needs the momentum changed every step, which this trainer does not do; add "cycle_momentum": false (the "onecycle" shorthand does)`)
	}
	return r, nil
}

// Run trains a new model for cfg.Epochs epochs. If out is not empty it
// creates the directory, writes run.json, and after every epoch the
// checkpoint, metrics.jsonl and model.bin, all atomically. When ctx is
// cancelled it stops before the next batch and returns the epochs completed
// with Result.Interrupted set and a nil error; the saved checkpoint then
// holds the last completed epoch.
func Run(ctx context.Context, cfg Config, data Data, out string, hooks Hooks) (*Result, error) {
	r, err := newRun(cfg, data, out, hooks)
	if err != nil {
		return nil, err
	}
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return nil, err
		}
		b, _ := json.MarshalIndent(cfg, "", "  ")
		if err := nn.WriteFileAtomic(filepath.Join(out, RunFile), append(b, '\n')); err != nil {
			return nil, err
		}
		// A fresh run replaces any earlier one in the same directory.
		for _, f := range []string{CheckpointFile, MetricsFile, ModelFile} {
			if err := os.Remove(filepath.Join(out, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
	}
	return r.loop(ctx)
}

// ReadConfig reads the run.json of an output directory.
func ReadConfig(dir string) (Config, error) {
	var cfg Config
	b, err := os.ReadFile(filepath.Join(dir, RunFile))
	if err != nil {
		return cfg, fmt.Errorf("--resume %s: %w (is it the --out directory of an autodrop train run?)", dir, err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("--resume: %s: %v", filepath.Join(dir, RunFile), err)
	}
	return cfg, nil
}

// Resume continues the run saved in dir from its last checkpoint, up to
// epochs epochs in total (0: the run's own number). The configuration comes
// from the checkpoint; the data must be the same as the original run's for
// the result to equal an uninterrupted run.
func Resume(ctx context.Context, dir string, epochs int, data Data, hooks Hooks) (*Result, error) {
	path := filepath.Join(dir, CheckpointFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("--resume %s: no %s: the run did not complete an epoch, start it again", dir, CheckpointFile)
	}
	if err != nil {
		return nil, fmt.Errorf("--resume: %w", err)
	}
	var cp checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("--resume: %s is corrupt: %v", path, err)
	}
	if cp.Version != 1 {
		return nil, fmt.Errorf("--resume: %s has version %d, want 1", path, cp.Version)
	}
	cfg := cp.Config
	if epochs != 0 {
		if epochs < cp.Epoch {
			return nil, fmt.Errorf("--epochs %d: the run in %s has already done %d epochs", epochs, dir, cp.Epoch)
		}
		cfg.Epochs = epochs
	}
	r, err := newRun(cfg, data, dir, hooks)
	if err != nil {
		return nil, fmt.Errorf("--resume %s: %w", dir, err)
	}
	if err := r.model.UnmarshalBinary(cp.Model); err != nil {
		return nil, fmt.Errorf("--resume %s: model state: %w (was the data the same as the original run's?)", dir, err)
	}
	if err := r.opt.UnmarshalBinary(cp.Optimizer); err != nil {
		return nil, fmt.Errorf("--resume %s: optimizer state: %w", dir, err)
	}
	if err := r.sched.UnmarshalBinary(cp.Schedule); err != nil {
		return nil, fmt.Errorf("--resume %s: schedule state: %w", dir, err)
	}
	if len(cp.Metrics) != cp.Epoch {
		return nil, fmt.Errorf("--resume: %s is corrupt: %d metrics for %d epochs", path, len(cp.Metrics), cp.Epoch)
	}
	r.done = cp.Metrics
	if cfg.Epochs != cp.Config.Epochs {
		b, _ := json.MarshalIndent(cfg, "", "  ")
		if err := nn.WriteFileAtomic(filepath.Join(dir, RunFile), append(b, '\n')); err != nil {
			return nil, err
		}
	}
	return r.loop(ctx)
}

func (r *run) loop(ctx context.Context) (*Result, error) {
	res := &Result{Config: r.cfg}
	batches := (r.data.Train.Len() + r.cfg.Batch - 1) / r.cfg.Batch
	for ep := len(r.done) + 1; ep <= r.cfg.Epochs; ep++ {
		if ctx.Err() != nil {
			res.Interrupted = true
			break
		}
		if r.hooks.EpochStart != nil {
			r.hooks.EpochStart(ep, r.cfg.Epochs, batches)
		}
		m, err := r.epoch(ctx, ep)
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				res.Interrupted = true
				break
			}
			return nil, fmt.Errorf("epoch %d: %w", ep, err)
		}
		r.done = append(r.done, m)
		if err := r.save(); err != nil {
			return nil, fmt.Errorf("epoch %d: saving: %w", ep, err)
		}
		if r.hooks.Epoch != nil {
			r.hooks.Epoch(m, r.sched.LRs()[0])
		}
	}
	res.Metrics = r.done
	res.NextLR = r.sched.LRs()[0]
	return res, nil
}

func (r *run) epoch(ctx context.Context, ep int) (Metrics, error) {
	start := time.Now()
	lr := r.sched.LRs()[0]
	if err := r.opt.SetLR(lr); err != nil {
		return Metrics{}, fmt.Errorf("schedule gave lr %v: %w", lr, err)
	}
	trLoss, trAcc, err := nn.TrainEpoch(ctx, r.model, r.opt, r.data.Train, r.cfg.Batch, nn.EpochSeed(r.cfg.Seed, ep), r.hooks.Progress)
	if err != nil {
		return Metrics{}, err
	}
	if math.IsNaN(trLoss) || math.IsInf(trLoss, 0) {
		return Metrics{}, fmt.Errorf("training diverged (loss %v at lr %g): lower --lr", trLoss, lr)
	}
	teLoss, teAcc, err := nn.Evaluate(r.model, r.data.Test)
	if err != nil {
		return Metrics{}, err
	}
	r.rec = nil
	// The metric is for plateau (the test loss, MNIST having no separate
	// validation set); the other schedules ignore it.
	if err := r.sched.Step(teLoss); err != nil {
		return Metrics{}, fmt.Errorf("schedule step: %w", err)
	}
	m := Metrics{Epoch: ep, LR: lr, TrainLoss: trLoss, TrainAcc: trAcc, TestLoss: teLoss, TestAcc: teAcc}
	if rec := r.rec; rec != nil {
		if rec.HasAngle {
			m.Angle = ptr(rec.Angle)
		}
		if rec.HasDelta {
			m.Delta = ptr(rec.Delta)
		}
		m.Theta = ptr(rec.Theta)
		m.Dropped = rec.Dropped
		if rec.Averaged {
			// The tail average replaced the parameters: measure them.
			if m.TestLoss, m.TestAcc, err = nn.Evaluate(r.model, r.data.Test); err != nil {
				return Metrics{}, err
			}
		}
	}
	m.Seconds = time.Since(start).Seconds()
	return m, nil
}

func ptr(v float64) *float64 { return &v }

// save writes the checkpoint, metrics.jsonl and model.bin atomically (the
// checkpoint first: it alone is read by Resume).
func (r *run) save() error {
	if r.out == "" {
		return nil
	}
	cp := checkpoint{Version: 1, Config: r.cfg, Epoch: len(r.done), Metrics: r.done}
	var err error
	if cp.Model, err = r.model.MarshalBinary(); err != nil {
		return err
	}
	if cp.Optimizer, err = r.opt.MarshalBinary(); err != nil {
		return err
	}
	if cp.Schedule, err = r.sched.MarshalBinary(); err != nil {
		return err
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	if err := nn.WriteFileAtomic(filepath.Join(r.out, CheckpointFile), b); err != nil {
		return err
	}
	if err := WriteMetrics(filepath.Join(r.out, MetricsFile), r.done); err != nil {
		return err
	}
	return nn.WriteFileAtomic(filepath.Join(r.out, ModelFile), cp.Model)
}

// WriteMetrics writes ms as JSON lines to path atomically.
func WriteMetrics(path string, ms []Metrics) error {
	var b []byte
	for _, m := range ms {
		line, err := json.Marshal(m)
		if err != nil {
			return err
		}
		b = append(append(b, line...), '\n')
	}
	return nn.WriteFileAtomic(path, b)
}
