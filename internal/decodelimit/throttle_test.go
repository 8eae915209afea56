package decodelimit

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestThrottle(t *testing.T) {
	t0 := time.Unix(1000, 0)
	// Off unless a margin is set.
	off := NewThrottle(Limits{})
	for i := 0; i < 10000; i++ {
		require.True(t, off.Admit(t0, 15, false))
	}

	th := NewThrottle(Limits{FPSMargin: 2})
	require.Equal(t, 30.0, th.Rate(15))
	require.Equal(t, float64(DefaultMaxFPS), th.Rate(0), "no declared rate: MaxFPS")
	require.Equal(t, float64(DefaultMaxFPS), th.Rate(500), "a declared rate is capped too")

	// A camera sending at its declared 15 fps is never throttled.
	now := t0
	for i := 0; i < 1000; i++ {
		require.True(t, th.Admit(now, 15, i%30 == 0), "picture %d", i)
		now = now.Add(time.Second / 15)
	}
	// A flood: the burst (2 s at 30 fps) passes, then units are dropped up to a random-access
	// unit that finds a token.
	admitted := 0
	for i := 0; i < 1000; i++ {
		if th.Admit(now, 15, i%30 == 0) {
			admitted++
		}
		now = now.Add(time.Millisecond) // 1000 fps
	}
	// 60 from the burst, plus about 30/s over the 1 s of flooding, minus what resync drops.
	require.InDelta(t, 60+15, admitted, 20)
	require.Equal(t, uint64(1000-admitted), th.Dropped())
	// After a drop, non-random-access units wait for a random-access one even with tokens.
	now = now.Add(10 * time.Second)
	require.False(t, th.Admit(now, 15, false))
	require.True(t, th.Admit(now, 15, true))
	require.True(t, th.Admit(now, 15, false))
}

// TestMetricsPresentFromStart: every reason exists at zero before any camera failed.
func TestMetricsPresentFromStart(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	m2, err := NewMetrics(reg)
	require.NoError(t, err, "a second camera shares the series")
	m.Camera("front")
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP mvwatch_decode_limit_failures_total Cameras failed because their stream exceeded a decode limit, by reason.
# TYPE mvwatch_decode_limit_failures_total counter
mvwatch_decode_limit_failures_total{reason="dimensions"} 0
mvwatch_decode_limit_failures_total{reason="pixels"} 0
mvwatch_decode_limit_failures_total{reason="ref_frames"} 0
mvwatch_decode_limit_failures_total{reason="sps_invalid"} 0
# HELP mvwatch_decode_throttled_access_units_total Access units dropped because a camera sent faster than its declared frame rate allows.
# TYPE mvwatch_decode_throttled_access_units_total counter
mvwatch_decode_throttled_access_units_total{camera="front"} 0
`)))
	c := NewChecker(Limits{}, m2)
	require.Error(t, c.Check("h264", [][]byte{{0x67, 0x42}}))
	m.Throttled("front", 3)
	require.Equal(t, 1.0, testutil.ToFloat64(m.failures.WithLabelValues("sps_invalid")))
	require.Equal(t, 3.0, testutil.ToFloat64(m.throttled.WithLabelValues("front")))
	m.DeleteCamera("front")
	require.Equal(t, 0, testutil.CollectAndCount(m.throttled))
}
