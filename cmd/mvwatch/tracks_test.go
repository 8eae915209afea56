package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/evaluate"
	"github.com/mvwatch/mvwatch/internal/track"
)

// TestTracksCommand: `mvwatch tracks -o FILE` writes one JSON line per confirmed track of a real clip,
// each with every feature, a class and boxes; bad invocations exit 2, a missing file 1.
func TestTracksCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "tracks.jsonl")
	require.Equal(t, 0, runTracks([]string{"-o", out, filepath.Join("..", "..", "testdata", "realfootage", "clips", "road_topdown.mp4")}))
	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	n := 0
	for sc.Scan() {
		var r evaluate.TrackRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		require.Len(t, r.Features, track.NumFeatures)
		require.NotEmpty(t, r.Class)
		require.NotEmpty(t, r.Boxes)
		n++
	}
	require.NoError(t, sc.Err())
	require.Equal(t, 9, n)

	require.Equal(t, 2, runTracks(nil))
	require.Equal(t, 2, runTracks([]string{"a.mp4", "b.mp4"}))
	require.Equal(t, 2, runTracks([]string{"-eval", "m.json", "a.mp4"}))
	require.Equal(t, 1, runTracks([]string{"-o", out, filepath.Join(dir, "missing.mp4")}))
	require.Equal(t, 1, runTracks([]string{"-eval", filepath.Join(dir, "missing.json")}))
}
