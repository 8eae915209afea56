package config

import (
	"fmt"
	"time"
)

// Gate tunes the motion gate (pipeline.Gate). In a camera's gate section a zero field means "inherit
// the top-level gate".
type Gate struct {
	// Enabled turns the gate on; when off every clip goes to inference. It defaults to true.
	Enabled *bool `yaml:"enabled" json:"enabled,omitempty"`
	// Alpha is the weight of a new idle frame in the noise-floor moving average, in (0, 1]. It defaults
	// to 0.05.
	Alpha float64 `yaml:"alpha" json:"alpha,omitempty"`
	// ActiveAlpha is the (slower) weight used while the gate is open, so a lasting change of scene
	// (rain, a light switched on) becomes the new floor. It defaults to Alpha/20.
	ActiveAlpha float64 `yaml:"active_alpha" json:"active_alpha,omitempty"`
	// OnFactor opens the gate when a frame's energy exceeds OnFactor x floor. It defaults to 3.
	OnFactor float64 `yaml:"on_factor" json:"on_factor,omitempty"`
	// OffFactor lets the gate close once energy falls below OffFactor x floor (hysteresis); it must not
	// exceed OnFactor. It defaults to 1.5.
	OffFactor float64 `yaml:"off_factor" json:"off_factor,omitempty"`
	// MinFloor is the smallest noise floor, so a perfectly still scene does not open on noise.
	// It defaults to 0.05.
	MinFloor float64 `yaml:"min_floor" json:"min_floor,omitempty"`
	// ResidualWeight weighs residual energy against MV energy. It defaults to 1.
	ResidualWeight float64 `yaml:"residual_weight" json:"residual_weight,omitempty"`
	// MinHold keeps the gate open at least this long after the last energetic frame, 0..1h. It defaults
	// to 2s.
	MinHold Duration `yaml:"min_hold" json:"min_hold,omitempty"`
}

// maxMinHold bounds gate.min_hold.
const maxMinHold = time.Hour

// IsEnabled reports whether the gate is on (nil means on).
func (g Gate) IsEnabled() bool { return g.Enabled == nil || *g.Enabled }

// DefaultGate returns the gate defaults.
func DefaultGate() Gate {
	t := true
	return Gate{Enabled: &t, Alpha: 0.05, ActiveAlpha: 0.05 / 20, OnFactor: 3, OffFactor: 1.5,
		MinFloor: 0.05, ResidualWeight: 1, MinHold: Duration(2 * time.Second)}
}

// WithDefaults returns g with its zero fields filled from base; ActiveAlpha follows g's own Alpha when
// g sets one.
func (g Gate) WithDefaults(base Gate) Gate {
	if g.Enabled == nil && base.Enabled != nil {
		v := *base.Enabled
		g.Enabled = &v
	}
	ownAlpha := g.Alpha != 0
	setF(&g.Alpha, base.Alpha)
	if g.ActiveAlpha == 0 {
		g.ActiveAlpha = base.ActiveAlpha
		if ownAlpha || g.ActiveAlpha == 0 {
			g.ActiveAlpha = g.Alpha / 20
		}
	}
	setF(&g.OnFactor, base.OnFactor)
	setF(&g.OffFactor, base.OffFactor)
	setF(&g.MinFloor, base.MinFloor)
	setF(&g.ResidualWeight, base.ResidualWeight)
	if g.MinHold == 0 {
		g.MinHold = base.MinHold
	}
	return g
}

// problems validates a gate whose defaults have been applied. Field names are YAML keys.
func (g Gate) problems() []fieldProblem {
	var out []fieldProblem
	add := func(f, format string, a ...any) { out = append(out, fieldProblem{f, fmt.Sprintf(format, a...)}) }
	if !(g.Alpha > 0 && g.Alpha <= 1) {
		add("alpha", "must be in (0, 1], not %g", g.Alpha)
	}
	if !(g.ActiveAlpha >= 0 && g.ActiveAlpha <= 1) {
		add("active_alpha", "must be in [0, 1], not %g", g.ActiveAlpha)
	}
	if !(g.OffFactor >= 1) || g.OffFactor > 1e6 {
		add("off_factor", "must be at least 1, not %g", g.OffFactor)
	}
	if !(g.OnFactor >= g.OffFactor) || g.OnFactor > 1e6 {
		add("on_factor", "must be at least off_factor (%g), not %g", g.OffFactor, g.OnFactor)
	}
	if !(g.MinFloor >= 0) || g.MinFloor > 1e12 {
		add("min_floor", "must be a non-negative number, not %g", g.MinFloor)
	}
	if !(g.ResidualWeight >= 0) || g.ResidualWeight > 1e6 {
		add("residual_weight", "must be a non-negative number, not %g", g.ResidualWeight)
	}
	if g.MinHold < 0 {
		add("min_hold", "must not be negative")
	} else if g.MinHold.D() > maxMinHold {
		add("min_hold", "must be at most %v, not %v", maxMinHold, g.MinHold)
	}
	return out
}
