package pipeline

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/config"
)

const fps = 15

// clipFrames is the clip length the gate tests assume (the shipped model's: 8 frames, stride 8).
const clipFrames = 8

func frameTime(i int) time.Duration { return time.Duration(i) * time.Second / fps }

// model stands in for the classifier: it decides whether the clip of frames [first, last] is idle.
type model func(first, last int) bool

// idleModel calls every clip idle; busyModel none.
func idleModel(int, int) bool { return true }
func busyModel(int, int) bool { return false }

// feed runs n frames of energy e(i) (MV only) through g from frame index *i, returning the decisions.
// Like the processor, it cuts clips of clipFrames frames on a fixed grid and, for every clip with a
// passed frame, hands the verdict of m (nil: no verdicts) back to the gate.
func feed(g *Gate, i *int, n int, e func(i int) float64, m model) []GateDecision {
	out := make([]GateDecision, n)
	for k := range out {
		out[k] = g.Observe(frameTime(*i), e(*i), 0)
		if (*i+1)%clipFrames == 0 && m != nil {
			first := *i + 1 - clipFrames
			passed := false
			for j := max(0, k-clipFrames+1); j <= k; j++ {
				passed = passed || out[j].Pass
			}
			if passed {
				g.Confirm(frameTime(first), frameTime(*i), m(first, *i))
			}
		}
		*i++
	}
	return out
}

func passes(ds []GateDecision) int {
	n := 0
	for _, d := range ds {
		if d.Pass {
			n++
		}
	}
	return n
}

// noiseFn is idle sensor noise of mean about 1.15.
func noiseFn(seed uint64) func(int) float64 {
	rng := rand.New(rand.NewPCG(seed, 2))
	return func(int) float64 { return 1 + 0.3*rng.Float64() }
}

// bootstrap feeds idle noise, confirmed idle, until the gate has learnt its floor and closed.
func bootstrap(t *testing.T, g *Gate, i *int, noise func(int) float64) {
	t.Helper()
	ds := feed(g, i, 4*clipFrames, noise, idleModel)
	require.Equal(t, 2*clipFrames, passes(ds), "the gate is open until the model confirmed two idle clips")
	require.False(t, g.Open())
}

func TestGateScriptedScene(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := noiseFn(1)
	g := NewGate(config.Gate{}) // defaults: on 3x, off 1.5x, hold 2s
	i := 0

	// The gate starts open with no floor; two idle clips set it, then the gate closes.
	boot := feed(g, &i, 2*clipFrames, noise, idleModel)
	require.Equal(t, 2*clipFrames, passes(boot))
	require.Zero(t, boot[0].Floor, "no floor before the model confirmed idle")
	idle := feed(g, &i, 10*fps-2*clipFrames, noise, idleModel)
	require.Zero(t, passes(idle), "idle scene must be skipped")
	require.True(t, idle[0].Changed)
	require.InDelta(t, 1.15, idle[len(idle)-1].Floor, 0.2)

	// An object crosses for 2 seconds: the gate opens on the first energetic frame.
	obj := feed(g, &i, 2*fps, func(int) float64 { return 8 + rng.Float64() }, busyModel)
	require.Equal(t, 2*fps, passes(obj))
	require.True(t, obj[0].Changed)

	// It stays open for MinHold (2 s) after the smoothed energy fell, then closes.
	after := feed(g, &i, 4*fps, noise, idleModel)
	open := passes(after)
	require.GreaterOrEqual(t, open, 2*fps, "hold")
	require.LessOrEqual(t, open, 2*fps+gateSmooth, "hold")
	require.True(t, after[open].Changed)
	require.False(t, after[len(after)-1].Pass)

	// Energy between the off and on thresholds keeps an open gate open beyond MinHold (hysteresis)...
	feed(g, &i, 1, func(int) float64 { return 20 }, busyModel)
	mid := feed(g, &i, 4*fps, func(int) float64 { return 2.4 }, busyModel)
	require.Equal(t, 4*fps, passes(mid))
	feed(g, &i, 3*fps, noise, idleModel)
	require.False(t, g.Open())
	// ...but does not open a closed one, nor teach it a higher floor than drift would.
	floor := g.Floor()
	closedMid := feed(g, &i, 3*fps, func(int) float64 { return 2.4 }, idleModel)
	require.Zero(t, passes(closedMid))
	require.Less(t, g.Floor(), 1.5*floor+0.01)

	// A camera pan (sustained high energy) is passed while it lasts.
	pan := feed(g, &i, 5*fps, func(int) float64 { return 30 }, busyModel)
	require.Equal(t, 5*fps, passes(pan))

	require.InDelta(t, 1-float64(g.frames-g.skipped)/float64(g.frames), g.SkipRatio(), 1e-9)
	require.Greater(t, g.SkipRatio(), 0.3)
}

// TestGateNeverLearnsFromMotion covers the ways the old gate went deaf (issue 13): motion from the
// first frame, long activity, a pan, a scene change.
func TestGateNeverLearnsFromMotion(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	object := func(int) float64 { return 4 + 4*rng.Float64() }

	t.Run("motion from the first frame", func(t *testing.T) {
		g, i := NewGate(config.Gate{}), 0
		// Ten seconds of motion the model calls an object: all analysed, no floor learnt.
		ds := feed(g, &i, 10*fps, object, busyModel)
		require.Equal(t, 10*fps, passes(ds))
		require.Zero(t, g.Floor())
		// Then idle: the floor comes from the idle clips and the gate closes...
		ds = feed(g, &i, 5*fps, noiseFn(5), idleModel)
		require.False(t, ds[len(ds)-1].Pass)
		require.InDelta(t, 1.15, g.Floor(), 0.2)
		// ...and opens again for the next object.
		ds = feed(g, &i, fps, object, busyModel)
		require.Equal(t, fps, passes(ds))
	})

	t.Run("no verdicts keep it open", func(t *testing.T) {
		g, i := NewGate(config.Gate{}), 0
		ds := feed(g, &i, 30*fps, noiseFn(6), nil)
		require.Equal(t, 30*fps, passes(ds), "without the model's word the gate never assumes idle")
	})

	t.Run("long activity", func(t *testing.T) {
		g, i := NewGate(config.Gate{}), 0
		bootstrap(t, g, &i, noiseFn(7))
		floor := g.Floor()
		// A minute of continuous, varying motion: the gate stays open and the floor does not move.
		ds := feed(g, &i, 60*fps, object, busyModel)
		require.Equal(t, 60*fps, passes(ds))
		require.Equal(t, floor, g.Floor())
		ds = feed(g, &i, 5*fps, noiseFn(8), idleModel)
		require.False(t, ds[len(ds)-1].Pass)
		ds = feed(g, &i, fps, object, busyModel)
		require.True(t, ds[0].Pass, "not deaf after long activity")
	})

	t.Run("an object the model sometimes calls idle", func(t *testing.T) {
		g, i := NewGate(config.Gate{}), 0
		bootstrap(t, g, &i, noiseFn(12))
		floor := g.Floor()
		// Twenty seconds of an object whose speed varies clip by clip, every clip called idle: unsteady
		// energy is no noise, the floor does not rise and the gate stays open.
		ds := feed(g, &i, 20*fps, func(k int) float64 { return 4 + 3*float64(k/clipFrames%2) }, idleModel)
		require.Equal(t, 20*fps, passes(ds))
		require.Equal(t, floor, g.Floor())
	})

	t.Run("a slow object the model still sees", func(t *testing.T) {
		g, i := NewGate(config.Gate{}), 0
		bootstrap(t, g, &i, noiseFn(13))
		feed(g, &i, fps, object, busyModel)
		// The object slows down to the noise level: as long as the model sees it, the gate stays open.
		ds := feed(g, &i, 10*fps, noiseFn(14), busyModel)
		require.Equal(t, 10*fps, passes(ds))
		ds = feed(g, &i, 4*fps, noiseFn(15), idleModel)
		require.False(t, ds[len(ds)-1].Pass)
	})

	t.Run("pan then a smaller object", func(t *testing.T) {
		g, i := NewGate(config.Gate{}), 0
		bootstrap(t, g, &i, noiseFn(9))
		ds := feed(g, &i, 5*fps, func(int) float64 { return 40 + rng.Float64() }, busyModel)
		require.Equal(t, 5*fps, passes(ds))
		ds = feed(g, &i, 3*fps, noiseFn(10), idleModel)
		require.False(t, ds[len(ds)-1].Pass)
		ds = feed(g, &i, fps, object, busyModel)
		require.True(t, ds[0].Pass, "not deaf after a pan")
	})

	t.Run("scene change to a quieter view", func(t *testing.T) {
		g, i := NewGate(config.Gate{}), 0
		bootstrap(t, g, &i, noiseFn(11))
		feed(g, &i, fps, func(int) float64 { return 50 }, busyModel) // the cut
		ds := feed(g, &i, 10*fps, func(int) float64 { return 0.3 + 0.1*rng.Float64() }, idleModel)
		require.False(t, ds[len(ds)-1].Pass)
		require.Less(t, g.Floor(), 0.5, "the floor follows the quieter view down")
		ds = feed(g, &i, fps, func(int) float64 { return 2 }, busyModel)
		require.True(t, ds[0].Pass, "an object the old floor would have hidden")
	})
}

func TestGateAdaptsToLastingChange(t *testing.T) {
	g := NewGate(config.Gate{})
	i := 0
	bootstrap(t, g, &i, func(int) float64 { return 1 })
	// Rain starts: energy jumps 6x and stays. The gate opens; once the model has called the rain idle,
	// it becomes the new floor and the gate closes.
	rain := feed(g, &i, 20*fps, func(int) float64 { return 6 }, idleModel)
	require.True(t, rain[0].Pass)
	require.False(t, rain[len(rain)-1].Pass, "a lasting change the model calls idle must become the new floor")
	require.InDelta(t, 6, g.Floor(), 0.5)
	// A slow drift of the noise level never opens the gate.
	drift := feed(g, &i, 60*fps, func(k int) float64 { return 6 + 3*float64(k-i)/float64(60*fps) }, idleModel)
	require.Zero(t, passes(drift[fps:]))

	// A lasting change the model does not call idle (say, flicker it reports as illumination) keeps the
	// gate open: no saving, but nothing lost.
	g, i = NewGate(config.Gate{}), 0
	bootstrap(t, g, &i, func(int) float64 { return 1 })
	flicker := feed(g, &i, 120*fps, func(int) float64 { return 6 }, busyModel)
	require.Equal(t, 120*fps, passes(flicker))
}

func TestGateResidualAndEdgeCases(t *testing.T) {
	g := NewGate(config.Gate{ResidualWeight: 2})
	i := 0
	bootstrap(t, g, &i, func(int) float64 { return 1 })
	// Residual energy alone (a change without motion vectors, e.g. lights) opens the gate.
	d := g.Observe(frameTime(i), 0, 5)
	require.True(t, d.Pass)
	require.Equal(t, 10.0, d.Energy)
	// NaN passes without poisoning the floor.
	floor := d.Floor
	d = g.Observe(frameTime(i+1), math.NaN(), 0)
	require.True(t, d.Pass)
	require.Equal(t, floor, d.Floor)
	// Negative energy counts as zero.
	d = g.Observe(frameTime(i+2), -5, 0)
	require.Equal(t, 0.0, d.Energy)
	// A PTS jump backwards (reconnect) keeps the hold relative to the new clock...
	d = g.Observe(0, 0, 0)
	require.True(t, d.Pass)
	for k := 1; k < gateSmooth; k++ {
		require.True(t, g.Observe(frameTime(k), 0, 0).Pass)
	}
	require.True(t, g.Observe(3*time.Second, 0, 0).Pass, "open until the model calls a clip idle")
	g.Confirm(0, 3*time.Second, true)
	d = g.Observe(3*time.Second+frameTime(1), 0, 0)
	require.False(t, d.Pass)
	// ...and forgets the old clock's frames: a late verdict on an old clip teaches nothing.
	floor = g.Floor()
	g.Confirm(frameTime(i-2*clipFrames), frameTime(i), true)
	g.Confirm(frameTime(i-clipFrames), frameTime(i), true)
	require.Equal(t, floor, g.Floor())

	// A zero noise floor is bounded by MinFloor: tiny noise does not open the gate.
	g = NewGate(config.Gate{MinFloor: 0.5})
	i = 0
	ds := feed(g, &i, 4*clipFrames+fps, func(k int) float64 { return float64(k%2) * 1.2 }, idleModel)
	require.Zero(t, passes(ds[2*clipFrames:]))
}

func TestGateDisabledPassesEverything(t *testing.T) {
	off := false
	g := NewGate(config.Gate{Enabled: &off})
	i := 0
	ds := feed(g, &i, 100, func(int) float64 { return 0 }, idleModel)
	require.Equal(t, 100, passes(ds))
	require.Zero(t, g.SkipRatio())
}

func BenchmarkGateObserve(b *testing.B) {
	g := NewGate(config.Gate{})
	for i := 0; b.Loop(); i++ {
		g.Observe(frameTime(i), float64(i%7), 0.5)
		if i%clipFrames == clipFrames-1 {
			g.Confirm(frameTime(i-clipFrames+1), frameTime(i), true)
		}
	}
}
