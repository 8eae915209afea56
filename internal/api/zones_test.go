package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/event/eventtest"
	"github.com/mvwatch/mvwatch/internal/zone"
)

func TestAPICameraZonesValidated(t *testing.T) {
	f := newAPIFixture(t, "")
	for _, c := range []struct{ body, want string }{
		{`{"name":"x","url":"rtsp://h/","zones":[{"name":"d","polygon":[[0,0],[1,1],[1,0],[0,1]]}]}`,
			`invalid camera: zones[0].polygon: self-intersecting at edge 2 (crosses edge 0)`},
		{`{"name":"x","url":"rtsp://h/","zones":[{"name":"d","polygon":[[0,0],[1.5,0],[1,1]]}]}`,
			`invalid camera: zones[0].polygon: point 1 (1.5, 0) outside [0,1]`},
		{`{"name":"x","url":"rtsp://h/","masks":[[]]}`,
			`invalid camera: masks[0]: required: 3 or more [x, y] points in [0,1]`},
		{`{"name":"x","url":"rtsp://h/","zones":[{"name":"d","polygon":[[0,0],[0.5,0.5],[1,1]]}]}`,
			`invalid camera: zones[0].polygon: zero area (all points on one line)`},
	} {
		code, _, body := f.do(t, "POST", "/api/v1/cameras", c.body)
		require.Equal(t, 400, code, string(body))
		var e struct{ Error string }
		require.NoError(t, json.Unmarshal(body, &e))
		require.Equal(t, c.want, e.Error)
	}
	code, _, body := f.do(t, "POST", "/api/v1/cameras", `{"name":"yard","url":"rtsp://h/",`+
		`"zones":[{"name":"drive","polygon":[[0,0.5],[1,0.5],[1,1],[0,1]],"labels":["object_right"],"dwell":"5s"}],`+
		`"masks":[[[0.7,0],[1,0],[1,0.3]]]}`)
	require.Equal(t, 201, code, string(body))
	stored, err := f.cams.Get("yard")
	require.NoError(t, err)
	require.Equal(t, "drive", stored.Zones[0].Name)
	require.Equal(t, 5*time.Second, stored.Zones[0].Dwell.D())
	require.Len(t, stored.MaskShapes(), 1)
}

// zoned returns an event of camera door in the given zones, with one track.
func zoned(label string, at time.Duration, zones ...string) event.Event {
	ev := eventtest.New("door", label, 0.9, eventtest.T0.Add(at))
	ev.Zones = zones
	ev.Tracks = []event.EventTrack{{ID: 1, Box: zone.Box{X0: 0.1, Y0: 0.5, X1: 0.3, Y1: 0.8}, Direction: "right", Speed: 0.2, Seconds: 1.5}}
	return ev
}

// TestAPIZoneFilter: zone= keeps the events whose zones include it, in the query API, on the live
// stream and in its Last-Event-ID replay.
func TestAPIZoneFilter(t *testing.T) {
	f := newAPIFixture(t, "")
	first := zoned("object_right", 0, "road")
	f.publish(t, first)
	f.publish(t, zoned("object_left", time.Second, "path"))
	f.publish(t, zoned("pan", 2*time.Second))
	f.publish(t, zoned("object_right", 3*time.Second, "path", "road"))

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
	require.Equal(t, []string{"object_right", "object_right"}, query("zone=road"))
	require.Equal(t, []string{"object_left", "object_right"}, query("zone=path"))
	require.Equal(t, []string{"object_left"}, query("zone=path&label=object_left"))
	require.Empty(t, query("zone=sky"))
	require.Len(t, query(""), 4)

	// Live: replay after the first event, then live events, both filtered by zone.
	resp, rd := f.openLive(t, "?zone=path", "Last-Event-ID", first.ID)
	defer resp.Body.Close()
	got, err := rd.next()
	require.NoError(t, err)
	var ev event.Event
	require.NoError(t, json.Unmarshal([]byte(got.data), &ev))
	require.Equal(t, "object_left", ev.Label)
	got, err = rd.next()
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal([]byte(got.data), &ev))
	require.Equal(t, []string{"path", "road"}, ev.Zones)
	require.Equal(t, first.Tracks, ev.Tracks)
	require.Eventually(t, func() bool { return f.hub.Subscribers() == 1 }, 5*time.Second, time.Millisecond)
	f.publish(t, zoned("object_up", 4*time.Second, "road"))
	f.publish(t, zoned("object_down", 5*time.Second, "path"))
	got, err = rd.next()
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal([]byte(got.data), &ev))
	require.Equal(t, "object_down", ev.Label, "the live stream skips the event outside the zone")
}
