package pipeline

import (
	"math"
	"sort"
	"time"

	"github.com/mvwatch/mvwatch/internal/config"
)

// gateWarmupFrames is how many frames the gate passes while it learns the initial noise floor.
const gateWarmupFrames = 15

// GateDecision is the motion gate's verdict on one frame.
type GateDecision struct {
	// Pass is true when the frame belongs to a scene that goes to inference.
	Pass bool
	// Changed is true when Pass differs from the previous frame's.
	Changed bool
	// Energy is the frame's combined energy: MV energy + ResidualWeight x residual energy.
	Energy float64
	// Floor is the noise floor after this frame.
	Floor float64
	// SkipRatio is the fraction of frames skipped so far.
	SkipRatio float64
}

// Gate is the motion gate of one camera: dynamic execution at the stream level. Each frame's
// motion-vector and residual energy is compared with an adaptive noise floor, the exponential moving
// average of idle energy. The gate opens when energy exceeds OnFactor x floor, stays open while it
// exceeds OffFactor x floor (hysteresis) and for at least MinHold after the last such frame, then closes.
// While open the floor adapts only at ActiveAlpha, so a lasting change of scene becomes the new floor.
// The first frames (a short warm-up) pass while the floor is learnt from their median.
// A Gate is pure logic and not safe for concurrent use: one per camera goroutine.
type Gate struct {
	cfg     config.Gate
	floor   float64
	open    bool
	last    bool
	hold    time.Duration // open at least until this PTS
	lastPTS time.Duration
	warm    []float64
	warmed  bool
	frames  uint64
	skipped uint64
}

// NewGate returns a gate; zero fields of cfg take DefaultGateConfig's values.
func NewGate(cfg config.Gate) *Gate {
	return &Gate{cfg: cfg.WithDefaults(config.DefaultGate()), last: true}
}

// Observe feeds one frame: its presentation time and its MV and residual energies (any non-negative
// scale, as long as it is the same for every frame of the camera). NaN or infinite energy passes.
func (g *Gate) Observe(pts time.Duration, mvEnergy, residualEnergy float64) GateDecision {
	e := mvEnergy + g.cfg.ResidualWeight*residualEnergy
	bad := math.IsNaN(e) || math.IsInf(e, 0)
	if !bad {
		e = max(e, 0)
	}
	if pts < g.lastPTS && g.open {
		g.hold = pts + g.cfg.MinHold.D() // the stream restarted: keep the hold relative to it
	}
	g.lastPTS = pts
	g.frames++

	pass := false
	switch {
	case !g.cfg.IsEnabled() || bad:
		pass = true
	case !g.warmed:
		pass = true
		g.warm = append(g.warm, e)
		if len(g.warm) == gateWarmupFrames {
			g.floor = max(median(g.warm), g.cfg.MinFloor)
			g.warm, g.warmed = nil, true
		}
	default:
		floor := max(g.floor, g.cfg.MinFloor)
		on, off := floor*g.cfg.OnFactor, floor*g.cfg.OffFactor
		switch {
		case e > on || (g.open && e > off):
			g.open = true
			g.hold = pts + g.cfg.MinHold.D()
		case g.open && pts > g.hold:
			g.open = false
		}
		a := g.cfg.Alpha
		if g.open {
			a = g.cfg.ActiveAlpha
		}
		g.floor = max(floor+a*(e-floor), g.cfg.MinFloor)
		pass = g.open
	}
	if !pass {
		g.skipped++
	}
	d := GateDecision{Pass: pass, Changed: pass != g.last, Energy: e, Floor: g.floor, SkipRatio: g.SkipRatio()}
	g.last = pass
	return d
}

// Open reports whether the last frame passed.
func (g *Gate) Open() bool { return g.last && g.frames > 0 }

// SkipRatio returns the fraction of observed frames the gate skipped.
func (g *Gate) SkipRatio() float64 {
	if g.frames == 0 {
		return 0
	}
	return float64(g.skipped) / float64(g.frames)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
