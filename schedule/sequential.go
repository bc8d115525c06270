package schedule

import (
	"fmt"
	"reflect"
	"sort"

	"github.com/autodrop-go/autodrop"
)

// Sequential runs schedules one after another, like PyTorch's SequentialLR:
// Schedules[0] until Milestones[0], then Schedules[1] until Milestones[1],
// and so on. At its milestone a schedule starts afresh, in the state it had
// when NewSequential was called, so its lr at the milestone step is its lr at
// construction (PyTorch 1.13 calls step(0), which gives the same rates for
// the schedules it supports).
//
// Unlike PyTorch, any Schedule can be a child, including Plateau, AutoDrop
// and Sequential itself. Step passes its metric to the active schedule; the
// metric given at a milestone step was measured under the previous schedule
// and is not passed to the one that starts.
type Sequential struct {
	children   []Schedule
	milestones []int
	initial    [][]byte
	epoch      int
}

// NewSequential returns a Sequential over schedules, which must be distinct,
// freshly built, and have the same number of parameter groups. Milestones
// are step counts, strictly increasing and >= 1, one fewer than schedules.
func NewSequential(schedules []Schedule, milestones []int) (*Sequential, error) {
	const kind = "sequential"
	if len(schedules) == 0 {
		return nil, argErr(kind, "schedules", rawValue("[]"), "at least one schedule")
	}
	if len(milestones) != len(schedules)-1 {
		return nil, argErr(kind, "milestones", milestones, "one milestone fewer than schedules (%d)", len(schedules)-1)
	}
	if err := checkMilestones(kind, milestones, true); err != nil {
		return nil, err
	}
	s := &Sequential{children: append([]Schedule(nil), schedules...), milestones: append([]int(nil), milestones...)}
	groups := -1
	for i, c := range schedules {
		if c == nil {
			return nil, argErr(kind, fmt.Sprintf("schedules[%d]", i), rawValue("nil"), "a schedule")
		}
		n := len(c.LRs())
		if groups >= 0 && n != groups {
			return nil, argErr(kind, fmt.Sprintf("schedules[%d]", i), rawValue(fmt.Sprintf("a schedule with %d parameter groups", n)), "%d parameter groups, as schedules[0] has", groups)
		}
		groups = n
		for j := range i {
			if t := reflect.TypeOf(c); t.Comparable() && schedules[j] == c {
				return nil, argErr(kind, fmt.Sprintf("schedules[%d]", i), rawValue(fmt.Sprintf("the same schedule as schedules[%d]", j)), "distinct schedules (they keep their own state)")
			}
		}
		b, err := c.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("schedule: sequential: schedules[%d]: MarshalBinary: %w", i, err)
		}
		s.initial = append(s.initial, b)
	}
	return s, nil
}

// active returns the index of the schedule in charge after epoch steps.
func (s *Sequential) active(epoch int) int {
	return sort.Search(len(s.milestones), func(i int) bool { return s.milestones[i] > epoch })
}

// LRs returns the learning rates of the active schedule.
func (s *Sequential) LRs() []float64 { return s.children[s.active(s.epoch)].LRs() }

// Steps returns the number of steps taken since construction.
func (s *Sequential) Steps() int { return s.epoch }

// Last returns the record of the last step of the active schedule if it is
// an AutoDrop that has stepped, and false otherwise.
func (s *Sequential) Last() (autodrop.Record, bool) {
	if l, ok := s.children[s.active(s.epoch)].(interface {
		Last() (autodrop.Record, bool)
	}); ok {
		return l.Last()
	}
	return autodrop.Record{}, false
}

// Active returns the index of the schedule in charge of the current step.
func (s *Sequential) Active() int { return s.active(s.epoch) }

// Step advances one step: at a milestone the next schedule starts afresh,
// otherwise the active schedule steps with the metric.
func (s *Sequential) Step(metric ...float64) error {
	if len(metric) > 1 {
		return fmt.Errorf("schedule: sequential: Step takes at most one metric, got %d", len(metric))
	}
	epoch := s.epoch + 1
	i := s.active(epoch)
	if i > 0 && s.milestones[i-1] == epoch {
		if err := s.children[i].UnmarshalBinary(s.initial[i]); err != nil {
			return fmt.Errorf("schedule: sequential: restarting schedules[%d] at step %d: %w", i, epoch, err)
		}
	} else if err := s.children[i].Step(metric...); err != nil {
		return err
	}
	s.epoch = epoch
	return nil
}

func (s *Sequential) config() string {
	return fmt.Sprintf("milestones=%s schedules=%d", fmtInts(s.milestones), len(s.children))
}

// MarshalBinary returns the state of the schedule and of all its children.
func (s *Sequential) MarshalBinary() ([]byte, error) {
	states := make([][]byte, len(s.children))
	for i, c := range s.children {
		b, err := c.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("schedule: sequential: schedules[%d]: MarshalBinary: %w", i, err)
		}
		states[i] = b
	}
	return marshalState("sequential", s.config(), func(e *encoder) {
		e.int(s.epoch)
		for _, b := range states {
			e.bytes(b)
		}
	})
}

// UnmarshalBinary restores a state written by MarshalBinary of a Sequential
// built with the same arguments. If a child rejects its state, the children
// already restored are put back, so nothing changes.
func (s *Sequential) UnmarshalBinary(data []byte) error {
	return unmarshalState(data, "sequential", s.config(), func(d *decoder) (func(), error) {
		epoch := d.int()
		states := make([][]byte, len(s.children))
		for i := range states {
			states[i] = d.bytes()
		}
		if d.err != nil {
			return nil, d.err
		}
		if err := checkEpoch(epoch); err != nil {
			return nil, err
		}
		if len(d.buf) != 0 {
			return nil, fmt.Errorf("%d unexpected bytes after the state", len(d.buf))
		}
		backup := make([][]byte, len(s.children))
		for i, c := range s.children {
			b, err := c.MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("schedules[%d]: MarshalBinary: %w", i, err)
			}
			backup[i] = b
		}
		for i, c := range s.children {
			if err := c.UnmarshalBinary(states[i]); err != nil {
				for j := range i {
					_ = s.children[j].UnmarshalBinary(backup[j])
				}
				return nil, fmt.Errorf("schedules[%d]: %w", i, err)
			}
		}
		return func() { s.epoch = epoch }, nil
	})
}
