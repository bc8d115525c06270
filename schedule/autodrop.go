package schedule

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/autodrop-go/autodrop"
)

// AutoDrop puts the AutoDrop scheduler of package autodrop behind the
// Schedule interface. Each Step observes the model's parameters (read
// through the function given to NewAutoDrop) and, when AutoDrop drops the
// learning rate, multiplies every group's rate by Config.DropFactor, floored
// at Config.MinLR (a rate already below the floor is left alone). The metric
// passed to Step is ignored.
//
// Call Step once per epoch, after the epoch's training, as for the other
// schedules. With Config.TailAverage, a drop may overwrite the parameters
// with their tail average.
type AutoDrop[T autodrop.Float] struct {
	core   *autodrop.Scheduler[T]
	params func() [][]T
	cfg    autodrop.Config // with defaults applied
	base   []float64
	lrs    []float64
	epoch  int
	last   autodrop.Record
	has    bool
}

// NewAutoDrop returns an AutoDrop schedule over baseLRs. cfg.LR must be 0
// (it then takes baseLRs[0]) or equal to baseLRs[0]: the core follows the
// rate of the first group. params returns the model's parameters, one slice
// per tensor, as the live slices (tail averaging writes into them).
func NewAutoDrop[T autodrop.Float](cfg autodrop.Config, baseLRs []float64, params func() [][]T) (*AutoDrop[T], error) {
	const kind = "autodrop"
	if err := checkLRs(kind, "base_lrs", baseLRs); err != nil {
		return nil, err
	}
	if params == nil {
		return nil, &ArgError{Schedule: kind, Want: "a function returning the model's parameters (ParseOptions.Params)"}
	}
	if cfg.LR == 0 {
		cfg.LR = baseLRs[0]
	} else if cfg.LR != baseLRs[0] {
		return nil, argErr(kind, "lr", cfg.LR, "0 or the base lr of the first group (%s)", fmtF(baseLRs[0]))
	}
	core, err := autodrop.New[T](cfg)
	if err != nil {
		var ce *autodrop.ConfigError
		if errors.As(err, &ce) {
			field := configFields[ce.Field]
			if field == "" {
				field = ce.Field
			}
			want := ce.Reason
			for _, r := range [][2]string{{"must be ", ""}, {"exceeds ", "not above "}, {"is below ", "not below "}} {
				if strings.HasPrefix(want, r[0]) {
					want = r[1] + strings.TrimPrefix(want, r[0])
					break
				}
			}
			return nil, &ArgError{Schedule: kind, Field: field, Value: fmtF(ce.Value), Want: want, Err: err}
		}
		return nil, fmt.Errorf("schedule: autodrop: %w", err)
	}
	return &AutoDrop[T]{core: core, params: params, cfg: core.Config(), base: clone(baseLRs), lrs: clone(baseLRs)}, nil
}

// configFields maps the fields of autodrop.Config to their spec names.
var configFields = map[string]string{
	"LR":          "lr",
	"DropFactor":  "drop_factor",
	"Theta":       "theta",
	"MaxTheta":    "max_theta",
	"MinLR":       "min_lr",
	"Patience":    "patience",
	"AutoTheta":   "auto_theta",
	"TailAverage": "tail_average",
	"Window":      "window",
	"Epsilon":     "epsilon",
}

// LRs returns a copy of the learning rate of every parameter group.
func (s *AutoDrop[T]) LRs() []float64 { return clone(s.lrs) }

// Steps returns the number of steps taken since construction.
func (s *AutoDrop[T]) Steps() int { return s.epoch }

// Theta returns AutoDrop's current threshold in degrees.
func (s *AutoDrop[T]) Theta() float64 { return s.core.Theta() }

// Last returns the record of the last step, and false before the first.
func (s *AutoDrop[T]) Last() (autodrop.Record, bool) { return s.last, s.has }

// Step observes the parameters and drops the learning rates if AutoDrop
// decides so. The metric, if any, is ignored. On error (empty, non-finite or
// re-shaped parameters) nothing changes.
func (s *AutoDrop[T]) Step(metric ...float64) error {
	if err := noMetric("autodrop", metric); err != nil {
		return err
	}
	rec, err := s.core.Observe(s.params())
	if err != nil {
		return fmt.Errorf("schedule: autodrop: step %d: %w", s.epoch+1, err)
	}
	s.epoch++
	s.last, s.has = rec, true
	if rec.Dropped {
		for i, lr := range s.lrs {
			s.lrs[i] = math.Min(lr, math.Max(lr*s.cfg.DropFactor, s.cfg.MinLR))
		}
	}
	return nil
}

func (s *AutoDrop[T]) config() string {
	c := s.cfg
	var zero T
	return fmt.Sprintf("type=%T lr=%s drop_factor=%s theta=%s max_theta=%s min_lr=%s patience=%d auto_theta=%t tail_average=%t window=%d epsilon=%s base_lrs=%s",
		zero, fmtF(c.LR), fmtF(c.DropFactor), fmtF(c.Theta), fmtF(c.MaxTheta), fmtF(c.MinLR), c.Patience,
		c.AutoTheta, c.TailAverage, c.Window, fmtF(c.Epsilon), fmtFs(s.base))
}

// MarshalBinary returns the state of the schedule, including AutoDrop's own
// state (its parameter snapshots).
func (s *AutoDrop[T]) MarshalBinary() ([]byte, error) {
	core, err := s.core.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("schedule: autodrop: %w", err)
	}
	return marshalState("autodrop", s.config(), func(e *encoder) {
		e.int(s.epoch)
		e.f64s(s.lrs)
		e.bool(s.has)
		r := s.last
		e.int(r.Epoch)
		e.f64(r.Angle)
		e.bool(r.HasAngle)
		e.f64(r.Delta)
		e.bool(r.HasDelta)
		e.f64(r.Theta)
		e.f64(r.LR)
		e.bool(r.Armed)
		e.int(r.Left)
		e.bool(r.Dropped)
		e.bool(r.Averaged)
		e.bytes(core)
	})
}

// UnmarshalBinary restores a state written by MarshalBinary of an AutoDrop
// built with the same configuration and base rates.
func (s *AutoDrop[T]) UnmarshalBinary(data []byte) error {
	return unmarshalState(data, "autodrop", s.config(), func(d *decoder) (func(), error) {
		epoch := d.int()
		lrs := d.f64s(len(s.lrs))
		has := d.bool()
		var r autodrop.Record
		r.Epoch = d.int()
		r.Angle = d.f64()
		r.HasAngle = d.bool()
		r.Delta = d.f64()
		r.HasDelta = d.bool()
		r.Theta = d.f64()
		r.LR = d.f64()
		r.Armed = d.bool()
		r.Left = d.int()
		r.Dropped = d.bool()
		r.Averaged = d.bool()
		core := d.bytes()
		if d.err != nil {
			return nil, d.err
		}
		if err := checkEpoch(epoch); err != nil {
			return nil, err
		}
		if err := checkLRState(lrs); err != nil {
			return nil, err
		}
		if len(d.buf) != 0 {
			return nil, fmt.Errorf("%d unexpected bytes after the state", len(d.buf))
		}
		// The core's restore is atomic and the last step that can fail.
		if err := s.core.UnmarshalBinary(core); err != nil {
			return nil, err
		}
		return func() {
			s.epoch, s.lrs, s.has, s.last = epoch, lrs, has, r
		}, nil
	})
}
