package pipeline

import (
	"bytes"
	"context"
	"image/jpeg"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/track"
)

// Zones and masks on the scripted scene (issue 14): the object crosses left to right in the band
// y = 0.45..0.77 at 2.4-5.6 s, the camera pans at 8.0-10.4 s.

// roadBand is a polygon around the band the scripted scene's object crosses.
var roadBand = [][]float64{{0, 0.4}, {1, 0.4}, {1, 0.85}, {0, 0.85}}

// swayMask covers the scripted scene's swaying patch (x 0.70-0.90, y 0.10-0.35 of the picture): the
// tree an operator masks.
var swayMask = [][]float64{{0.68, 0.05}, {0.93, 0.05}, {0.93, 0.4}, {0.68, 0.4}}

// analyzeScene runs the scripted scene through the serving path (shipped model, ungated so that the
// test checks the masks and zones alone) for a camera with the given zones and masks.
func analyzeScene(t *testing.T, m *Model, zones []config.Zone, masks [][][]float64) []event.Event {
	t.Helper()
	cam := config.Camera{Name: "scene", URL: "rtsp://h/x", Zones: zones, Masks: masks}
	require.NoError(t, cam.Validate(config.DefaultGate()))
	off := false
	var evs []event.Event
	_, err := AnalyzeFile(context.Background(), sceneClip, AnalyzeOptions{Classifier: m, Features: m.Features,
		Gate: config.Gate{Enabled: &off}, Thresholds: config.Thresholds{MinScore: 0.5}, Scene: track.ConfigFor(cam)},
		func(ev event.Event) { evs = append(evs, ev) })
	require.NoError(t, err)
	return evs
}

func modelEvents(evs []event.Event) []event.Event {
	var out []event.Event
	for _, ev := range evs {
		if !strings.HasPrefix(ev.Label, "zone_") {
			out = append(out, ev)
		}
	}
	return out
}

func TestMaskOverMoverRemovesItsEvents(t *testing.T) {
	m := loadShippedModel(t)
	plain := modelEvents(analyzeScene(t, m, nil, nil))
	t.Logf("no mask:\n%s", describe(plain))
	require.Contains(t, labels(plain), "object_right")
	require.Contains(t, labels(plain), "pan")

	masked := modelEvents(analyzeScene(t, m, nil, [][][]float64{roadBand}))
	t.Logf("mask over the crossing:\n%s", describe(masked))
	for _, ev := range masked {
		// The crossing is at 2.4-5.6 s: nothing may happen then. (Masking the middle of a pan leaves
		// the model two moving halves: at its end it may call a clip object_left.)
		start, end := ev.Start.Sub(time.Unix(0, 0)).Seconds(), ev.End.Sub(time.Unix(0, 0)).Seconds()
		require.False(t, end > 2.4 && start < 5.6, "a mover inside the mask raised %s at [%.2f, %.2f]", ev.Label, start, end)
	}
	require.Contains(t, labels(masked), "pan", "the pan outside the mask still raises its event")

	// A mask elsewhere (the sky) leaves the crossing alone.
	sky := modelEvents(analyzeScene(t, m, nil, [][][]float64{{{0, 0}, {0.3, 0}, {0.3, 0.2}, {0, 0.2}}}))
	require.Contains(t, labels(sky), "object_right")
}

func TestZoneRestrictsAlerts(t *testing.T) {
	m := loadShippedModel(t)
	zones := []config.Zone{
		{Name: "road", Polygon: roadBand, Labels: []string{"object_right"}},
		{Name: "sky", Polygon: [][]float64{{0, 0}, {1, 0}, {1, 0.1}, {0, 0.1}}},
	}
	evs := modelEvents(analyzeScene(t, m, zones, nil))
	t.Logf("events:\n%s", describe(evs))
	var crossing *event.Event
	for i, ev := range evs {
		if ev.Label == "object_right" {
			crossing = &evs[i]
		}
	}
	require.NotNil(t, crossing, "the crossing is an event")
	require.Equal(t, []string{"road"}, crossing.Zones)
	require.False(t, crossing.NoAlert)
	require.NotEmpty(t, crossing.Tracks)
	require.Equal(t, "right", crossing.Tracks[0].Direction)
	// Its track carries an object class from its compressed-domain features (docs/MODELS.md).
	require.Contains(t, event.TrackClasses, crossing.Tracks[0].Class)
	require.Greater(t, crossing.Tracks[0].ClassScore, 1.0/3)
	// The keyframe shows the box drawn: red pixels along its edge.
	img, err := jpeg.Decode(bytes.NewReader(crossing.Keyframe))
	require.NoError(t, err)
	red := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r > 0xb000 && g < 0x6000 && bl < 0x6000 {
				red++
			}
		}
	}
	require.Greater(t, red, 50, "the track's box is drawn on the keyframe")
	for _, ev := range evs {
		if ev.Label != "object_right" {
			require.True(t, ev.NoAlert, "%s touched no zone listing it: no alert", ev.Label)
		}
	}
	// internal/app TestZoneAlertsThroughTheService sends these events through the event service.
}

func TestZoneEnterLeaveDwell(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg CLI not found")
	}
	m := loadShippedModel(t)
	zones := []config.Zone{
		{Name: "left", Polygon: [][]float64{{0, 0}, {0.5, 0}, {0.5, 1}, {0, 1}}},
		{Name: "right", Polygon: [][]float64{{0.5, 0}, {1, 0}, {1, 1}, {0.5, 1}}, Dwell: config.Duration(time.Second)},
	}
	var got []string
	at := map[string]float64{}
	for _, ev := range analyzeScene(t, m, zones, [][][]float64{swayMask}) {
		if !strings.HasPrefix(ev.Label, "zone_") {
			continue
		}
		key := ev.Label + " " + ev.Zones[0]
		got = append(got, key)
		at[key] = ev.End.Sub(time.Unix(0, 0)).Seconds()
		require.Len(t, ev.Tracks, 1)
		t.Logf("%s [%.2f, %.2f] track %+v", key, ev.Start.Sub(time.Unix(0, 0)).Seconds(), at[key], ev.Tracks[0])
		if key != "zone_enter left" { // entering the picture, the box grows: no direction yet
			require.Equal(t, "right", ev.Tracks[0].Direction, key)
		}
	}
	t.Logf("zone events: %v at %v", got, at)
	// One track: it enters the left zone, crosses into the right one (entering it before it has quite
	// left the left one: the hysteresis of a box on the edge), dwells there a second, and leaves.
	require.ElementsMatch(t, []string{"zone_enter left", "zone_leave left", "zone_enter right", "zone_dwell right", "zone_leave right"}, got)
	require.Less(t, at["zone_enter left"], at["zone_leave left"])
	require.Less(t, at["zone_enter right"], at["zone_dwell right"])
	require.Less(t, at["zone_dwell right"], at["zone_leave right"])
	// The object's centre crosses x = 0.5 at about 4.1 s and leaves the picture at 5.6 s.
	require.InDelta(t, 2.8, at["zone_enter left"], 0.5)
	require.InDelta(t, 4.1, at["zone_leave left"], 0.4)
	require.InDelta(t, 4.1, at["zone_enter right"], 0.4)
	require.InDelta(t, at["zone_enter right"]+1, at["zone_dwell right"], 0.1)
	require.InDelta(t, 5.6, at["zone_leave right"], 0.4)
}

// TestEventizerZonesAcrossReplace: the eventizer keeps the zones an open event touched in its own
// state (not on the event) and names them when it publishes; a camera replaced with other zones keeps
// the touched zones that still exist by name, and the new zones decide the alert.
func TestEventizerZonesAcrossReplace(t *testing.T) {
	e, got, _ := eventizerFor(t)
	e.zones = track.NewZoneSet([]track.Zone{{Name: "a"}, {Name: "b"}, {Name: "c"}})
	t0 := time.Unix(1000, 0)
	clip := func(i int, mask uint64) {
		s := time.Duration(i) * 500 * time.Millisecond
		job := &clipJob{startPTS: s, endPTS: s + 450*time.Millisecond, start: t0.Add(s), end: t0.Add(s + 450*time.Millisecond),
			zoneMask: mask}
		e.observe(job, Classification{Label: "object_left", Score: 0.9})
	}
	clip(0, 0b010)
	clip(1, 0b100)
	e.setZones(track.NewZoneSet([]track.Zone{{Name: "c", Labels: []string{"object_right"}}, {Name: "b"}}))
	e.flush()
	require.Len(t, *got, 1)
	require.Equal(t, []string{"c", "b"}, (*got)[0].Zones, "b and c kept, in the new zones' order")
	require.True(t, (*got)[0].NoAlert, "the new zones alert for object_right only")

	e.zones = nil
	clip(10, 0b1)
	e.flush()
	require.Len(t, *got, 2)
	require.Empty(t, (*got)[1].Zones, "a camera without zones names none")
	require.False(t, (*got)[1].NoAlert)
}
