package llmgen

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestCaptionerCaptionsAsyncWithMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	got := make(chan Caption, 8)
	c, err := NewCaptioner(CaptionerConfig{TargetDir: targetDir, DraftDir: draftDir, Registerer: reg,
		QueueSize: 4, OnCaption: func(cp Caption) { got <- cp }})
	require.NoError(t, err)
	require.NoError(t, c.Start())
	require.Error(t, c.Start())
	evs := testEvents(3, 21)
	for _, ev := range evs {
		require.True(t, c.Submit(ev))
	}
	for i := range evs {
		select {
		case cp := <-got:
			require.NoError(t, cp.Err)
			require.Equal(t, evs[i], cp.Event)
			require.Equal(t, FinishEOS, cp.Finish)
			// Every phrasing of the corpus names the camera and the time.
			require.Contains(t, cp.Text, evs[i].Camera, cp.Text)
			require.Contains(t, cp.Text, evs[i].Time, cp.Text)
		case <-time.After(60 * time.Second):
			t.Fatal("no caption within 60 s")
		}
	}
	require.Equal(t, 3.0, testutil.ToFloat64(c.m.captions.WithLabelValues("ok")))
	require.Greater(t, testutil.ToFloat64(c.m.tokens), 30.0)
	require.Greater(t, testutil.ToFloat64(c.m.drafted), 0.0)
	rate := testutil.ToFloat64(c.m.acceptRate)
	require.Greater(t, rate, 0.0)
	require.LessOrEqual(t, rate, 1.0)
	require.Greater(t, testutil.ToFloat64(c.m.meanAccepted), 0.0)
	require.GreaterOrEqual(t, testutil.ToFloat64(c.m.draftLen), 1.0)
	require.Greater(t, testutil.ToFloat64(c.m.tokensPerSec), 0.0)
	require.NoError(t, testutil.CollectAndCompare(reg, strings.NewReader(`
# HELP mvwatch_caption_dropped_total Events not captioned because the caption queue was full.
# TYPE mvwatch_caption_dropped_total counter
mvwatch_caption_dropped_total 0
`), "mvwatch_caption_dropped_total"))
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	require.False(t, c.Submit(evs[0]))
	require.True(t, errors.Is(c.Caption(evs[0]).Err, ErrClosed))
}

func TestCaptionerDropsWhenFullAndNeverBlocks(t *testing.T) {
	reg := prometheus.NewRegistry()
	c, err := NewCaptioner(CaptionerConfig{TargetDir: targetDir, DraftDir: "none", Registerer: reg, QueueSize: 2})
	require.NoError(t, err)
	defer c.Close()
	ev := testEvents(1, 1)[0]
	start := time.Now()
	results := []bool{c.Submit(ev), c.Submit(ev), c.Submit(ev), c.Submit(ev)}
	require.Less(t, time.Since(start), time.Second)
	require.Equal(t, []bool{true, true, false, false}, results)
	require.NoError(t, testutil.CollectAndCompare(reg, strings.NewReader(`
# HELP mvwatch_caption_dropped_total Events not captioned because the caption queue was full.
# TYPE mvwatch_caption_dropped_total counter
mvwatch_caption_dropped_total 2
# HELP mvwatch_caption_queue_length Events waiting for a caption.
# TYPE mvwatch_caption_queue_length gauge
mvwatch_caption_queue_length 2
`), "mvwatch_caption_dropped_total", "mvwatch_caption_queue_length"))

	// Submit does not wait for a generation in progress (which holds the captioner's lock).
	c.mu.Lock()
	start = time.Now()
	require.False(t, c.Submit(ev))
	require.Less(t, time.Since(start), time.Second)
	c.mu.Unlock()

	// Synchronous captioning with the target alone, and a bad event.
	cp := c.Caption(ev)
	require.NoError(t, cp.Err)
	require.NotEmpty(t, cp.Text)
	require.Zero(t, cp.Stats.Drafted)
	bad := c.Caption(Event{Label: "person", Confidence: 2})
	require.ErrorContains(t, bad.Err, "camera is empty")
	require.ErrorContains(t, bad.Err, "confidence outside")
	require.Equal(t, 1.0, testutil.ToFloat64(c.m.captions.WithLabelValues("error")))

	// The same registry cannot take a second captioner's metrics.
	_, err = NewCaptioner(CaptionerConfig{TargetDir: targetDir, DraftDir: "none", Registerer: reg})
	require.ErrorContains(t, err, "register metrics")
}

// TestCaptionerKeepsUnusualNamesVerbatim: camera names and zones unlike the corpus's come out exactly as
// given (through the stand-ins), where the models alone garble them.
func TestCaptionerKeepsUnusualNamesVerbatim(t *testing.T) {
	c, err := NewCaptioner(CaptionerConfig{TargetDir: targetDir, DraftDir: draftDir})
	require.NoError(t, err)
	defer c.Close()
	verbatim, err := NewCaptioner(CaptionerConfig{TargetDir: targetDir, DraftDir: "none", VerbatimNames: true})
	require.NoError(t, err)
	defer verbatim.Close()
	garbled := 0
	for i, name := range []string{"testcam0", "Front Door (east)", "kamera-Süd", "frontdoor"} {
		ev := DetectionEvent(name, []string{"reception desk", "", "Hof", "north fence"}[i], EventLabels[i],
			time.Date(2026, 11, 26, 14, 2, 0, 0, time.UTC), 4*time.Second, 0.93)
		cp := c.Caption(ev)
		require.NoError(t, cp.Err)
		require.Contains(t, cp.Text, name, cp.Text)
		require.Contains(t, cp.Text, ev.Zone, cp.Text)
		require.Contains(t, cp.Text, "14:02", cp.Text)
		require.NotContains(t, cp.Text, StandInCamera)
		if ev.Zone != "" {
			require.NotContains(t, cp.Text, StandInZone)
		}
		if v := verbatim.Caption(ev); !strings.Contains(v.Text, name) || !strings.Contains(v.Text, ev.Zone) {
			garbled++
		}
	}
	// The reason for the stand-ins: without them the models miss most of these names.
	require.GreaterOrEqual(t, garbled, 2)
}

func TestDelexicalizeRoundTrip(t *testing.T) {
	ev := Event{Camera: "loading bay", Zone: "cam-7 area", Label: "pan"}
	in, back := delexicalize(ev)
	require.Equal(t, StandInCamera, in.Camera)
	require.Equal(t, StandInZone, in.Zone)
	// One pass: the real names are not replaced again even though they contain the other stand-in.
	require.Equal(t, "cam-7 area seen by loading bay", back("loading bay seen by cam-7"))
	in, back = delexicalize(Event{Camera: "gate", Label: "pan"})
	require.Equal(t, "", in.Zone)
	require.Equal(t, "gate: loading bay", back("cam-7: loading bay"))
}
