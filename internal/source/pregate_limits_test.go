package source

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/decodelimit"
	"github.com/mvwatch/mvwatch/internal/pregate"
	"github.com/mvwatch/mvwatch/internal/testcam"
)

// firstIDRAfter is the 0-based index of the first random-access unit of the default clip after its
// first n units: where testcam.RewriteSPSAfter(n) puts the rewritten SPS.
func firstIDRAfter(t *testing.T, n int) int {
	t.Helper()
	src, err := ingest.NewAnnexBSource(testcam.DefaultClip(), ingest.AnnexBOptions{})
	require.NoError(t, err)
	for i := 0; ; i++ {
		au, err := src.Next()
		require.False(t, errors.Is(err, io.EOF), "no IDR after %d units", n)
		require.NoError(t, err)
		if i >= n && au.RandomAccess {
			return i
		}
	}
}

// TestPreGateBehindDecodeLimits runs hostile cameras through a source with the pre-gate on, as the
// service runs them: the decode limits are checked on every access unit before the pre-gate sees
// it. A camera whose SPS goes over a limit in-band fails with the violation and the pre-gate never
// took in the unit that carried it; a flooding camera's units over its rate are dropped before the
// pre-gate (its access units stay within the throttled rate).
func TestPreGateBehindDecodeLimits(t *testing.T) {
	reg := prometheus.NewRegistry()
	lm, err := decodelimit.NewMetrics(reg)
	require.NoError(t, err)
	pm, err := pregate.NewMetrics(reg)
	require.NoError(t, err)
	limits := decodelimit.Limits{FPSMargin: 2}
	pg := &PreGate{Metrics: pm}

	const after = 45
	bad := firstIDRAfter(t, after)
	inBand := runSource(t, Config{Input: serve(t, testcam.RewriteSPSAfter(loopClip(t), after, oversized), false).URL(),
		Camera: "in-band", Limits: limits, LimitMetrics: lm, PreGate: pg})
	start := time.Now()
	flood := runSource(t, Config{Input: serve(t, loopClip(t), true).URL(), Camera: "flood", Limits: limits, LimitMetrics: lm, PreGate: pg})

	var runErr error
	select {
	case runErr = <-inBand.done:
		inBand.done <- runErr // for the cleanup
	case <-time.After(20 * time.Second):
		t.Fatal("the over-limit camera must end")
	}
	require.ErrorContains(t, runErr, "sps: 16000x16000 exceeds the 4096x2304 limit (decode.max_width/max_height)")
	st, ok := inBand.src.PreGateState()
	require.True(t, ok, "the pre-gate ran")
	require.Positive(t, st.AccessUnits)
	require.LessOrEqual(t, st.AccessUnits, uint64(bad), "the unit over the limit (index %d) never reached the pre-gate", bad)

	require.Eventually(t, func() bool {
		return counterValue(t, reg, "mvwatch_decode_throttled_access_units_total", map[string]string{"camera": "flood"}) > 100
	}, 20*time.Second, 20*time.Millisecond, "the flooding camera is throttled")
	fst, ok := flood.src.PreGateState()
	require.True(t, ok)
	elapsed := time.Since(start).Seconds()
	// At most 2 x its declared 15 fps, plus the throttle's 2 s burst.
	require.LessOrEqual(t, float64(fst.AccessUnits), 30*elapsed+61, "only admitted units reach the pre-gate")
	t.Logf("in-band: %d access units before the bad SPS at %d; flood: %d access units in %.1f s", st.AccessUnits, bad, fst.AccessUnits, elapsed)
}
