package event

import (
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func valid() Event {
	return Event{ID: NewEventID(t0), Camera: "door", Label: "person", Score: 0.9, Start: t0, End: t0.Add(time.Second)}
}

// TestIDsSortByStart: IDs are valid, sort by start time and TimeKey bounds them.
func TestIDsSortByStart(t *testing.T) {
	var ids []string
	for i := 5; i >= 0; i-- {
		id := NewEventID(t0.Add(time.Duration(i) * time.Second))
		require.True(t, ValidID(id), id)
		ids = append(ids, id)
	}
	require.False(t, sort.StringsAreSorted(ids))
	sort.Strings(ids)
	require.Equal(t, NewEventID(t0)[:16], ids[0][:16])
	require.GreaterOrEqual(t, ids[1], string(TimeKey(t0.Add(time.Second))))
	require.Less(t, ids[0], string(TimeKey(t0.Add(time.Second))))
	for _, bad := range []string{"", "x", strings.Repeat("A", 24), strings.Repeat("0", 23), strings.Repeat("g", 24)} {
		require.False(t, ValidID(bad), bad)
	}
}

func TestValidate(t *testing.T) {
	require.NoError(t, func() error { e := valid(); return e.Validate() }())
	for name, mutate := range map[string]func(e *Event){
		"id":       func(e *Event) { e.ID = "x" },
		"camera":   func(e *Event) { e.Camera = "a b" },
		"label":    func(e *Event) { e.Label = "" },
		"score":    func(e *Event) { e.Score = math.NaN() },
		"end":      func(e *Event) { e.End = e.Start.Add(-time.Second) },
		"stage":    func(e *Event) { e.ExitStage = -1 },
		"keyframe": func(e *Event) { e.Keyframe = []byte("GIF89a") },
		"caption":  func(e *Event) { e.Caption = strings.Repeat("a", MaxCaptionBytes+1) },
		"class":    func(e *Event) { e.Tracks = []EventTrack{{ID: 1, Class: "dog"}} },
	} {
		e := valid()
		mutate(&e)
		require.ErrorIs(t, e.Validate(), ErrInvalidEvent, name)
	}
}

// TestMergeAndUpdateRules: Extend keeps the best score; Matches filters like the API; the stage
// results are checked before a store writes them.
func TestMergeAndUpdateRules(t *testing.T) {
	e := valid()
	e.Extend(t0.Add(3*time.Second), 0.5)
	require.Equal(t, t0.Add(3*time.Second), e.End)
	require.Equal(t, 0.9, e.Score)
	e.Extend(t0.Add(4*time.Second), 0.95)
	require.Equal(t, 0.95, e.Score)

	require.True(t, Query{}.Matches(e))
	require.True(t, Query{Camera: "door", Label: "person", MinScore: 0.95}.Matches(e))
	require.False(t, Query{Camera: "yard"}.Matches(e))
	require.False(t, Query{MinScore: 0.96}.Matches(e))
	require.False(t, Query{Class: "person"}.Matches(e), "no tracks")
	e.Tracks = []EventTrack{{ID: 1, Class: "vehicle"}, {ID: 2, Class: "person"}}
	require.NoError(t, e.Validate())
	require.True(t, Query{Class: "person"}.Matches(e))
	require.False(t, Query{Class: "other"}.Matches(e))
	e.Tracks = nil

	require.NoError(t, CheckCaption("a person at the door"))
	require.ErrorIs(t, CheckCaption(strings.Repeat("a", MaxCaptionBytes+1)), ErrInvalidEvent)
	require.NoError(t, CheckThumbnail(append([]byte("\x89PNG\r\n\x1a\n"), 0)))
	require.ErrorIs(t, CheckThumbnail(nil), ErrInvalidEvent)
	require.ErrorIs(t, CheckThumbnail([]byte("GIF89a")), ErrInvalidEvent)

	e.AttachKeyframe([]byte{0xFF, 0xD8, 0xFF})
	require.Equal(t, KeyframePath(e.ID), e.KeyframeRef)
	require.Equal(t, "/api/v1/events/"+e.ID+"/thumbnail", ThumbnailPath(e.ID))
}
