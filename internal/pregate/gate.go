package pregate

import (
	"math"
	"sort"
	"time"
)

// GateConfig tunes the complexity gate. Zero fields take their defaults.
type GateConfig struct {
	// WakeMargin is how far above the learned floor, in log2 units of complexity, a picture must
	// be to count as motion. It defaults to 0.25 (1.19x the floor).
	WakeMargin float64
	// WakeDeviations widens the wake threshold on noisy scenes: a picture is motion only above
	// floor + max(WakeMargin, WakeDeviations * the floor's mean absolute deviation). It defaults
	// to 4.
	WakeDeviations float64
	// SleepMargin and SleepDeviations set the lower, quiet threshold in the same way (hysteresis:
	// a picture between the two thresholds neither wakes nor lets the gate sleep). They default to
	// 0.12 and 2.
	SleepMargin     float64
	SleepDeviations float64
	// WakeFrames is how many consecutive motion pictures wake a sleeping gate. It defaults to 2;
	// the GOP buffer replays the pictures before the wake-up, so a later wake loses no frame.
	WakeFrames int
	// QuietFrames is how many consecutive quiet pictures an awake gate needs before it may sleep.
	// It defaults to 8.
	QuietFrames int
	// Hold is the minimum time the gate stays awake after the last motion picture. It defaults to
	// 2 seconds.
	Hold time.Duration
	// Warmup is how long the gate watches each picture type before it trusts that type's floor
	// (the median and median absolute deviation of the levels seen, so motion in less than half
	// of the warm-up does not raise it). Until the floor of the type at hand is ready the gate
	// stays awake. It defaults to 3 seconds.
	Warmup time.Duration
	// WarmupFrames is the fewest pictures of a type the warm-up needs, however long it took. It
	// defaults to 3.
	WarmupFrames int
	// Window is how many recent pictures of the same type the gate averages (bits x quantiser
	// step, in the linear domain) before comparing with the floor. CBR rate control moves bits
	// between neighbouring pictures, so a single picture says little there; a large jump (VBR, CRF)
	// still shows at the first picture. It defaults to 4; 1 compares single pictures.
	Window int
	// IntraMotion lets I pictures wake the gate and hold it awake. An I picture codes the whole
	// scene, so its level follows what is in view (a parked car, the light) rather than what
	// moves; by default I pictures only learn their floor and are otherwise neutral, and a change
	// that only they show is the keyframe check's job (see the package documentation).
	IntraMotion bool
	// LearnDown and LearnUp are the weights with which a quiet picture moves the floor down or up
	// (quiet: below the sleep threshold, or below the wake threshold while asleep; no other
	// picture teaches the floor, so motion never does). They default to 0.05 and 0.03.
	LearnDown float64
	LearnUp   float64
}

func (c GateConfig) withDefaults() GateConfig {
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.WakeMargin, 0.25)
	def(&c.WakeDeviations, 4)
	def(&c.SleepMargin, 0.12)
	def(&c.SleepDeviations, 2)
	def(&c.LearnDown, 0.05)
	def(&c.LearnUp, 0.03)
	if c.WakeFrames <= 0 {
		c.WakeFrames = 2
	}
	if c.QuietFrames <= 0 {
		c.QuietFrames = 8
	}
	if c.Hold <= 0 {
		c.Hold = 2 * time.Second
	}
	if c.Warmup <= 0 {
		c.Warmup = 3 * time.Second
	}
	if c.WarmupFrames <= 0 {
		c.WarmupFrames = 3
	}
	if c.Window <= 0 {
		c.Window = 4
	}
	return c
}

// ComplexityBase is the complexity per 16x16 block that Complexity adds to every picture: the
// level below which differences are noise (a near-empty picture of 15 or 40 bytes differs 2.7x
// in size and not at all in content).
const ComplexityBase = 16

// Complexity returns log2(ComplexityBase + bits x quantiser step per 16x16 luma block) of a
// picture, with the quantiser step 2^((QP-4)/6) (it doubles every 6 QP). Rate control hides
// motion in the size (CBR) or in the QP (VBR, CRF); the product moves with the content under
// either. Pictures of unknown area count as 1280x720.
func Complexity(p Picture) float64 {
	if p.Bytes <= 0 {
		return 0
	}
	blocks := float64(p.LumaSamples) / 256
	if blocks <= 0 {
		blocks = 3600
	}
	return math.Log2(ComplexityBase + float64(8*p.Bytes)*math.Exp2((p.QP-4)/6)/blocks)
}

// floor is the learned quiet level of one picture type, in log2 complexity.
type floor struct {
	recent []float64 // the last Window linear complexities, a ring
	next   int
	warm   []float64 // warm-up samples; nil once ready
	first  time.Duration
	ready  bool
	mean   float64
	dev    float64
}

// level adds a picture's log2 complexity to the type's window and returns the log2 of the window's
// linear mean.
func (f *floor) level(x float64, window int) float64 {
	v := math.Exp2(x)
	if len(f.recent) < window {
		f.recent = append(f.recent, v)
	} else {
		f.recent[f.next] = v
		f.next = (f.next + 1) % window
	}
	sum := 0.0
	for _, r := range f.recent {
		sum += r
	}
	return math.Log2(sum / float64(len(f.recent)))
}

// learn moves the floor toward a quiet level: fast down, slowly up.
func (f *floor) learn(x float64, cfg GateConfig) {
	w := cfg.LearnUp
	if x < f.mean {
		w = cfg.LearnDown
	}
	f.mean += w * (x - f.mean)
	f.dev += w * (math.Abs(x-f.mean) - f.dev)
}

// Decision is the gate's verdict on one picture.
type Decision struct {
	// Awake is the gate state after this picture.
	Awake bool
	// Changed is true when this picture changed the state.
	Changed bool
	// Motion is true when the picture was above the wake threshold.
	Motion bool
	// Complexity is the picture's log2 complexity and Level the log2 of the windowed mean of its
	// type that the gate compares; Floor and WakeThreshold are the floor and wake threshold of
	// its type (zero while that type warms up).
	Complexity    float64
	Level         float64
	Floor         float64
	WakeThreshold float64
}

// Gate decides per picture whether a camera's decoder should run. It starts awake and sleeps
// once its floors have warmed up and the scene is quiet. Not safe for concurrent use.
type Gate struct {
	cfg        GateConfig
	floors     [numPictureTypes]floor
	awake      bool
	motionRun  int
	quietRun   int
	lastMotion time.Duration
	everMotion bool
	wakeUps    uint64
}

// NewGate returns an awake gate with no learned floor.
func NewGate(cfg GateConfig) *Gate {
	return &Gate{cfg: cfg.withDefaults(), awake: true}
}

// Reset forgets the learned floors and wakes the gate, as at start. A worker calls it when the
// scene changed for good (its decoded-domain gate has seen a static scene for long while the
// pre-gate stays awake), so the floor is learned again.
func (g *Gate) Reset() {
	*g = Gate{cfg: g.cfg, awake: true, wakeUps: g.wakeUps}
}

// Awake reports the gate state.
func (g *Gate) Awake() bool { return g.awake }

// WakeUps is the number of asleep-to-awake transitions so far.
func (g *Gate) WakeUps() uint64 { return g.wakeUps }

// Wake forces the gate awake (a fallback) without counting a wake-up from motion; the next quiet
// pictures put it to sleep again as usual.
func (g *Gate) Wake(pts time.Duration) {
	g.awake = true
	g.quietRun = 0
	g.motionRun = 0
	g.lastMotion = pts
	g.everMotion = true
}

// Observe feeds one picture with its presentation time (increasing) and returns the decision.
func (g *Gate) Observe(p Picture, pts time.Duration) Decision {
	x := Complexity(p)
	d := Decision{Complexity: x}
	if p.Type == PictureUnknown || p.Bytes <= 0 {
		d.Awake = g.awake
		return d
	}
	f := &g.floors[p.Type]
	x = f.level(x, g.cfg.Window)
	d.Level = x
	if !f.ready {
		if len(f.warm) == 0 {
			f.first = pts
		}
		f.warm = append(f.warm, x)
		if len(f.warm) >= g.cfg.WarmupFrames && pts-f.first >= g.cfg.Warmup {
			f.mean, f.dev = medianAndMAD(f.warm)
			f.warm, f.ready = nil, true
		}
		// A type without a floor says nothing: it neither wakes the gate nor counts as quiet.
		d.Awake = g.awake
		return d
	}
	wakeT := f.mean + math.Max(g.cfg.WakeMargin, g.cfg.WakeDeviations*f.dev)
	sleepT := f.mean + math.Max(g.cfg.SleepMargin, g.cfg.SleepDeviations*f.dev)
	d.Floor, d.WakeThreshold = f.mean, wakeT
	d.Motion = x > wakeT
	quiet := x < sleepT
	// Learn only when quiet: from pictures below the sleep threshold, and while asleep also from
	// those between the thresholds (which is how the floor follows a slow drift of the encoder).
	// A motion picture never teaches the floor.
	learn := quiet || (!g.awake && !d.Motion)
	if p.Type == PictureI && !g.cfg.IntraMotion {
		if learn {
			f.learn(x, g.cfg)
		}
		d.Motion = false
		d.Awake = g.awake
		return d
	}
	if learn {
		f.learn(x, g.cfg)
	}
	if d.Motion {
		g.motionRun++
		g.quietRun = 0
		g.lastMotion, g.everMotion = pts, true
	} else {
		g.motionRun = 0
		if quiet {
			g.quietRun++
		} else {
			g.quietRun = 0
		}
	}
	switch {
	case !g.awake && g.motionRun >= g.cfg.WakeFrames:
		g.awake, d.Changed = true, true
		g.wakeUps++
		g.quietRun = 0
	case g.awake && g.quietRun >= g.cfg.QuietFrames && (!g.everMotion || pts-g.lastMotion >= g.cfg.Hold):
		g.awake, d.Changed = false, true
		g.motionRun = 0
	}
	d.Awake = g.awake
	return d
}

// medianAndMAD returns the median of xs and the median absolute deviation from it.
func medianAndMAD(xs []float64) (float64, float64) {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	med := s[len(s)/2]
	for i, x := range s {
		s[i] = math.Abs(x - med)
	}
	sort.Float64s(s)
	return med, s[len(s)/2]
}
