// Package gomlxdrop attaches AutoDrop (github.com/autodrop-go/autodrop) to a
// GoMLX training run (github.com/gomlx/gomlx v0.26).
//
// One call wires everything:
//
//	run, err := gomlxdrop.Attach(loop, trainDS, sched, nil)
//	...
//	_, err = loop.RunEpochs(run, epochs) // train on run, not on trainDS
//
// At the end of every epoch (when train.Loop.RunEpochs resets the dataset)
// the adapter reads the trainable variables in place (one slice per
// variable, no concatenation), lets the scheduler observe them, writes the
// tail average back into the variables when a drop fires with tail
// averaging, sets GoMLX's learning-rate variable (/optimizers/learning_rate)
// to the scheduler's rate, and stores the scheduler state in a non-trainable
// variable so that GoMLX checkpoints carry it.
//
// Loops that do not use RunEpochs call Adapter.EpochEnd themselves.
package gomlxdrop

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/autodrop-go/autodrop"
	"github.com/autodrop-go/autodrop/internal/epochs"
	"github.com/autodrop-go/autodrop/schedule"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// Default location of the variable that holds the scheduler state.
const (
	DefaultStateScope = "/autodrop"
	DefaultStateName  = "state"
)

// Float is the element type of the observed variables: the GoMLX dtypes
// Float32 and Float64.
type Float interface{ float32 | float64 }

// Options tunes an Adapter. The zero value (or a nil *Options) is valid.
type Options struct {
	// Scope restricts the observed parameters to the trainable variables
	// under this absolute scope, e.g. "/model". Empty means every trainable
	// variable of the trainer's context.
	Scope string

	// LRDType is the dtype of the learning-rate variable, which must be the
	// dtype of the loss (the optimizer reuses the variable and fails on a
	// different dtype). dtypes.InvalidDType (the zero value) means: the dtype
	// of the existing learning-rate variable, else the dtype of T.
	LRDType dtypes.DType

	// StateScope and StateName locate the non-trainable uint8 variable that
	// holds the scheduler state (MarshalBinary) for checkpoints. Empty means
	// DefaultStateScope and DefaultStateName.
	StateScope, StateName string

	// Metric, if set, is called at the end of each epoch and its value is
	// passed to Step of schedules that take a metric (e.g. a plateau
	// schedule). AutoDrop ignores it.
	Metric func() (float64, error)

	// OnEpoch, if set, is called at the end of each successful EpochEnd,
	// once the learning rate and the state variable are set: the place to
	// log, evaluate or save a checkpoint (which then holds the new state).
	// Its error is returned by EpochEnd (the update itself is kept) and
	// stops RunEpochs.
	OnEpoch func(Result) error
}

// Result describes one end-of-epoch update.
type Result struct {
	// Epoch is the 1-based number of the epoch that just ended.
	Epoch int
	// LR is the learning rate now in GoMLX's learning-rate variable.
	LR float64
	// Record is AutoDrop's decision; valid when HasRecord (only AutoDrop
	// schedulers produce one).
	Record    autodrop.Record
	HasRecord bool
	// Averaged reports whether tail-averaged parameters were written back
	// into the variables.
	Averaged bool
	// Params is the number of observed values, Tensors the number of
	// observed variables (0 for schedules that do not read parameters).
	Params, Tensors int
	// Duration is the time the adapter took (reading variables, observing,
	// writing back, setting the rate and storing the state).
	Duration time.Duration
}

// Adapter connects a schedule to a GoMLX trainer. It also implements
// train.Dataset by wrapping the training dataset given to Attach: each Reset
// after at least one Yield ends an epoch and calls EpochEnd.
//
// An Adapter is not safe for concurrent use (neither is a GoMLX training
// loop).
type Adapter[T Float] struct {
	trainer *train.Trainer
	ctx     *context.Context
	sched   epochs.Stepper[T]
	opts    Options
	lrDType dtypes.DType

	ds      train.Dataset
	yielded bool  // a Yield happened since the last Reset
	err     error // first error of an EpochEnd called from Reset

	epoch   int
	last    Result
	views   [][]T
	vars    []*context.Variable
	stateV  *context.Variable
	lrV     *context.Variable
	hasLast bool
}

// Attach attaches the AutoDrop scheduler s to the training run of loop:
// train with loop.RunEpochs(adapter, n) instead of loop.RunEpochs(ds, n).
// The adapter must be created after train.NewTrainer (which deletes the
// learning-rate variable) and after any checkpoint was loaded into the
// context (checkpoints.Build(ctx)...Done()): if the context holds a saved
// scheduler state, it is restored into s. Attach sets the learning-rate
// variable to s.LR() and registers a loop end hook that reports an error of
// the last epoch's update.
//
// ds may be nil if the caller drives epochs itself with EpochEnd; the
// adapter must then not be used as a dataset.
func Attach[T Float](loop *train.Loop, ds train.Dataset, s *autodrop.Scheduler[T], opts *Options) (*Adapter[T], error) {
	st, err := epochs.ForScheduler(s)
	if err != nil {
		return nil, fmt.Errorf("gomlxdrop: %w", err)
	}
	a := &Adapter[T]{sched: st}
	return a.attach(loop, ds, opts)
}

// AttachSchedule is Attach for any schedule of package
// github.com/autodrop-go/autodrop/schedule (MultiStep, Cosine, Plateau,
// Sequential, AutoDrop, a parsed JSON spec, ...). build is called once, with
// the function that returns the live values of the trainable variables (one
// slice per variable, written in place by tail averaging): pass it to
// schedule.NewAutoDrop or as schedule.ParseOptions.Params (Params64 for
// float64); other schedules ignore it. It returns valid values only while the
// adapter runs the schedule's Step at the end of an epoch.
//
// The schedule must have one parameter group: GoMLX has one learning rate.
// Its Step gets the value of Options.Metric, if set.
func AttachSchedule[T Float](loop *train.Loop, ds train.Dataset,
	build func(params func() [][]T) (schedule.Schedule, error), opts *Options) (*Adapter[T], error) {
	st, err := epochs.ForSchedule(build)
	if err != nil {
		return nil, fmt.Errorf("gomlxdrop: %w", err)
	}
	a := &Adapter[T]{sched: st}
	return a.attach(loop, ds, opts)
}

func (a *Adapter[T]) attach(loop *train.Loop, ds train.Dataset, opts *Options) (*Adapter[T], error) {
	if loop == nil || loop.Trainer == nil {
		return nil, errors.New("gomlxdrop: nil loop or loop without trainer")
	}
	if err := a.init(loop.Trainer, opts); err != nil {
		return nil, err
	}
	a.ds = ds
	loop.OnEnd("autodrop", train.Priority(0), func(*train.Loop, []*tensors.Tensor) error {
		return a.Err()
	})
	return a, nil
}

func (a *Adapter[T]) init(trainer *train.Trainer, opts *Options) error {
	a.trainer, a.ctx = trainer, trainer.Context()
	if opts != nil {
		a.opts = *opts
	}
	if a.opts.StateScope == "" {
		a.opts.StateScope = DefaultStateScope
	}
	if a.opts.StateName == "" {
		a.opts.StateName = DefaultStateName
	}
	if !strings.HasPrefix(a.opts.StateScope, context.RootScope) {
		return fmt.Errorf("gomlxdrop: Options.StateScope %q is not an absolute scope (must start with %q)",
			a.opts.StateScope, context.RootScope)
	}
	if a.opts.Scope != "" && !strings.HasPrefix(a.opts.Scope, context.RootScope) {
		return fmt.Errorf("gomlxdrop: Options.Scope %q is not an absolute scope (must start with %q)",
			a.opts.Scope, context.RootScope)
	}
	if err := a.restore(); err != nil {
		return err
	}
	lr, err := a.sched.LR()
	if err == nil {
		err = checkLR(lr)
	}
	if err != nil {
		return err
	}
	if err := a.setLR(lr); err != nil {
		return err
	}
	return nil
}

// restore loads the scheduler state from the state variable (present after a
// checkpoint restore), or creates the variable holding "no state yet".
func (a *Adapter[T]) restore() error {
	var v *context.Variable
	err := tryCatch(func() {
		sctx := a.ctx.InAbsPath(a.opts.StateScope).Checked(false)
		v = sctx.GetVariable(a.opts.StateName) // loads it from a checkpoint, if any
		if v == nil {
			v = sctx.VariableWithValue(a.opts.StateName, []uint8{stateNone})
		}
		v.SetTrainable(false)
	})
	if err != nil {
		return fmt.Errorf("gomlxdrop: state variable %s: %w", a.statePath(), err)
	}
	a.stateV = v
	t, err := v.Value()
	if err != nil {
		return fmt.Errorf("gomlxdrop: state variable %s: %w", a.statePath(), err)
	}
	if t.DType() != dtypes.Uint8 || t.Rank() != 1 {
		return fmt.Errorf("gomlxdrop: state variable %s has shape %s, want a Uint8 vector", a.statePath(), t.Shape())
	}
	var state []byte
	err = tensors.ConstFlatData(t, func(flat []uint8) {
		if len(flat) > 0 && flat[0] == stateSaved {
			state = slices.Clone(flat[1:])
		}
	})
	if err != nil {
		return fmt.Errorf("gomlxdrop: reading state variable %s: %w", a.statePath(), err)
	}
	if state == nil {
		return nil
	}
	if err := a.sched.UnmarshalBinary(state); err != nil {
		return fmt.Errorf("gomlxdrop: restoring scheduler state from %s: %w", a.statePath(), err)
	}
	a.epoch = a.sched.Epochs()
	return nil
}

// First byte of the state variable.
const (
	stateNone  = 0 // no observation yet
	stateSaved = 1 // followed by the MarshalBinary bytes
)

func (a *Adapter[T]) statePath() string {
	return context.JoinScope(a.opts.StateScope, a.opts.StateName)
}

// saveState stores the scheduler state in the state variable, in place
// when its size did not change (the usual case: the state holds the last
// observations, whose size is fixed by the model).
func (a *Adapter[T]) saveState() error {
	b, err := a.sched.MarshalBinary()
	if err != nil {
		return fmt.Errorf("gomlxdrop: marshaling scheduler state: %w", err)
	}
	fill := func(flat []uint8) {
		flat[0] = stateSaved
		copy(flat[1:], b)
	}
	if t, err := a.stateV.Value(); err == nil && t.DType() == dtypes.Uint8 && t.Rank() == 1 && t.Size() == len(b)+1 {
		if err := tensors.MutableFlatData(t, fill); err == nil {
			return nil
		}
	}
	t := tensors.FromShape(shapes.Make(dtypes.Uint8, len(b)+1))
	err = tensors.MutableFlatData(t, fill)
	if err == nil {
		err = a.stateV.SetValue(t)
	}
	if err != nil {
		return fmt.Errorf("gomlxdrop: storing scheduler state in %s: %w", a.statePath(), err)
	}
	return nil
}

// setLR writes lr into GoMLX's learning-rate variable.
func (a *Adapter[T]) setLR(lr float64) error {
	if a.lrV == nil || !a.lrV.IsValid() || a.ctx.InspectVariableIfLoaded(a.lrV.Scope(), a.lrV.Name()) != a.lrV {
		dtype := a.opts.LRDType
		if dtype == dtypes.InvalidDType {
			if v := a.ctx.InspectVariableIfLoaded(a.ctx.In(optimizers.Scope).Scope(), optimizers.ParamLearningRate); v != nil {
				dtype = v.DType()
			} else {
				dtype = dtypes.FromGenericsType[T]()
			}
		}
		if !dtype.IsFloat() {
			return fmt.Errorf("gomlxdrop: learning-rate dtype %s is not a float dtype", dtype)
		}
		err := tryCatch(func() {
			a.lrV = optimizers.LearningRateVar(a.ctx, dtype, lr)
		})
		if err != nil {
			return fmt.Errorf("gomlxdrop: learning-rate variable: %w", err)
		}
		a.lrDType = a.lrV.DType()
	}
	var t *tensors.Tensor
	err := tryCatch(func() {
		t = tensors.FromAnyValue(shapes.CastAsDType(lr, a.lrDType))
	})
	if err == nil {
		err = a.lrV.SetValue(t)
	}
	if err != nil {
		return fmt.Errorf("gomlxdrop: setting learning rate %g: %w", lr, err)
	}
	return nil
}

// LRVariable returns GoMLX's learning-rate variable that the adapter sets.
func (a *Adapter[T]) LRVariable() *context.Variable { return a.lrV }

// StateVariable returns the variable that holds the scheduler state.
func (a *Adapter[T]) StateVariable() *context.Variable { return a.stateV }

// Last returns the result of the last EpochEnd, and false if there was none.
func (a *Adapter[T]) Last() (Result, bool) { return a.last, a.hasLast }

// Err returns the first error of an end-of-epoch update triggered by Reset.
// Such an error also makes the next Yield fail and the loop end hook
// registered by Attach return it, so RunEpochs reports it.
func (a *Adapter[T]) Err() error { return a.err }

// params returns the observed variables, sorted by scope and name so that
// the layout does not depend on creation or checkpoint-loading order.
func (a *Adapter[T]) params() ([]*context.Variable, error) {
	a.vars = a.vars[:0]
	prefix := a.opts.Scope
	if prefix != "" && !strings.HasSuffix(prefix, context.ScopeSeparator) {
		prefix += context.ScopeSeparator
	}
	want := dtypes.FromGenericsType[T]()
	for v := range a.ctx.IterVariables() {
		if !v.Trainable || v == a.stateV {
			continue
		}
		if a.opts.Scope != "" && v.Scope() != a.opts.Scope && !strings.HasPrefix(v.Scope()+context.ScopeSeparator, prefix) {
			continue
		}
		if v.DType() != want {
			return nil, fmt.Errorf("gomlxdrop: trainable variable %s has dtype %s, the adapter observes %s (use Adapter[%s] or set Options.Scope)",
				v.ScopeAndName(), v.DType(), want, v.DType().GoType())
		}
		a.vars = append(a.vars, v)
	}
	if len(a.vars) == 0 {
		return nil, fmt.Errorf("gomlxdrop: no trainable variable under scope %q (was a training step run?)", a.opts.Scope)
	}
	slices.SortFunc(a.vars, func(x, y *context.Variable) int {
		return strings.Compare(x.ScopeAndName(), y.ScopeAndName())
	})
	return a.vars, nil
}

// EpochEnd ends an epoch: it lets the schedule observe the trainable
// variables, writes the tail average back into them if one was produced,
// sets the learning-rate variable and stores the scheduler state. Call it
// between training steps, once per epoch, only if the adapter is not used
// as the training dataset of RunEpochs (which calls it through Reset).
//
// When the schedule rejects the observation (non-finite values, a changed
// layout) or the metric fails, nothing changes: not the schedule, the
// variables, the learning rate nor the stored state. A later failure
// (setting the learning-rate variable or the state variable, OnEpoch) is
// reported after the schedule has advanced.
func (a *Adapter[T]) EpochEnd() (Result, error) {
	start := time.Now()
	res := Result{Epoch: a.epoch + 1}
	var metric []float64
	if a.opts.Metric != nil {
		m, err := a.opts.Metric()
		if err != nil {
			return res, fmt.Errorf("gomlxdrop: epoch %d: metric: %w", res.Epoch, err)
		}
		metric = []float64{m}
	}
	err := a.observe(&res, metric)
	if err != nil {
		return res, fmt.Errorf("gomlxdrop: epoch %d: %w", res.Epoch, err)
	}
	lr, err := a.sched.LR()
	if err == nil {
		err = checkLR(lr)
	}
	if err != nil {
		return res, fmt.Errorf("gomlxdrop: epoch %d: %w", res.Epoch, err)
	}
	if err := a.setLR(lr); err != nil {
		return res, err
	}
	if err := a.saveState(); err != nil {
		return res, err
	}
	a.epoch++
	res.LR = lr
	res.Duration = time.Since(start)
	a.last, a.hasLast = res, true
	if a.opts.OnEpoch != nil {
		if err := a.opts.OnEpoch(res); err != nil {
			return res, fmt.Errorf("gomlxdrop: epoch %d: OnEpoch: %w", res.Epoch, err)
		}
	}
	return res, nil
}

// observe runs one observation of the schedule, with the variables' live
// values if it reads them, and makes written values reach the device.
func (a *Adapter[T]) observe(res *Result, metric []float64) error {
	if !a.sched.ReadsParams() {
		rec, has, err := a.sched.Observe(nil, metric)
		if err == nil || !a.sched.ReadsParams() {
			res.Record, res.HasRecord = rec, has
			return err
		}
		// The schedule asked for the parameters after all (a Sequential
		// reaching an AutoDrop child); its failed Step changed nothing:
		// run it again with them.
	}
	vars, err := a.params()
	if err != nil {
		return err
	}
	var fresh []*tensors.Tensor
	unknown := false // the schedule may have written, without telling
	err = a.withViews(vars, func(views [][]T) error {
		rec, has, err := a.sched.Observe(views, metric)
		if err != nil {
			return err
		}
		res.Record, res.HasRecord = rec, has
		for _, p := range views {
			res.Params += len(p)
		}
		res.Tensors = len(views)
		switch {
		case has && rec.Averaged:
			// The views may be the backend's own buffers (CPU backends
			// share them with the host) or a host copy: replace the values
			// by new tensors rather than rely on in-place writes reaching
			// the device.
			res.Averaged = true
			fresh = make([]*tensors.Tensor, len(views))
			for i, p := range views {
				fresh[i] = tensors.FromFlatDataAndDimensions(p, vars[i].Shape().Dimensions...)
			}
		case !has:
			unknown = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, t := range fresh {
		if err := vars[i].SetValue(t); err != nil {
			return fmt.Errorf("writing the tail average into %s: %w", vars[i].ScopeAndName(), err)
		}
	}
	if unknown {
		// Values read through a host copy may have been written: drop the
		// device copies so that the next step uploads the host values.
		// Views of shared buffers were written in place.
		for _, v := range vars {
			t, err := v.Value()
			if err == nil && !t.IsShared() && t.HasLocal() {
				err = t.InvalidateOnDevice()
			}
			if err != nil {
				return fmt.Errorf("syncing %s: %w", v.ScopeAndName(), err)
			}
		}
	}
	return nil
}

// withViews calls fn with the flat data of every variable, read in place:
// each tensor stays locked (tensors.ConstFlatData) until fn returns, so the
// views are valid. With a backend that shares buffers with the host (the
// pure-Go backend) no value is copied; otherwise GoMLX transfers each tensor
// to the host once.
func (a *Adapter[T]) withViews(vars []*context.Variable, fn func(views [][]T) error) error {
	if cap(a.views) < len(vars) {
		a.views = make([][]T, len(vars))
	}
	views := a.views[:len(vars)]
	defer clear(views)
	var rec func(i int) error
	rec = func(i int) error {
		if i == len(vars) {
			return fn(views)
		}
		t, err := vars[i].Value()
		if err != nil {
			return fmt.Errorf("reading %s: %w", vars[i].ScopeAndName(), err)
		}
		var inner error
		err = tensors.ConstFlatData(t, func(flat []T) {
			views[i] = flat
			inner = rec(i + 1)
		})
		if err != nil {
			return fmt.Errorf("reading %s: %w", vars[i].ScopeAndName(), err)
		}
		return inner
	}
	return rec(0)
}

// Name implements train.Dataset: the name of the wrapped dataset.
func (a *Adapter[T]) Name() string {
	if a.ds == nil {
		return "autodrop"
	}
	return a.ds.Name()
}

// ShortName implements train.HasShortName for the wrapped dataset.
func (a *Adapter[T]) ShortName() string {
	if sn, ok := a.ds.(train.HasShortName); ok {
		return sn.ShortName()
	}
	r := []rune(a.Name())
	return string(r[:min(3, len(r))])
}

// IsOwnershipTransferred implements train.DatasetCustomOwnership for the
// wrapped dataset.
func (a *Adapter[T]) IsOwnershipTransferred() bool {
	if o, ok := a.ds.(train.DatasetCustomOwnership); ok {
		return o.IsOwnershipTransferred()
	}
	return true
}

// Reset implements train.Dataset: if a batch was yielded since the last
// Reset, an epoch ended and EpochEnd runs; then the wrapped dataset is reset.
// An error is kept (see Err) and returned by the next Yield.
func (a *Adapter[T]) Reset() {
	if a.yielded && a.err == nil {
		if _, err := a.EpochEnd(); err != nil {
			a.err = err
		}
	}
	a.yielded = false
	if a.ds != nil {
		a.ds.Reset()
	}
}

// Yield implements train.Dataset: it yields the wrapped dataset's batches,
// or the error of the last end-of-epoch update.
func (a *Adapter[T]) Yield() (spec any, inputs, labels []*tensors.Tensor, err error) {
	if a.err != nil {
		return nil, nil, nil, a.err
	}
	if a.ds == nil {
		return nil, nil, nil, errors.New("gomlxdrop: the adapter wraps no dataset (Attach was given a nil dataset)")
	}
	spec, inputs, labels, err = a.ds.Yield()
	if err == nil {
		a.yielded = true
	}
	return spec, inputs, labels, err
}

// tryCatch runs fn and returns the error it panicked with, if any (GoMLX
// graph-building functions panic on error). Other panics are re-raised.
func tryCatch(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(error)
			if !ok {
				panic(r)
			}
			err = e
		}
	}()
	fn()
	return nil
}

// checkLR reports whether lr is usable as a learning rate.
func checkLR(lr float64) error {
	if math.IsNaN(lr) || math.IsInf(lr, 0) || lr < 0 {
		return fmt.Errorf("gomlxdrop: schedule returned learning rate %g", lr)
	}
	return nil
}
