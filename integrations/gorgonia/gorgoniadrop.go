// Package gorgoniadrop attaches AutoDrop (github.com/autodrop-go/autodrop),
// or any schedule of github.com/autodrop-go/autodrop/schedule, to a Gorgonia
// (gorgonia.org/gorgonia v0.9.18) training run.
//
// Gorgonia has no training loop of its own, so the adapter is one call to
// attach and one call per epoch:
//
//	run, err := gorgoniadrop.Attach(solver, learnables, sched, nil)
//	for epoch := 0; epoch < epochs; epoch++ {
//		// ... machine.RunAll(); solver.Step(gorgonia.NodesToValueGrads(learnables)); machine.Reset() per batch
//		if _, err := run.EpochEnd(); err != nil { ... }
//	}
//
// EpochEnd reads the learnables' values in place (the backing slices of their
// *tensor.Dense values, no copy), lets the schedule observe them (tail
// averaging writes the average into those slices, which are the model's
// weights), and sets the solver's learning rate with
// gorgonia.WithLearnRate(lr)(solver).
//
// Checkpoints: SaveCheckpoint/LoadCheckpoint write and read the learnables'
// values (gob of each *tensor.Dense, Gorgonia's own encoding) together with
// the schedule state in one file; SaveState/LoadState write only the schedule
// state, as a side file next to a checkpoint saved some other way. Files are
// written atomically.
//
// Gorgonia v0.9.18 panics at start on recent Go (seen on 1.26) unless its dependency
// go4.org/unsafe/assume-no-moving-gc is upgraded; this module requires
// v0.0.0-20231121144256-b99613f794b6.
package gorgoniadrop

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/autodrop-go/autodrop"
	"github.com/autodrop-go/autodrop/internal/epochs"
	"github.com/autodrop-go/autodrop/schedule"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Float is the element type of the observed learnables: tensor.Float32 and
// tensor.Float64.
type Float interface{ float32 | float64 }

// Options tunes an Adapter. The zero value (or a nil *Options) is valid.
type Options struct {
	// SetLR, if set, applies the learning rate to the solver instead of
	// gorgonia.WithLearnRate. Required for solvers that WithLearnRate does
	// not know (it silently ignores them: AdaGradSolver, custom solvers).
	SetLR func(lr float64) error

	// Metric, if set, is called at each EpochEnd and its value passed to
	// Step of schedules that take a metric (e.g. a plateau schedule).
	// AutoDrop ignores it.
	Metric func() (float64, error)

	// OnEpoch, if set, is called at the end of each successful EpochEnd,
	// once the learning rate is set. Its error is returned by EpochEnd (the
	// update itself is kept).
	OnEpoch func(Result) error
}

// Result describes one end-of-epoch update.
type Result struct {
	// Epoch is the 1-based number of the epoch that just ended.
	Epoch int
	// LR is the learning rate now set in the solver.
	LR float64
	// Record is AutoDrop's decision; valid when HasRecord (only AutoDrop
	// schedules produce one).
	Record    autodrop.Record
	HasRecord bool
	// Averaged reports whether the tail average was written into the
	// learnables.
	Averaged bool
	// Params is the number of observed values, Tensors the number of
	// observed learnables (0 when the schedule did not read them).
	Params, Tensors int
	// Duration is the time the adapter took.
	Duration time.Duration
}

// Adapter connects a schedule to a Gorgonia solver and its learnables.
// It is not safe for concurrent use; call EpochEnd between solver steps.
type Adapter[T Float] struct {
	solver gorgonia.Solver
	nodes  gorgonia.Nodes
	sched  epochs.Stepper[T]
	opts   Options
	epoch  int
	views  [][]T
	last   Result
	has    bool
}

// Attach attaches the AutoDrop scheduler s to a training run: solver is
// the run's solver and learnables the nodes it steps (the same slice given
// to gorgonia.NodesToValueGrads), whose values must be *tensor.Dense of
// element type T. Attach sets the solver's learning rate to s.LR().
func Attach[T Float](solver gorgonia.Solver, learnables gorgonia.Nodes, s *autodrop.Scheduler[T], opts *Options) (*Adapter[T], error) {
	st, err := epochs.ForScheduler(s)
	if err != nil {
		return nil, fmt.Errorf("gorgoniadrop: %w", err)
	}
	a := &Adapter[T]{sched: st}
	return a.init(solver, learnables, opts)
}

// AttachSchedule is Attach for any schedule of package
// github.com/autodrop-go/autodrop/schedule (MultiStep, Cosine, Plateau,
// Sequential, AutoDrop, a parsed JSON spec, ...). build is called once with
// the function that returns the learnables' live values (one slice per
// learnable, written in place by tail averaging): pass it to
// schedule.NewAutoDrop or as schedule.ParseOptions.Params (Params64 for
// float64); other schedules ignore it. The schedule must have one parameter
// group: a Gorgonia solver has one learning rate.
func AttachSchedule[T Float](solver gorgonia.Solver, learnables gorgonia.Nodes,
	build func(params func() [][]T) (schedule.Schedule, error), opts *Options) (*Adapter[T], error) {
	st, err := epochs.ForSchedule(build)
	if err != nil {
		return nil, fmt.Errorf("gorgoniadrop: %w", err)
	}
	a := &Adapter[T]{sched: st}
	return a.init(solver, learnables, opts)
}

func (a *Adapter[T]) init(solver gorgonia.Solver, learnables gorgonia.Nodes, opts *Options) (*Adapter[T], error) {
	if solver == nil {
		return nil, errors.New("gorgoniadrop: nil solver")
	}
	a.solver = solver
	a.nodes = learnables
	if opts != nil {
		a.opts = *opts
	}
	if a.opts.SetLR == nil && !knownSolver(solver) {
		return nil, fmt.Errorf("gorgoniadrop: gorgonia.WithLearnRate ignores solvers of type %T: set Options.SetLR", solver)
	}
	if _, err := a.params(); err != nil {
		return nil, err
	}
	if err := a.applyLR(); err != nil {
		return nil, err
	}
	return a, nil
}

// knownSolver reports whether gorgonia.WithLearnRate (v0.9.18) sets the
// learning rate of s.
func knownSolver(s gorgonia.Solver) bool {
	switch s.(type) {
	case *gorgonia.VanillaSolver, *gorgonia.Momentum, *gorgonia.AdamSolver, *gorgonia.AdamW,
		*gorgonia.RMSPropSolver, *gorgonia.BarzilaiBorweinSolver:
		return true
	}
	return false
}

// params returns the live values of the learnables: the backing slices of
// their *tensor.Dense values.
func (a *Adapter[T]) params() ([][]T, error) {
	if len(a.nodes) == 0 {
		return nil, errors.New("gorgoniadrop: no learnables")
	}
	if cap(a.views) < len(a.nodes) {
		a.views = make([][]T, len(a.nodes))
	}
	views := a.views[:len(a.nodes)]
	for i, n := range a.nodes {
		p, err := liveData[T](n)
		if err != nil {
			return nil, fmt.Errorf("gorgoniadrop: learnable %d (%s): %w", i, n.Name(), err)
		}
		views[i] = p
	}
	return views, nil
}

// liveData returns the backing slice of the node's value.
func liveData[T Float](n *gorgonia.Node) ([]T, error) {
	if n == nil {
		return nil, errors.New("nil node")
	}
	d, ok := n.Value().(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("value is %T, want *tensor.Dense", n.Value())
	}
	if d.IsView() || d.RequiresIterator() || !d.IsNativelyAccessible() {
		return nil, errors.New("value is a view, non-contiguous or not in Go memory")
	}
	var zero T
	var p any
	switch any(zero).(type) {
	case float32:
		if d.Dtype() != tensor.Float32 {
			return nil, fmt.Errorf("dtype %v, the adapter observes float32", d.Dtype())
		}
		p = d.Float32s()
	case float64:
		if d.Dtype() != tensor.Float64 {
			return nil, fmt.Errorf("dtype %v, the adapter observes float64", d.Dtype())
		}
		p = d.Float64s()
	}
	return p.([]T), nil
}

// applyLR sets the solver's learning rate to the schedule's.
func (a *Adapter[T]) applyLR() error {
	lr, err := a.sched.LR()
	if err == nil && (math.IsNaN(lr) || math.IsInf(lr, 0) || lr < 0) {
		err = fmt.Errorf("schedule returned learning rate %g", lr)
	}
	if err != nil {
		return fmt.Errorf("gorgoniadrop: %w", err)
	}
	if a.opts.SetLR != nil {
		if err := a.opts.SetLR(lr); err != nil {
			return fmt.Errorf("gorgoniadrop: Options.SetLR(%g): %w", lr, err)
		}
	} else {
		gorgonia.WithLearnRate(lr)(a.solver)
	}
	a.last.LR = lr
	return nil
}

// LR returns the learning rate the adapter last set in the solver.
func (a *Adapter[T]) LR() float64 { return a.last.LR }

// Last returns the result of the last EpochEnd, and false if there was none.
func (a *Adapter[T]) Last() (Result, bool) { return a.last, a.has }

// EpochEnd ends an epoch: the schedule observes the learnables (AutoDrop
// writes the tail average into them when a drop fires with tail averaging)
// and the solver gets the new learning rate. Call it once per epoch,
// between solver steps.
//
// When the schedule rejects the observation (non-finite values, a changed
// layout) or the metric fails, nothing changes: not the schedule, the
// learnables nor the learning rate. A failure of Options.SetLR or OnEpoch is
// reported after the schedule has advanced.
func (a *Adapter[T]) EpochEnd() (Result, error) {
	start := time.Now()
	res := Result{Epoch: a.epoch + 1}
	var metric []float64
	if a.opts.Metric != nil {
		m, err := a.opts.Metric()
		if err != nil {
			return res, fmt.Errorf("gorgoniadrop: epoch %d: metric: %w", res.Epoch, err)
		}
		metric = []float64{m}
	}
	var views [][]T
	if a.sched.ReadsParams() {
		var err error
		if views, err = a.params(); err != nil {
			return res, err
		}
	}
	rec, has, err := a.sched.Observe(views, metric)
	if err != nil && views == nil && a.sched.ReadsParams() {
		// The schedule asked for the parameters after all (a Sequential
		// reaching an AutoDrop child); its failed Step changed nothing.
		if views, err = a.params(); err != nil {
			return res, err
		}
		rec, has, err = a.sched.Observe(views, metric)
	}
	if err != nil {
		return res, fmt.Errorf("gorgoniadrop: epoch %d: %w", res.Epoch, err)
	}
	res.Record, res.HasRecord, res.Averaged = rec, has, has && rec.Averaged
	for _, p := range views {
		res.Params += len(p)
	}
	res.Tensors = len(views)
	clear(a.views)
	if err := a.applyLR(); err != nil {
		return res, fmt.Errorf("gorgoniadrop: epoch %d: %w", res.Epoch, err)
	}
	a.epoch++
	res.LR = a.last.LR
	res.Duration = time.Since(start)
	a.last, a.has = res, true
	if a.opts.OnEpoch != nil {
		if err := a.opts.OnEpoch(res); err != nil {
			return res, fmt.Errorf("gorgoniadrop: epoch %d: OnEpoch: %w", res.Epoch, err)
		}
	}
	return res, nil
}
