package autodrop

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
)

// DefaultEpsilon is the epsilon added to the product of the step norms in the
// cosine, as in the reference code. Config.Epsilon = 0 selects it.
const DefaultEpsilon = 1e-8

// Limits on configuration values that would otherwise make the scheduler
// allocate without bound.
const (
	// MaxWindow is the largest accepted Config.Window.
	MaxWindow = 1 << 20
	// MaxPatience is the largest accepted Config.Patience.
	MaxPatience = 1 << 30
)

// Config holds the hyperparameters of AutoDrop. The zero value of each field is
// documented; LR and DropFactor have no usable zero value and must be set.
// CIFAR and ImageNet return the authors' settings.
type Config struct {
	// LR is the initial learning rate. Required: finite and > 0, and not
	// below MinLR.
	LR float64 `json:"lr"`

	// DropFactor (rho in the paper) multiplies the learning rate at each
	// drop. Required: 0 < DropFactor < 1.
	DropFactor float64 `json:"drop_factor"`

	// Theta is the saturation threshold in degrees: the drop is armed when the
	// change of the angular velocity satisfies |delta| < Theta (strict). Zero
	// is valid and never arms. Must be finite and >= 0.
	Theta float64 `json:"theta"`

	// MaxTheta caps Theta when AutoTheta raises it. Zero means no cap. Must be
	// finite and >= 0; with AutoTheta on and a cap set, Theta must not
	// exceed it (the reference would lower Theta at the first drop).
	MaxTheta float64 `json:"max_theta"`

	// MinLR is the floor for the learning rate at a drop. Zero means no floor.
	// Must be finite, >= 0 and <= LR.
	MinLR float64 `json:"min_lr"`

	// Patience is the number of observations between arming and the drop:
	// the drop fires Patience observations after the one that armed it
	// (the reference's "extra epochs" E is Patience+1). Zero fires at the
	// arming observation. Must be in [0, MaxPatience].
	Patience int `json:"patience"`

	// AutoTheta turns on theta adaptation: at each drop
	// Theta <- min(MaxTheta, Theta/DropFactor). Off by default.
	AutoTheta bool `json:"auto_theta"`

	// TailAverage turns on tail averaging: while armed, the observed
	// parameters are accumulated with weights 1..Patience+1 (newest heaviest)
	// and their weighted average is written back into the caller's
	// parameters when the drop fires. Off by default.
	TailAverage bool `json:"tail_average"`

	// Window is the number of recent deltas averaged before the test:
	// (omega_t - omega_{t-Window}) / Window. Zero means 1, the reference
	// behaviour. Must be in [0, MaxWindow].
	Window int `json:"window"`

	// Epsilon is added to the product of the step norms in the cosine.
	// Zero means DefaultEpsilon (1e-8). Must be finite and >= 0.
	Epsilon float64 `json:"epsilon"`

	// OnRecord, if set, is called with the decision record of every
	// successful observation.
	OnRecord func(Record) `json:"-"`

	// Logger, if set, receives one structured log entry per successful
	// observation (level Info for drops, Debug otherwise).
	Logger *slog.Logger `json:"-"`
}

// CIFAR returns the settings of the authors' CIFAR scripts: lr 0.1 (their
// WideResNet script; the ResNet script uses 0.05), drop factor 0.2, theta 0.01
// degrees with adaptation capped at 1.0, min lr 1e-4, 20 extra epochs
// (Patience 19), tail averaging on, window 1.
func CIFAR() Config {
	return Config{
		LR:          0.1,
		DropFactor:  0.2,
		Theta:       0.01,
		MaxTheta:    1.0,
		MinLR:       1e-4,
		Patience:    19,
		AutoTheta:   true,
		TailAverage: true,
		Window:      1,
		Epsilon:     DefaultEpsilon,
	}
}

// ImageNet returns the settings of the authors' ImageNet script: as CIFAR but
// with drop factor 0.1 (lr 0.1).
func ImageNet() Config {
	c := CIFAR()
	c.DropFactor = 0.1
	return c
}

// Preset returns the named preset: "cifar" or "imagenet".
func Preset(name string) (Config, error) {
	switch name {
	case "cifar":
		return CIFAR(), nil
	case "imagenet":
		return ImageNet(), nil
	}
	return Config{}, fmt.Errorf("%w: unknown preset %q (valid: cifar, imagenet)", ErrConfig, name)
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("autodrop: invalid config")

// ConfigError reports an invalid configuration field.
type ConfigError struct {
	Field  string  // Go name of the field, e.g. "DropFactor"
	Value  float64 // the rejected value
	Reason string  // what the value must satisfy
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("autodrop: invalid config: %s = %v: %s", e.Field, e.Value, e.Reason)
}

// Unwrap makes errors.Is(err, ErrConfig) true.
func (e *ConfigError) Unwrap() error { return ErrConfig }

// Validate reports the first invalid field of c, or nil.
func (c Config) Validate() error {
	bad := func(field string, v float64, reason string) error {
		return &ConfigError{Field: field, Value: v, Reason: reason}
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case !finite(c.LR) || c.LR <= 0:
		return bad("LR", c.LR, "must be finite and > 0")
	case !finite(c.DropFactor) || c.DropFactor <= 0 || c.DropFactor >= 1:
		return bad("DropFactor", c.DropFactor, "must be in (0, 1)")
	case !finite(c.Theta) || c.Theta < 0:
		return bad("Theta", c.Theta, "must be finite and >= 0 (degrees)")
	case !finite(c.MaxTheta) || c.MaxTheta < 0:
		return bad("MaxTheta", c.MaxTheta, "must be finite and >= 0 (0 means no cap)")
	case c.AutoTheta && c.MaxTheta > 0 && c.Theta > c.MaxTheta:
		return bad("Theta", c.Theta, fmt.Sprintf("exceeds MaxTheta = %v with AutoTheta on (the first drop would lower it)", c.MaxTheta))
	case !finite(c.MinLR) || c.MinLR < 0:
		return bad("MinLR", c.MinLR, "must be finite and >= 0 (0 means no floor)")
	case c.LR < c.MinLR:
		return bad("LR", c.LR, fmt.Sprintf("is below MinLR = %v (the first drop would raise it)", c.MinLR))
	case c.Patience < 0 || c.Patience > MaxPatience:
		return bad("Patience", float64(c.Patience), fmt.Sprintf("must be in [0, %d]", MaxPatience))
	case c.Window < 0 || c.Window > MaxWindow:
		return bad("Window", float64(c.Window), fmt.Sprintf("must be in [0, %d] (0 means 1)", MaxWindow))
	case !finite(c.Epsilon) || c.Epsilon < 0:
		return bad("Epsilon", c.Epsilon, "must be finite and >= 0 (0 means 1e-8)")
	}
	return nil
}

// withDefaults returns c with zero-valued optional fields replaced by their
// defaults.
func (c Config) withDefaults() Config {
	if c.Window == 0 {
		c.Window = 1
	}
	if c.Epsilon == 0 {
		c.Epsilon = DefaultEpsilon
	}
	return c
}
