package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/event"
)

// classed returns an event of camera door whose tracks have the given classes.
func classed(label string, at time.Duration, classes ...string) event.Event {
	ev := zoned(label, at)
	ev.Tracks = nil
	for i, c := range classes {
		ev.Tracks = append(ev.Tracks, event.EventTrack{ID: uint64(i + 1), Speed: 0.1, Seconds: 1, Class: c, ClassScore: 0.7})
	}
	return ev
}

// TestAPIClassFilter: class= keeps the events with a track of that class; an unknown class is refused
// with the parameter named.
func TestAPIClassFilter(t *testing.T) {
	f := newAPIFixture(t, "")
	f.publish(t, classed("object_right", 0, "person"))
	f.publish(t, classed("object_left", time.Second, "vehicle", "other"))
	f.publish(t, classed("multi_object", 2*time.Second, "person", "vehicle"))
	f.publish(t, classed("pan", 3*time.Second))
	query := func(q string) []string {
		code, _, body := f.do(t, "GET", "/api/v1/events?order=asc&"+q, "")
		require.Equal(t, 200, code, string(body))
		var page event.Page
		require.NoError(t, json.Unmarshal(body, &page))
		var out []string
		for _, ev := range page.Events {
			out = append(out, ev.Label)
		}
		return out
	}
	require.Equal(t, []string{"object_right", "multi_object"}, query("class=person"))
	require.Equal(t, []string{"object_left", "multi_object"}, query("class=vehicle"))
	require.Equal(t, []string{"object_left"}, query("class=other"))
	require.Equal(t, []string{"multi_object"}, query("class=vehicle&label=multi_object"))
	require.Len(t, query(""), 4)

	code, _, body := f.do(t, "GET", "/api/v1/events?class=dog", "")
	require.Equal(t, 400, code, string(body))
	var e struct{ Error string }
	require.NoError(t, json.Unmarshal(body, &e))
	require.Equal(t, `class: want one of [person vehicle other], got "dog"`, e.Error)

	// The class travels with the event.
	code, _, body = f.do(t, "GET", "/api/v1/events?class=other", "")
	require.Equal(t, 200, code)
	var page event.Page
	require.NoError(t, json.Unmarshal(body, &page))
	require.Equal(t, "other", page.Events[0].Tracks[1].Class)
	require.InDelta(t, 0.7, page.Events[0].Tracks[1].ClassScore, 1e-9)
}
