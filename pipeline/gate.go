package pipeline

import (
	"math"
	"time"

	"github.com/mvwatch/mvwatch/internal/config"
)

// gateConfirmClips is how many consecutive clips the model must call idle before the gate takes their
// energy as the noise floor (about a second at 15 fps with 8-frame clips).
const gateConfirmClips = 2

// gateRaiseClips is how many consecutive clips the model must call idle before the floor may rise to
// their energy (a lasting change of the scene's noise: about 3 s with 8-frame clips at 15 fps). A
// floor may fall after gateConfirmClips.
const gateRaiseClips = 6

// gateSmooth is how many frames the energy is averaged over to decide whether an open gate stays open:
// sensor noise averages out, motion does not.
const gateSmooth = 15

// gateMaxRise is how fast, relative to itself, the floor of a closed gate may rise: 2% a second, which
// tracks a noise level that drifts up by half in a minute but lets motion too weak to open the gate
// lift the floor by no more than 2% for each second it lasts.
const gateMaxRise = 0.02

// gateHistory is how many recent frames' energies the gate keeps to learn a floor from confirmed clips.
// It covers the inference latency of a few clips at 30 fps.
const gateHistory = 256

// GateDecision is the motion gate's verdict on one frame.
type GateDecision struct {
	// Pass is true when the frame belongs to a scene that goes to inference.
	Pass bool
	// Changed is true when Pass differs from the previous frame's.
	Changed bool
	// Energy is the frame's combined energy: MV energy + ResidualWeight x residual energy.
	Energy float64
	// Floor is the noise floor after this frame; 0 while no floor is learnt yet.
	Floor float64
	// SkipRatio is the fraction of frames skipped so far.
	SkipRatio float64
}

// gateSample is one observed frame in the gate's history.
type gateSample struct {
	pts    time.Duration
	energy float64
}

// Gate is the motion gate of one camera: dynamic execution at the stream level. Each frame's
// motion-vector and residual energy is compared with a noise floor, the mean energy of idle frames. The
// gate opens when a frame's energy exceeds OnFactor x floor, stays open while the mean energy of the last
// gateSmooth frames exceeds OffFactor x floor (hysteresis) and for at least MinHold after the last such
// frame, and closes only once the model has called the latest clip idle (Confirm): an object that moves
// too slowly to stand out of the noise keeps the gate open as long as the model still sees it.
//
// The floor never learns from motion, because a floor learnt from motion leaves the gate deaf:
//
//   - It starts unknown and the gate open: every frame goes to the model until the model calls
//     gateConfirmClips consecutive clips idle with steady energy (Confirm); their mean energy becomes
//     the floor. A camera that is mid-event when it starts is analysed until the event is over.
//   - While the gate is open the floor does not move on its own (no learning during long activity, a pan
//     or a scene change). Only clips the model confirms idle set it: it falls to quieter confirmed idle
//     at once, and a lasting change of the scene's noise (rain, a light switched on, the camera moved to
//     a noisier view) becomes the new floor once the model has called gateRaiseClips clips of steady
//     energy in a row idle; the gate then closes.
//   - While the gate is closed the floor follows the smoothed energy (the mean of the last gateSmooth
//     frames) at Alpha, capped at OffFactor x floor, down at once and up by at most gateMaxRise a second:
//     slow drift is tracked, and motion too weak to open the gate barely lifts it.
//
// A Gate is pure logic and not safe for concurrent use: one per camera goroutine. Observe and Confirm
// must be called from that goroutine.
type Gate struct {
	cfg     config.Gate
	floor   float64
	learnt  bool // floor is known
	open    bool
	last    bool
	hold    time.Duration // open at least until this PTS
	lastPTS time.Duration
	frames  uint64
	skipped uint64

	hist      []gateSample // ring of the last gateHistory frames
	histNext  int
	lastIdle  bool    // the model called the latest clip idle (since the gate last opened)
	idleRun   int     // consecutive clips confirmed idle since the gate last skipped a frame
	runMin    float64 // the lowest and highest clip mean energy of the run
	runMax    float64
	pairSum   float64 // the last idle clip's frame energies: sum and count
	pairN     int
	recent    [gateSmooth]float64
	recentN   int
	recentSum float64
}

// NewGate returns a gate; zero fields of cfg take DefaultGateConfig's values.
func NewGate(cfg config.Gate) *Gate {
	return &Gate{cfg: cfg.WithDefaults(config.DefaultGate()), last: true, open: true, hist: make([]gateSample, 0, gateHistory)}
}

// Observe feeds one frame: its presentation time and its MV and residual energies (any non-negative
// scale, as long as it is the same for every frame of the camera). NaN or infinite energy passes.
func (g *Gate) Observe(pts time.Duration, mvEnergy, residualEnergy float64) GateDecision {
	e := mvEnergy + g.cfg.ResidualWeight*residualEnergy
	bad := math.IsNaN(e) || math.IsInf(e, 0)
	if !bad {
		e = max(e, 0)
	}
	dt := pts - g.lastPTS
	if pts < g.lastPTS {
		// The stream restarted: keep the hold relative to the new clock; old samples name old times.
		if g.open {
			g.hold = pts + g.cfg.MinHold.D()
		}
		g.hist, g.histNext, g.idleRun = g.hist[:0], 0, 0
	}
	g.lastPTS = pts
	g.frames++
	if !bad {
		g.remember(pts, e)
	}
	smooth := g.smooth(e, bad)

	pass := false
	switch {
	case !g.cfg.IsEnabled() || bad:
		pass = true
	case !g.learnt:
		pass, g.open = true, true
		g.hold = pts + g.cfg.MinHold.D()
	default:
		floor := max(g.floor, g.cfg.MinFloor)
		on, off := floor*g.cfg.OnFactor, floor*g.cfg.OffFactor
		switch {
		case e > on || (g.open && smooth > off):
			if !g.open {
				g.lastIdle = false // closing again takes a fresh idle verdict
			}
			g.open = true
			g.hold = pts + g.cfg.MinHold.D()
		case g.open && pts > g.hold && g.lastIdle:
			g.open = false
		}
		if !g.open {
			next := floor + g.cfg.Alpha*(min(smooth, off)-floor)
			if next > floor {
				next = min(next, floor*(1+gateMaxRise*max(dt, 0).Seconds()))
			}
			g.floor = max(next, g.cfg.MinFloor)
		}
		pass = g.open
	}
	if !pass {
		g.skipped++
		g.idleRun = 0
	}
	d := GateDecision{Pass: pass, Changed: pass != g.last, Energy: e, Floor: g.Floor(), SkipRatio: g.SkipRatio()}
	g.last = pass
	return d
}

// Confirm takes the model's verdict on the clip whose frames span [first, last] (PTS, inclusive): idle
// is true when the model called it idle; any other verdict, or a skipped frame, restarts the count of
// consecutive idle clips. Only steady energy counts (the run's clip means within OffFactor of each
// other): an object that moves slowly enough for the model to call a clip idle varies, noise does not.
//
//   - After gateConfirmClips steady idle clips the mean energy of the last ones becomes the floor if
//     no floor is learnt yet or if it is lower than the floor.
//   - After gateRaiseClips steady idle clips the floor may also rise, to the lowest clip mean of the run
//     and at most to twice the old floor at once: a lasting change (rain, a light switched on) that the
//     model has seen is no event.
//
// Frames no longer in the gate's history are ignored.
func (g *Gate) Confirm(first, last time.Duration, idle bool) {
	if !idle {
		g.idleRun, g.lastIdle = 0, false
		return
	}
	var sum float64
	n := 0
	for _, s := range g.hist {
		if s.pts >= first && s.pts <= last {
			sum += s.energy
			n++
		}
	}
	if n == 0 {
		return
	}
	g.lastIdle = true
	m := sum / float64(n)
	if g.idleRun > 0 && (max(m, g.runMax) > g.cfg.OffFactor*min(m, g.runMin)+g.cfg.MinFloor) {
		g.idleRun = 0 // not steady: the run starts again at this clip
	}
	if g.idleRun == 0 {
		g.runMin, g.runMax = m, m
		g.pairSum, g.pairN = 0, 0
	}
	g.runMin, g.runMax = min(g.runMin, m), max(g.runMax, m)
	g.idleRun++
	pair := (g.pairSum + sum) / float64(g.pairN+n) // this clip and the one before
	g.pairSum, g.pairN = sum, n
	if g.idleRun < gateConfirmClips {
		return
	}
	pair = max(pair, g.cfg.MinFloor)
	switch {
	case !g.learnt:
		// The bootstrap is over: let the gate close as soon as the energy is quiet.
		g.floor, g.learnt, g.hold = pair, true, g.lastPTS
	case pair <= g.floor:
		g.floor = pair
	case g.idleRun >= gateRaiseClips:
		g.floor = min(max(g.runMin, g.floor), 2*max(g.floor, g.cfg.MinFloor))
	}
}

// smooth returns the mean energy of the last gateSmooth frames including e (bad frames count as 0).
func (g *Gate) smooth(e float64, bad bool) float64 {
	if bad {
		e = 0
	}
	i := g.recentN % gateSmooth
	g.recentSum += e - g.recent[i]
	g.recent[i] = e
	g.recentN++
	return g.recentSum / float64(min(g.recentN, gateSmooth))
}

// remember adds a frame to the history ring.
func (g *Gate) remember(pts time.Duration, e float64) {
	if len(g.hist) < gateHistory {
		g.hist = append(g.hist, gateSample{pts, e})
		return
	}
	g.hist[g.histNext] = gateSample{pts, e}
	g.histNext = (g.histNext + 1) % gateHistory
}

// Floor returns the noise floor, 0 while none is learnt.
func (g *Gate) Floor() float64 {
	if !g.learnt {
		return 0
	}
	return g.floor
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
