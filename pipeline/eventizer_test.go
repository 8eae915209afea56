package pipeline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/config"

	"github.com/mvwatch/mvwatch/internal/event"
)

func TestEventizerMergesSplitsAndFlushes(t *testing.T) {
	var got []event.Event
	e := &eventizer{camera: "c", thresholds: config.Thresholds{MinScore: 0.5, Labels: map[string]float64{"pan": 0.8}},
		idle: map[string]bool{"idle": true}, publish: func(ev event.Event) { got = append(got, ev) }, gap: 2 * time.Second}
	t0 := time.Unix(1000, 0)
	clip := func(i int) *clipJob { // clip i covers [i, i+1) seconds
		s := time.Duration(i) * time.Second
		return &clipJob{startPTS: s, endPTS: s + 900*time.Millisecond, start: t0.Add(s), end: t0.Add(s + 900*time.Millisecond)}
	}
	e.observe(clip(0), Classification{Label: "idle", Score: 0.99})
	e.observe(clip(1), Classification{Label: "object_left", Score: 0.7, ExitStage: 1})
	e.observe(clip(2), Classification{Label: "object_left", Score: 0.9})
	require.Empty(t, got, "an event is published when it ends")
	e.observe(clip(3), Classification{Label: "pan", Score: 0.7}) // below pan's own threshold: no event
	require.Empty(t, got, "a weak clip does not end the event")
	e.observe(clip(4), Classification{Label: "pan", Score: 0.95})
	require.Empty(t, got, "one clip of another label does not end the event")
	e.observe(clip(5), Classification{Label: "pan", Score: 0.95}) // a second one does
	require.Len(t, got, 1)
	require.Equal(t, "object_left", got[0].Label)
	require.Equal(t, 0.9, got[0].Score, "the best score of its clips")
	require.Equal(t, 1, got[0].ExitStage)
	require.Equal(t, t0.Add(time.Second), got[0].Start)
	require.Equal(t, t0.Add(2900*time.Millisecond), got[0].End)

	e.observe(clip(9), Classification{Label: "pan", Score: 0.95}) // more than the gap later: a new event
	require.Len(t, got, 2)
	require.Equal(t, t0.Add(4*time.Second), got[1].Start, "the pan starts at its first clip")
	e.flush() // the scene went quiet
	require.Len(t, got, 3)
	require.Equal(t, t0.Add(9*time.Second), got[2].Start)
	e.flush()
	require.Len(t, got, 3, "nothing open, nothing published")
}

// eventizerFor returns an eventizer with the default thresholds (0.5) and the events it published, and
// clip(i, label, score) to feed it clip i covering [i/2, i/2+0.5) s.
func eventizerFor(t *testing.T) (*eventizer, *[]event.Event, func(i int, label string, score float64)) {
	t.Helper()
	var got []event.Event
	e := &eventizer{camera: "c", thresholds: config.Thresholds{MinScore: 0.5}, idle: map[string]bool{"idle": true},
		publish: func(ev event.Event) { got = append(got, ev) }, gap: 2 * time.Second}
	t0 := time.Unix(1000, 0)
	clip := func(i int, label string, score float64) {
		s := time.Duration(i) * 500 * time.Millisecond
		job := &clipJob{startPTS: s, endPTS: s + 450*time.Millisecond, start: t0.Add(s), end: t0.Add(s + 450*time.Millisecond)}
		e.observe(job, Classification{Label: label, Score: score})
	}
	return e, &got, clip
}

func TestEventizerOneCrossingIsOneEvent(t *testing.T) {
	t.Run("hysteresis: a weaker clip of the same label continues the event", func(t *testing.T) {
		e, got, clip := eventizerFor(t)
		clip(0, "object_right", 0.97)
		clip(1, "object_right", 0.35) // below 0.5, above 0.6 x 0.5
		clip(2, "object_right", 0.9)
		e.flush()
		require.Len(t, *got, 1)
		require.Equal(t, 0.97, (*got)[0].Score)
	})
	t.Run("merging across idle and weak clips within the gap", func(t *testing.T) {
		e, got, clip := eventizerFor(t)
		clip(0, "object_right", 0.97)
		clip(1, "idle", 0.6)
		clip(2, "object_left", 0.3) // weak other label: nothing
		clip(3, "idle", 0.9)
		clip(4, "object_right", 0.52)
		clip(5, "object_right", 0.57)
		e.flush()
		require.Len(t, *got, 1, "%+v", *got)
		require.Equal(t, time.Unix(1000, 0).Add(2950*time.Millisecond), (*got)[0].End)
	})
	t.Run("a blip of another label inside the event is absorbed, even a confident one", func(t *testing.T) {
		e, got, clip := eventizerFor(t)
		clip(0, "object_right", 0.97)
		clip(1, "multi_object", 0.87)
		clip(2, "object_right", 0.9)
		e.flush()
		require.Len(t, *got, 1)
		require.Equal(t, "object_right", (*got)[0].Label)
	})
	t.Run("two clips of another label end the event; the new one starts at the first", func(t *testing.T) {
		e, got, clip := eventizerFor(t)
		clip(0, "object_right", 0.97)
		clip(1, "pan", 0.6)
		clip(2, "pan", 0.7)
		require.Len(t, *got, 1)
		e.flush()
		require.Len(t, *got, 2)
		require.Equal(t, "pan", (*got)[1].Label)
		require.Equal(t, time.Unix(1000, 0).Add(500*time.Millisecond), (*got)[1].Start)
	})
	t.Run("object labels continue one object event, named by its most confident clip", func(t *testing.T) {
		e, got, clip := eventizerFor(t)
		clip(0, "object_right", 0.63)
		clip(1, "multi_object", 0.86)
		clip(2, "multi_object", 0.7)
		clip(3, "object_right", 0.88)
		clip(4, "object_left", 0.5)
		e.flush()
		require.Len(t, *got, 1, "%+v", *got)
		require.Equal(t, "object_right", (*got)[0].Label)
		require.Equal(t, 0.88, (*got)[0].Score)
		require.Equal(t, time.Unix(1000, 0), (*got)[0].Start)
	})
	t.Run("an unconfirmed candidate at the end is still an event", func(t *testing.T) {
		e, got, clip := eventizerFor(t)
		clip(0, "object_right", 0.97)
		clip(1, "pan", 0.6)
		e.flush()
		require.Equal(t, []string{"object_right", "pan"}, labels(*got))
	})
	t.Run("a weak tail after the gap is the same object", func(t *testing.T) {
		e, got, clip := eventizerFor(t)
		clip(0, "object_right", 0.97)
		e.flush() // the scene went quiet
		clip(6, "object_right", 0.52)
		clip(7, "object_right", 0.57)
		e.flush()
		require.Len(t, *got, 1, "a weak same-label event within the tail window is no new event")
		// A confident one is a new object, and so is a weak one after the window.
		clip(9, "object_right", 0.95)
		e.flush()
		clip(30, "object_right", 0.55)
		e.flush()
		require.Len(t, *got, 3)
	})
}

func TestEventizerExposureAdaptationRaisesNothing(t *testing.T) {
	var got []event.Event
	e := &eventizer{camera: "c", thresholds: config.Thresholds{MinScore: 0.5}, idle: map[string]bool{"idle": true},
		publish: func(ev event.Event) { got = append(got, ev) }, gap: 2 * time.Second}
	t0 := time.Unix(1000, 0)
	clip := func(i int, label string, shift float64) {
		s := time.Duration(i) * time.Second
		e.observe(&clipJob{startPTS: s, endPTS: s + 900*time.Millisecond, start: t0.Add(s), end: t0.Add(s + 900*time.Millisecond),
			lumaShift: shift}, Classification{Label: label, Score: 0.9})
	}
	// Auto-exposure hunting by a few grey levels: confident illumination and tamper clips, no event.
	clip(0, "illumination", 4)
	clip(1, "tamper", 9)
	clip(2, "illumination", minLightShift-0.5)
	e.flush()
	require.Empty(t, got)
	// A light switched on: an event. Other labels do not depend on the light.
	clip(10, "illumination", 40)
	clip(20, "object_left", 0)
	e.flush()
	require.Equal(t, []string{"illumination", "object_left"}, labels(got))
}
