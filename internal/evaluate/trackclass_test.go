package evaluate

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/track"
)

// TestTrackClassRegression runs the tracker with the shipped class model (models/trackclass) over the
// real clips committed under testdata/realfootage/clips (evaluation footage: nothing was trained or
// tuned on it) and checks what it does today, track by track: how many confirmed tracks each clip has
// and, on fixed cameras, the confusion of their classes against the timeline (TrackTruth); the
// per-class precision and recall over the committed cuts. A change to the tracker, the features or the
// model that moves any of it fails here; after an intended change, update the numbers below and the
// tables of docs/MODELS.md ("Object class per track").
//
// Run: go test ./internal/evaluate -run TrackClassRegression -v
func TestTrackClassRegression(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "realfootage")
	m, err := LoadManifest(filepath.Join(dir, "manifest.json"))
	require.NoError(t, err)
	rep, err := EvaluateTrackClasses(context.Background(), m, track.Config{}, Options{CommittedOnly: true, CacheDir: t.TempDir()})
	require.NoError(t, err)
	// Measured 2026-12-03: truth person, vehicle, other -> predicted "p/v/o".
	want := map[string]struct {
		tracks                 int
		person, vehicle, other string
		predicted              string
	}{
		"road_topdown":                {9, "0/0/0", "0/5/4", "0/0/0", "0/5/4"},
		"street_residential_exposure": {5, "0/0/0", "0/3/1", "0/1/0", "0/4/1"},
		"dashcam_highway_5s":          {4, "", "", "", "0/0/4"},
	}
	row := func(m map[string]int) string {
		return fmt.Sprintf("%d/%d/%d", m[track.ClassPerson], m[track.ClassVehicle], m[track.ClassOther])
	}
	require.Len(t, rep.Clips, len(want))
	for _, c := range rep.Clips {
		w, ok := want[c.Clip]
		require.True(t, ok, c.Clip)
		require.Equal(t, w.tracks, c.Tracks, c.Clip)
		require.Equal(t, w.predicted, row(c.Predicted), c.Clip)
		if c.Camera == "fixed" {
			require.Equal(t, w.person, row(c.Confusion[track.ClassPerson]), c.Clip)
			require.Equal(t, w.vehicle, row(c.Confusion[track.ClassVehicle]), c.Clip)
			require.Equal(t, w.other, row(c.Confusion[track.ClassOther]), c.Clip)
		}
	}
	got := map[string]ClassCounts{}
	for _, c := range rep.Classes {
		got[c.Class] = c
	}
	require.InDelta(t, 8.0/9, got[track.ClassVehicle].Precision(), 1e-9)
	require.InDelta(t, 8.0/13, got[track.ClassVehicle].Recall(), 1e-9)
	require.Equal(t, 7, got[track.ClassVehicle].Found, "every car crossing has a vehicle track")
	require.Equal(t, 0, got[track.ClassOther].Correct)
}

// TestDumpTracksFeatures: the dump of a committed real clip carries every feature, boxes inside the
// track's time span, the prefixes in order, and residual features (the service's decode has
// residuals).
func TestDumpTracksFeatures(t *testing.T) {
	var recs []TrackRecord
	frames, err := DumpTracks(context.Background(), filepath.Join("..", "..", "testdata", "realfootage", "clips", "road_topdown.mp4"),
		track.Config{}, func(r TrackRecord) error {
			recs = append(recs, r)
			return nil
		})
	require.NoError(t, err)
	require.Equal(t, 374, frames)
	require.NotEmpty(t, recs)
	withResidual := 0
	for _, r := range recs {
		require.Len(t, r.Features, track.NumFeatures)
		for _, name := range track.FeatureNames {
			_, ok := r.Features[name]
			require.True(t, ok, name)
		}
		require.Contains(t, []string{track.ClassPerson, track.ClassVehicle, track.ClassOther}, r.Class)
		require.Equal(t, 448, r.Width)
		for _, b := range r.Boxes {
			require.GreaterOrEqual(t, b.T, r.Start)
			require.LessOrEqual(t, b.T, r.End)
		}
		for i, p := range r.Prefixes {
			require.GreaterOrEqual(t, p.Hits, PrefixHits[i])
		}
		if r.Features["log_residual"] > 0 {
			withResidual++
		}
	}
	require.Equal(t, len(recs), withResidual)
}
