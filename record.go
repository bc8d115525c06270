package autodrop

import (
	"fmt"
	"log/slog"
)

// Record is the decision AutoDrop took at one observation.
type Record struct {
	// Epoch is the 1-based index of the observation.
	Epoch int
	// Angle is the angular velocity in degrees: the angle between the last
	// two steps. Valid when HasAngle (from observation 3 on).
	Angle    float64
	HasAngle bool
	// Delta is the quantity tested against Theta: the change of the angle,
	// averaged over Config.Window observations. Valid when HasDelta (from
	// observation Window+3 on).
	Delta    float64
	HasDelta bool
	// Theta and LR are the threshold and learning rate after the observation.
	Theta float64
	LR    float64
	// Armed reports whether a drop is pending after the observation.
	Armed bool
	// Left is the number of observations before the pending drop fires
	// (0 when not armed).
	Left int
	// Dropped reports whether the learning rate was dropped at this
	// observation.
	Dropped bool
	// Averaged reports whether the tail average was written back into the
	// caller's parameters at this observation.
	Averaged bool
}

// String formats r on one line, for logs.
func (r Record) String() string {
	s := fmt.Sprintf("epoch %d", r.Epoch)
	if r.HasAngle {
		s += fmt.Sprintf(" angle %.6f", r.Angle)
	}
	if r.HasDelta {
		s += fmt.Sprintf(" delta %.6f", r.Delta)
	}
	s += fmt.Sprintf(" theta %g lr %g", r.Theta, r.LR)
	if r.Armed {
		s += fmt.Sprintf(" armed (drop in %d)", r.Left)
	}
	if r.Dropped {
		s += " DROPPED"
	}
	if r.Averaged {
		s += " tail-averaged"
	}
	return s
}

// LogValue implements slog.LogValuer.
func (r Record) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, 9)
	attrs = append(attrs, slog.Int("epoch", r.Epoch))
	if r.HasAngle {
		attrs = append(attrs, slog.Float64("angle", r.Angle))
	}
	if r.HasDelta {
		attrs = append(attrs, slog.Float64("delta", r.Delta))
	}
	attrs = append(attrs,
		slog.Float64("theta", r.Theta),
		slog.Float64("lr", r.LR),
		slog.Bool("armed", r.Armed),
		slog.Int("left", r.Left),
		slog.Bool("dropped", r.Dropped),
		slog.Bool("averaged", r.Averaged),
	)
	return slog.GroupValue(attrs...)
}
