package config

import "time"

// PreGate tunes the pre-decode gate (package pregate, issue 18): per access unit it reads the coded
// size and slice QP, keeps the GOP since the last IDR undecoded while the camera shows nothing, and
// decodes the buffered GOP when the bitstream shows motion. A stream it cannot trust (no IDR, a GOP
// longer than the buffer, a corrupt slice header) is decoded in full, with the reason counted.
type PreGate struct {
	// Enabled turns the pre-gate on for every camera. It defaults to true.
	Enabled *bool `yaml:"enabled" json:"enabled,omitempty"`
	// BufferBytes bounds each camera's GOP buffer, 64 KiB..256 MiB; a longer GOP falls back to plain
	// decoding. It defaults to 4 MiB (a 2 s GOP at 16 Mbit/s).
	BufferBytes int `yaml:"buffer_bytes" json:"buffer_bytes,omitempty"`
	// MaxIDRInterval is how long a stream may go without an IDR before the camera falls back to plain
	// decoding, 1s..10m. It defaults to 10s.
	MaxIDRInterval Duration `yaml:"max_idr_interval" json:"max_idr_interval,omitempty"`
	// Hold keeps the decoder running at least this long after the last motion picture, 0..1h. It
	// defaults to 2s.
	Hold Duration `yaml:"hold" json:"hold,omitempty"`
	// WakeMargin is how far above the learned floor, in log2 units of bits x quantiser step, a
	// picture must be to count as motion, in (0, 8]. It defaults to 0.25.
	WakeMargin float64 `yaml:"wake_margin" json:"wake_margin,omitempty"`
	// KeyframeEvery decodes every n-th keyframe while a camera sleeps and wakes it when the mean luma
	// moved by LumaShift grey levels (a light, tamper): 1..1000, or -1 for no check. It defaults to 1
	// (every GOP).
	KeyframeEvery int `yaml:"keyframe_every" json:"keyframe_every,omitempty"`
	// LumaShift is the keyframe check's wake threshold in grey levels, in (0, 255]. It defaults to 12,
	// the pixel gate's exposure rule.
	LumaShift float64 `yaml:"luma_shift" json:"luma_shift,omitempty"`
}

// PreGate defaults and bounds.
const (
	DefaultPreGateBufferBytes = 4 << 20
	DefaultPreGateMaxIDR      = 10 * time.Second
	DefaultPreGateHold        = 2 * time.Second
	DefaultPreGateWakeMargin  = 0.25
	DefaultPreGateLumaShift   = 12.0

	minPreGateBuffer = 64 << 10
	maxPreGateBuffer = 256 << 20
)

// IsEnabled reports whether the pre-gate is on (nil means on).
func (g PreGate) IsEnabled() bool { return g.Enabled == nil || *g.Enabled }

// DefaultPreGate returns the pre-gate defaults.
func DefaultPreGate() PreGate {
	g := PreGate{}
	g.applyDefaults()
	return g
}

// WithDefaults returns g with its zero fields set to the defaults.
func (g PreGate) WithDefaults() PreGate {
	g.applyDefaults()
	return g
}

func (g *PreGate) applyDefaults() {
	if g.Enabled == nil {
		t := true
		g.Enabled = &t
	}
	if g.BufferBytes == 0 {
		g.BufferBytes = DefaultPreGateBufferBytes
	}
	if g.MaxIDRInterval == 0 {
		g.MaxIDRInterval = Duration(DefaultPreGateMaxIDR)
	}
	if g.Hold == 0 {
		g.Hold = Duration(DefaultPreGateHold)
	}
	setF(&g.WakeMargin, DefaultPreGateWakeMargin)
	if g.KeyframeEvery == 0 {
		g.KeyframeEvery = 1
	}
	setF(&g.LumaShift, DefaultPreGateLumaShift)
}

func (g PreGate) validate(p *problems) {
	if g.BufferBytes < minPreGateBuffer || g.BufferBytes > maxPreGateBuffer {
		p.bad("pregate.buffer_bytes", "must be %d..%d (64 KiB..256 MiB), not %d", minPreGateBuffer, maxPreGateBuffer, g.BufferBytes)
	}
	if d := g.MaxIDRInterval.D(); d < time.Second || d > 10*time.Minute {
		p.bad("pregate.max_idr_interval", "must be 1s..10m, not %v", d)
	}
	if d := g.Hold.D(); d < 0 || d > time.Hour {
		p.bad("pregate.hold", "must be 0..1h, not %v", d)
	}
	if !(g.WakeMargin > 0 && g.WakeMargin <= 8) {
		p.bad("pregate.wake_margin", "must be in (0, 8], not %g", g.WakeMargin)
	}
	if g.KeyframeEvery != -1 && (g.KeyframeEvery < 1 || g.KeyframeEvery > 1000) {
		p.bad("pregate.keyframe_every", "must be 1..1000, or -1 for no keyframe check, not %d", g.KeyframeEvery)
	}
	if !(g.LumaShift > 0 && g.LumaShift <= 255) {
		p.bad("pregate.luma_shift", "must be in (0, 255], not %g", g.LumaShift)
	}
}
