package llmgen

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDetectionEvent(t *testing.T) {
	loc := time.FixedZone("UTC+2", 2*3600)
	start := time.Date(2026, 11, 26, 12, 2, 59, 0, time.UTC).In(loc)
	ev := DetectionEvent("dock-2", "loading bay", "object_left", start, 11600*time.Millisecond, 0.93)
	require.Equal(t, Event{Camera: "dock-2", Zone: "loading bay", Label: "object_left", Direction: "right-to-left",
		DurationS: 12, Time: "14:02", Confidence: 0.93}, ev)
	require.NoError(t, ev.Validate())
	require.Equal(t, "camera: dock-2 | zone: loading bay | label: object_left | direction: right-to-left | duration: 12s | time: 14:02 | confidence: 0.93\ncaption:", ev.Prompt())

	cases := []struct {
		label string
		dur   time.Duration
		dir   string
		secs  int
	}{
		{"object_right", 2 * time.Second, "left-to-right", 2},
		{"multi_object", 1499 * time.Millisecond, "mixed", 1},
		{"pan", 0, "none", 1},
		{"zoom", 200 * time.Millisecond, "none", 1},
		{"shake", 1500 * time.Millisecond, "none", 2},
		{"illumination", 90 * time.Second, "none", 90},
		{"tamper", time.Minute, "none", 60},
		{"scene_change", 3 * time.Second, "none", 3},
		{"defocus", 4 * time.Second, "none", 4},
		{"something_new", time.Second, "none", 1},
	}
	for _, c := range cases {
		ev := DetectionEvent("cam", "", c.label, start, c.dur, 0.5)
		require.Equal(t, c.dir, ev.Direction, c.label)
		require.Equal(t, c.secs, ev.DurationS, c.label)
		require.Equal(t, "14:02", ev.Time)
		require.Empty(t, ev.Zone)
		require.NoError(t, ev.Validate(), c.label)
	}
}

func TestSampleEventsUseDetectorLabels(t *testing.T) {
	seen := map[string]bool{}
	for _, ev := range SampleEvents(500, 3) {
		require.NoError(t, ev.Validate())
		require.Contains(t, EventLabels, ev.Label)
		require.Equal(t, LabelDirection(ev.Label), ev.Direction)
		seen[ev.Label] = true
	}
	require.Len(t, seen, len(EventLabels))
}
