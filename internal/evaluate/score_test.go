package evaluate

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScoreClip(t *testing.T) {
	clip := Clip{Name: "c", Camera: "fixed", Duration: 20}
	tl := &Timeline{Duration: 20, Entries: []Entry{
		{Start: 2, End: 4, Kind: KindCross, Class: "vehicle"},
		{Start: 6, End: 8, Kind: KindCross, Class: "person"},
		{Start: 10, End: 12, Kind: KindLightChange},
		{Start: 14, End: 20, Kind: KindNothing},
	}}
	cases := []struct {
		name     string
		events   []Event
		object   Counts
		scene    Counts
		camera   Counts
		nuisance int
		camOnObj int
	}{
		{"none", nil, Counts{Entries: 2}, Counts{Entries: 1}, Counts{}, 0, 0},
		{"perfect", []Event{{Label: "object_right", Start: 2.5, End: 3.5}, {Label: "object_left", Start: 7, End: 9},
			{Label: "illumination", Start: 11, End: 11}},
			Counts{Events: 2, Matched: 2, Entries: 2, Found: 2}, Counts{Events: 1, Matched: 1, Entries: 1, Found: 1}, Counts{}, 0, 0},
		{"car as pan", []Event{{Label: "pan", Start: 3, End: 3.5}},
			Counts{Entries: 2}, Counts{Entries: 1}, Counts{Events: 1}, 0, 1},
		{"split crossing and a nuisance", []Event{{Label: "object_right", Start: 2, End: 2.5}, {Label: "multi_object", Start: 3, End: 3.5},
			{Label: "tamper", Start: 15, End: 16}},
			Counts{Events: 2, Matched: 2, Entries: 2, Found: 1}, Counts{Events: 1, Entries: 1}, Counts{}, 1, 0},
		{"exposure as object", []Event{{Label: "object_left", Start: 10.5, End: 11}},
			Counts{Events: 1, Entries: 2}, Counts{Entries: 1}, Counts{}, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ScoreClip(clip, tl, tc.events)
			require.Equal(t, tc.object, r.Groups[GroupObject], "object")
			require.Equal(t, tc.scene, r.Groups[GroupScene], "illumination/tamper")
			require.Equal(t, tc.camera, r.Groups[GroupCamera], "camera")
			require.Equal(t, tc.nuisance, r.Nuisance)
			require.Equal(t, tc.camOnObj, r.CameraOnObjects)
			require.InDelta(t, 14.0, r.Quiet, 1e-9) // 20 s minus the three 2 s entries
		})
	}
}

func TestCoveredSeconds(t *testing.T) {
	require.InDelta(t, 5.0, coveredSeconds([]Entry{{Start: 0, End: 3}, {Start: 2, End: 4}, {Start: 9, End: 12}}, 10), 1e-9)
	require.InDelta(t, 0.0, coveredSeconds(nil, 10), 1e-9)
}

func TestLabelGroup(t *testing.T) {
	for l, g := range map[string]string{"object_left": GroupObject, "object_right": GroupObject, "multi_object": GroupObject,
		"pan": GroupCamera, "zoom": GroupCamera, "shake": GroupCamera, "illumination": GroupScene, "tamper": GroupScene,
		"scene_change": GroupScene, "defocus": GroupScene, "idle": GroupNone} {
		require.Equal(t, g, LabelGroup(l), l)
	}
}

// TestShippedManifest checks the committed manifest and every timeline it names, and that the committed
// clips are there with their sha256.
func TestShippedManifest(t *testing.T) {
	m, err := LoadManifest(filepath.Join("..", "..", "testdata", "realfootage", "manifest.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(m.Clips), 8)
	require.Contains(t, m.Purpose, "EVALUATION ONLY")
	committed := 0
	for _, c := range m.Clips {
		for _, reserved := range []string{"intel-iot-devkit/sample-videos", "open-mmlab/mmaction2"} {
			require.NotEqual(t, reserved, c.Repository, "%s uses a reserved source", c.Name)
		}
		_, err := LoadTimeline(m.TimelinePath(c))
		require.NoError(t, err, c.Name)
		if c.Committed != "" {
			committed++
			require.NoError(t, checkSHA256(m.Resolve(c.Committed), c.CommittedSHA256), c.Name)
		}
	}
	require.GreaterOrEqual(t, committed, 2)
}

func TestWriteMarkdown(t *testing.T) {
	clip := Clip{Name: "c", Camera: "fixed", Static: true, Duration: 36}
	r := ScoreClip(clip, &Timeline{Duration: 36}, []Event{{Label: "tamper", Start: 1, End: 2}})
	var b bytes.Buffer
	require.NoError(t, WriteMarkdown(&b, Report{Results: []ClipResult{r}, Summary: Summarise([]ClipResult{r})}))
	require.True(t, strings.Contains(b.String(), "Nuisance on static clips: 1 events in 36.0 s = 100 per hour"), b.String())
}

func TestDuringObjects(t *testing.T) {
	tl := &Timeline{Duration: 10, Entries: []Entry{{Start: 1, End: 5, Kind: KindCross, Class: "vehicle"},
		{Start: 4, End: 6, Kind: KindLightChange}}}
	ev := []Event{{Label: "pan", Start: 2, End: 3}, {Label: "object_left", Start: 1, End: 2}, {Label: "tamper", Start: 4.5, End: 5}}
	r := ScoreClip(Clip{Name: "c", Camera: "fixed"}, tl, ev)
	require.Equal(t, map[string]int{GroupCamera: 1, GroupObject: 1}, r.DuringObjects) // the tamper overlaps the light change
	r = ScoreClip(Clip{Name: "c", Camera: "moving"}, tl, ev)
	require.Empty(t, r.DuringObjects)
	require.Zero(t, r.CameraOnObjects)
}
