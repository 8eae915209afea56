package pipeline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEventizerMergesSplitsAndFlushes(t *testing.T) {
	var got []Event
	e := &eventizer{camera: "c", thresholds: Thresholds{MinScore: 0.5, Labels: map[string]float64{"pan": 0.8}},
		idle: map[string]bool{"idle": true}, publish: func(ev Event) { got = append(got, ev) }, gap: 2 * time.Second}
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
	e.observe(clip(4), Classification{Label: "pan", Score: 0.95}) // a confident other label ends it
	require.Len(t, got, 1)
	require.Equal(t, "object_left", got[0].Label)
	require.Equal(t, 0.9, got[0].Score, "the best score of its clips")
	require.Equal(t, 1, got[0].ExitStage)
	require.Equal(t, t0.Add(time.Second), got[0].Start)
	require.Equal(t, t0.Add(2900*time.Millisecond), got[0].End)

	e.observe(clip(9), Classification{Label: "pan", Score: 0.95}) // more than the gap later: a new event
	require.Len(t, got, 2)
	e.flush() // the scene went quiet
	require.Len(t, got, 3)
	require.Equal(t, t0.Add(9*time.Second), got[2].Start)
	e.flush()
	require.Len(t, got, 3, "nothing open, nothing published")
}
