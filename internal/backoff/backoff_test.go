package backoff

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDelayDoublesUpToMax(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
	require.Equal(t, 100*time.Millisecond, b.Delay(0))
	require.Equal(t, 200*time.Millisecond, b.Delay(1))
	require.Equal(t, 800*time.Millisecond, b.Delay(3))
	require.Equal(t, time.Second, b.Delay(4))
	require.Equal(t, time.Second, b.Delay(1000))
	low := Backoff{Initial: time.Second, Max: time.Millisecond}
	require.Equal(t, time.Second, low.Delay(3))
}

func TestJitterStaysInRange(t *testing.T) {
	for _, c := range []struct {
		jitter float64
		lo, hi time.Duration
	}{
		{EqualJitter, 200 * time.Millisecond, 400 * time.Millisecond},
		{FullJitter, 0, 400 * time.Millisecond},
		{0.2, 320 * time.Millisecond, 400 * time.Millisecond},
		{7, 0, 400 * time.Millisecond},
	} {
		b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Jitter: c.jitter}
		seen := map[time.Duration]bool{}
		for range 200 {
			d := b.Delay(2)
			require.GreaterOrEqual(t, d, c.lo)
			require.LessOrEqual(t, d, c.hi)
			seen[d] = true
		}
		require.Greater(t, len(seen), 10, "jitter %v spreads the delays", c.jitter)
		capped := Backoff{Initial: time.Second, Max: 4 * time.Second, Jitter: c.jitter}
		for range 100 {
			require.LessOrEqual(t, capped.Delay(50), 4*time.Second, "jitter never exceeds the cap")
		}
	}
}

func TestNextAndReset(t *testing.T) {
	b := Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	var got []time.Duration
	for range 5 {
		got = append(got, b.Next())
	}
	require.Equal(t, []time.Duration{10, 20, 40, 50, 50}, scale(got, time.Millisecond))
	require.Equal(t, 5, b.Attempts())
	b.Reset()
	require.Equal(t, 0, b.Attempts())
	require.Equal(t, 10*time.Millisecond, b.Next())
	for range 1000 {
		b.Next()
	}
	require.Equal(t, 50*time.Millisecond, b.Next())
}

func scale(ds []time.Duration, unit time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d / unit
	}
	return out
}
