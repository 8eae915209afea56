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
