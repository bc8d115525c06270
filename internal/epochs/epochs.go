// Package epochs gives the framework adapters one way to drive a learning-rate
// schedule at the end of each epoch, whether it is the AutoDrop core or any
// schedule of package schedule: a Stepper advances by one epoch with the live
// parameter values, reports the single learning rate a framework applies, and
// saves and restores its state.
package epochs

import (
	"encoding"
	"errors"
	"fmt"

	"github.com/autodrop-go/autodrop"
	"github.com/autodrop-go/autodrop/schedule"
)

// Stepper is a schedule driven once per epoch by an adapter.
type Stepper[T autodrop.Float] interface {
	// Observe advances by one epoch. views holds the live values of the
	// parameters (one slice per tensor, written in place by tail averaging)
	// when ReadsParams reported true, else nil. hasRec reports whether rec
	// is an AutoDrop decision.
	Observe(views [][]T, metric []float64) (rec autodrop.Record, hasRec bool, err error)
	// ReadsParams reports whether the next Observe needs the parameters.
	ReadsParams() bool
	// LR returns the learning rate to apply now.
	LR() (float64, error)
	// Epochs returns the number of epochs observed (0 if the schedule does
	// not count them).
	Epochs() int
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// ForScheduler returns a Stepper driving the AutoDrop scheduler s.
func ForScheduler[T autodrop.Float](s *autodrop.Scheduler[T]) (Stepper[T], error) {
	if s == nil {
		return nil, errors.New("nil scheduler")
	}
	return coreStepper[T]{s}, nil
}

type coreStepper[T autodrop.Float] struct{ s *autodrop.Scheduler[T] }

func (d coreStepper[T]) ReadsParams() bool { return true }

func (d coreStepper[T]) Observe(views [][]T, _ []float64) (autodrop.Record, bool, error) {
	rec, err := d.s.Observe(views)
	return rec, err == nil, err
}

func (d coreStepper[T]) LR() (float64, error)           { return d.s.LR(), nil }
func (d coreStepper[T]) Epochs() int                    { return d.s.Epoch() }
func (d coreStepper[T]) MarshalBinary() ([]byte, error) { return d.s.MarshalBinary() }
func (d coreStepper[T]) UnmarshalBinary(b []byte) error { return d.s.UnmarshalBinary(b) }

// ForSchedule builds a schedule with build and returns a Stepper driving
// it. build is called once, with the function that returns the live
// parameter values: pass it to schedule.NewAutoDrop or as
// schedule.ParseOptions.Params (Params64 for float64); other schedules ignore
// it. It returns valid values only during Observe. The schedule must have one
// parameter group: the frameworks have one learning rate.
func ForSchedule[T autodrop.Float](build func(params func() [][]T) (schedule.Schedule, error)) (Stepper[T], error) {
	if build == nil {
		return nil, errors.New("nil schedule builder")
	}
	st := &scheduleStepper[T]{reads: true}
	s, err := build(st.params)
	if err != nil {
		return nil, fmt.Errorf("building the schedule: %w", err)
	}
	if s == nil {
		return nil, errors.New("the schedule builder returned a nil schedule")
	}
	if n := len(s.LRs()); n != 1 {
		return nil, fmt.Errorf("the schedule has %d parameter groups, the framework has one learning rate", n)
	}
	st.s = s
	return st, nil
}

type scheduleStepper[T autodrop.Float] struct {
	s schedule.Schedule
	// reads: the last Step read the parameters (or none ran yet), so the
	// next one gets them ready.
	reads bool
	live  [][]T // the views, during a Step with parameters
	asked bool  // the schedule called params during the current Step
}

// params is the function given to the schedule builder.
func (d *scheduleStepper[T]) params() [][]T {
	d.asked = true
	return d.live
}

func (d *scheduleStepper[T]) ReadsParams() bool { return d.reads }

// lastRecorder is implemented by the schedules that hold AutoDrop.
type lastRecorder interface {
	Last() (autodrop.Record, bool)
}

func (d *scheduleStepper[T]) Observe(views [][]T, metric []float64) (autodrop.Record, bool, error) {
	d.live, d.asked = views, false
	err := d.s.Step(metric...)
	d.live = nil
	d.reads = d.asked
	if err != nil || views == nil {
		return autodrop.Record{}, false, err // nothing read, nothing written
	}
	if l, ok := d.s.(lastRecorder); ok {
		if rec, ok := l.Last(); ok {
			return rec, true, nil
		}
	}
	return autodrop.Record{}, false, nil
}

func (d *scheduleStepper[T]) LR() (float64, error) {
	lrs := d.s.LRs()
	if len(lrs) != 1 {
		return 0, fmt.Errorf("the schedule has %d parameter groups, the framework has one learning rate", len(lrs))
	}
	return lrs[0], nil
}

func (d *scheduleStepper[T]) Epochs() int {
	if n, ok := d.s.(interface{ Steps() int }); ok {
		return n.Steps()
	}
	return 0
}

func (d *scheduleStepper[T]) MarshalBinary() ([]byte, error) { return d.s.MarshalBinary() }
func (d *scheduleStepper[T]) UnmarshalBinary(b []byte) error { return d.s.UnmarshalBinary(b) }
