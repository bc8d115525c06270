package schedule

import (
	"encoding"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Schedule is a learning-rate schedule: the interface shared by every
// schedule of this package, including AutoDrop.
//
// A schedule holds one learning rate per parameter group. LRs reports the
// rates in effect for the current step; Step advances to the next step.
// The usual loop trains an epoch (or a batch) with LRs, then calls Step
// once, passing the validation metric for the schedules that use one
// (Plateau, and Sequential when a child uses one). Schedules that do not use
// a metric ignore it.
//
// MarshalBinary captures the complete state and UnmarshalBinary restores it
// into a schedule built with the same arguments; the restored schedule then
// continues bit for bit as if it had never been interrupted. A failed Step
// or UnmarshalBinary leaves the schedule unchanged.
//
// Schedules are not safe for concurrent use.
type Schedule interface {
	// LRs returns a copy of the learning rate of every parameter group.
	LRs() []float64
	// Step advances the schedule by one step. It takes at most one metric.
	Step(metric ...float64) error
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// ArgError reports an invalid constructor argument or spec field.
type ArgError struct {
	// Path locates the schedule inside a spec, e.g. "schedules[1]"; empty
	// for a top-level schedule or a direct constructor call.
	Path string
	// Schedule is the spec type name of the schedule, e.g. "multistep".
	Schedule string
	// Field is the spec field name, e.g. "gamma"; empty when the error is
	// about the schedule as a whole.
	Field string
	// Value is the rejected value as text.
	Value string
	// Want says what the value must satisfy.
	Want string
	// Err is the underlying error, if any (for AutoDrop, the core's
	// *autodrop.ConfigError).
	Err error
}

// Unwrap returns Err.
func (e *ArgError) Unwrap() error { return e.Err }

// Error formats the error as "schedule: [path: ]type: field = value, want ...".
func (e *ArgError) Error() string {
	var b strings.Builder
	b.WriteString("schedule: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Schedule)
	if e.Field != "" {
		fmt.Fprintf(&b, ": %s = %s, want %s", e.Field, e.Value, e.Want)
	} else {
		fmt.Fprintf(&b, ": %s", e.Want)
	}
	return b.String()
}

func argErr(kind, field string, value any, want string, args ...any) *ArgError {
	return &ArgError{Schedule: kind, Field: field, Value: fmtValue(value), Want: fmt.Sprintf(want, args...)}
}

// rawValue is a value already formatted for an error message.
type rawValue string

func fmtValue(v any) string {
	switch v := v.(type) {
	case rawValue:
		return string(v)
	case float64:
		return fmtF(v)
	case []float64:
		return fmtFs(v)
	case []int:
		return fmtInts(v)
	case string:
		return strconv.Quote(v)
	default:
		return fmt.Sprint(v)
	}
}

// fmtF formats x in the shortest form that parses back to x.
func fmtF(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func fmtFs(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmtF(x)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func fmtInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// checkLRs validates the base learning rates of a schedule: at least one
// group, each finite and >= 0.
func checkLRs(kind, field string, lrs []float64) error {
	if len(lrs) == 0 {
		return argErr(kind, field, lrs, "at least one parameter group")
	}
	for i, lr := range lrs {
		if !finite(lr) || lr < 0 {
			return argErr(kind, fmt.Sprintf("%s[%d]", field, i), lr, "a finite number >= 0")
		}
	}
	return nil
}

// checkMilestones validates strictly increasing milestones >= 1.
func checkMilestones(kind string, ms []int, allowEmpty bool) error {
	if len(ms) == 0 && !allowEmpty {
		return argErr(kind, "milestones", ms, "at least one milestone")
	}
	for i, m := range ms {
		if m < 1 {
			return argErr(kind, "milestones", ms, "every milestone >= 1 (milestones[%d] = %d)", i, m)
		}
		if i > 0 && m <= ms[i-1] {
			return argErr(kind, "milestones", ms, "strictly increasing milestones (milestones[%d] = %d after %d)", i, m, ms[i-1])
		}
	}
	return nil
}

// checkPositive validates a finite x > 0.
func checkPositive(kind, field string, x float64) error {
	if !finite(x) || x <= 0 {
		return argErr(kind, field, x, "a finite number > 0")
	}
	return nil
}

// checkNonNeg validates a finite x >= 0.
func checkNonNeg(kind, field string, x float64) error {
	if !finite(x) || x < 0 {
		return argErr(kind, field, x, "a finite number >= 0")
	}
	return nil
}

// noMetric is the metric check of the schedules that ignore metrics.
func noMetric(kind string, metric []float64) error {
	if len(metric) > 1 {
		return fmt.Errorf("schedule: %s: Step takes at most one metric, got %d", kind, len(metric))
	}
	return nil
}

func clone(xs []float64) []float64 { return append([]float64(nil), xs...) }
