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

func frameTime(i int) time.Duration { return time.Duration(i) * time.Second / fps }

// feed runs n frames of energy e(i) (MV only) through g from frame index *i, returning the decisions.
func feed(g *Gate, i *int, n int, e func(i int) float64) []GateDecision {
	out := make([]GateDecision, n)
	for k := range out {
		out[k] = g.Observe(frameTime(*i), e(*i), 0)
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

func TestGateScriptedScene(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := func(int) float64 { return 1 + 0.3*rng.Float64() }
	g := NewGate(config.Gate{}) // defaults: on 3x, off 1.5x, hold 2s
	i := 0

	// Warm-up passes, then the gate closes on the learnt floor.
	warm := feed(g, &i, gateWarmupFrames, noise)
	require.Equal(t, gateWarmupFrames, passes(warm))
	idle := feed(g, &i, 10*fps, noise)
	require.Zero(t, passes(idle), "idle scene must be skipped")
	require.True(t, idle[0].Changed)
	require.InDelta(t, 1.15, idle[len(idle)-1].Floor, 0.2)

	// An object crosses for 2 seconds: the gate opens on the first energetic frame.
	obj := feed(g, &i, 2*fps, func(int) float64 { return 8 + rng.Float64() })
	require.Equal(t, 2*fps, passes(obj))
	require.True(t, obj[0].Changed)

	// It stays open for MinHold (2 s) after the object left, then closes.
	after := feed(g, &i, 4*fps, noise)
	require.Equal(t, 2*fps, passes(after), "hold")
	require.True(t, after[2*fps].Changed)
	require.False(t, after[len(after)-1].Pass)

	// Energy between the off and on thresholds keeps an open gate open beyond MinHold (hysteresis)...
	feed(g, &i, 1, func(int) float64 { return 20 })
	mid := feed(g, &i, 4*fps, func(int) float64 { return 2.4 })
	require.Equal(t, 4*fps, passes(mid))
	feed(g, &i, 3*fps, noise)
	require.False(t, g.Open())
	// ...but does not open a closed one.
	closedMid := feed(g, &i, 3*fps, func(int) float64 { return 2.4 })
	require.Zero(t, passes(closedMid))

	// A camera pan (sustained high energy) is passed while it lasts.
	pan := feed(g, &i, 5*fps, func(int) float64 { return 30 })
	require.Equal(t, 5*fps, passes(pan))

	// warm-up + object + hold + spike + mid + hold after mid + pan
	passed := gateWarmupFrames + 2*fps + 2*fps + 1 + 4*fps + 2*fps + 5*fps
	require.InDelta(t, float64(i-passed)/float64(i), g.SkipRatio(), 1e-9)
}

func TestGateAdaptsToLastingChange(t *testing.T) {
	g := NewGate(config.Gate{})
	i := 0
	feed(g, &i, 5*fps, func(int) float64 { return 1 })
	// Rain starts: energy jumps 6x and stays. The gate opens, the floor follows slowly, the gate closes.
	rain := feed(g, &i, 120*fps, func(int) float64 { return 6 })
	require.True(t, rain[0].Pass)
	require.False(t, rain[len(rain)-1].Pass, "a lasting change must become the new floor")
	// A slow drift of the noise level never opens the gate.
	drift := feed(g, &i, 60*fps, func(k int) float64 { return 6 + 3*float64(k-i)/float64(60*fps) })
	require.Zero(t, passes(drift[fps:]))
}

func TestGateResidualAndEdgeCases(t *testing.T) {
	g := NewGate(config.Gate{ResidualWeight: 2})
	i := 0
	feed(g, &i, gateWarmupFrames+fps, func(int) float64 { return 1 })
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
	// A PTS jump backwards (reconnect) keeps the hold relative to the new clock.
	d = g.Observe(0, 0, 0)
	require.True(t, d.Pass)
	d = g.Observe(3*time.Second, 0, 0)
	require.False(t, d.Pass)

	// A zero noise floor is bounded by MinFloor: tiny noise does not open the gate.
	g = NewGate(config.Gate{MinFloor: 0.5})
	i = 0
	ds := feed(g, &i, gateWarmupFrames+fps, func(k int) float64 { return float64(k%2) * 1.2 })
	require.Zero(t, passes(ds[gateWarmupFrames:]))
}

func TestGateDisabledPassesEverything(t *testing.T) {
	off := false
	g := NewGate(config.Gate{Enabled: &off})
	i := 0
	ds := feed(g, &i, 100, func(int) float64 { return 0 })
	require.Equal(t, 100, passes(ds))
	require.Zero(t, g.SkipRatio())
}

func BenchmarkGateObserve(b *testing.B) {
	g := NewGate(config.Gate{})
	for i := 0; b.Loop(); i++ {
		g.Observe(frameTime(i), float64(i%7), 0.5)
	}
}
