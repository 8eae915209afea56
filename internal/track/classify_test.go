package track

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/models/trackclass"
)

// TestClassifierFixture: the Go forward pass of the shipped model gives the probabilities the Python
// side computed for the same inputs (models/trackclass/fixture.json, written by
// `python -m training.trackclass train`).
func TestClassifierFixture(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "models", "trackclass", "fixture.json"))
	require.NoError(t, err)
	var fx struct {
		Inputs        [][]float64 `json:"inputs"`
		Probabilities [][]float64 `json:"probabilities"`
	}
	require.NoError(t, json.Unmarshal(b, &fx))
	require.NotEmpty(t, fx.Inputs)
	c, err := DefaultClassifier()
	require.NoError(t, err, "the embedded model must load: without it tracks carry no class")
	require.Equal(t, []string{ClassPerson, ClassVehicle, ClassOther}, c.Classes())
	seen := map[string]bool{}
	for i, x := range fx.Inputs {
		require.Len(t, x, NumFeatures)
		p := c.Probabilities(x, nil)
		require.InDeltaSlice(t, fx.Probabilities[i], p, 1e-9, "input %d", i)
		cls, score := c.Classify(x)
		best := 0
		for k := range p {
			if p[k] > p[best] {
				best = k
			}
		}
		require.Equal(t, c.Classes()[best], cls)
		require.Equal(t, p[best], score)
		seen[cls] = true
	}
	require.Len(t, seen, 3, "the fixture's inputs reach every class")
}

// TestLoadClassifierRefuses: a model for other features, or whose shapes do not chain, is refused.
func TestLoadClassifierRefuses(t *testing.T) {
	var m map[string]any
	require.NoError(t, json.Unmarshal(trackclass.Model, &m))
	for name, c := range map[string]struct {
		mutate func(m map[string]any)
		want   string
	}{
		"schema":   {func(m map[string]any) { m["schema"] = "x" }, `schema "x"`},
		"features": {func(m map[string]any) { m["features"].([]any)[0] = "box_colour" }, "features [box_colour"},
		"mean":     {func(m map[string]any) { m["mean"] = []any{0.0} }, "1 means"},
		"std":      {func(m map[string]any) { m["std"].([]any)[2] = 0.0 }, "feature w_norm: deviation 0"},
		"classes":  {func(m map[string]any) { m["classes"] = []any{"person"} }, "outputs for 1 classes"},
		"row": {func(m map[string]any) {
			l := m["layers"].([]any)[0].(map[string]any)
			l["weight"].([]any)[0] = []any{1.0}
		}, "row 0: 1 weights"},
		"activation": {func(m map[string]any) { m["layers"].([]any)[0].(map[string]any)["activation"] = "tanh" }, `activation "tanh"`},
	} {
		var cp map[string]any
		b, _ := json.Marshal(m)
		require.NoError(t, json.Unmarshal(b, &cp))
		c.mutate(cp)
		b, _ = json.Marshal(cp)
		_, err := LoadClassifier(b)
		require.ErrorIs(t, err, ErrModel, name)
		require.True(t, strings.Contains(err.Error(), c.want), "%s: %v", name, err)
	}
}

// TestSceneTracksCarryClass: on the scripted scene the sprite's track gets features that describe it
// (its box size and motion) and a class; with NoClass it gets none. (runScene decodes without
// residuals, so the residual features stay 0 here.)
func TestSceneTracksCarryClass(t *testing.T) {
	frames := runScene(t, sceneClip, Config{})
	var last *Track // the sprite's: the longest track, as last seen
	for i := range frames {
		for j := range frames[i].result.Tracks {
			if tr := &frames[i].result.Tracks[j]; last == nil || tr.Hits >= last.Hits {
				last = tr
			}
		}
	}
	require.NotNil(t, last)
	require.Contains(t, []string{ClassPerson, ClassVehicle, ClassOther}, last.Class)
	require.Greater(t, last.ClassScore, 1.0/3)
	f := last.Features(nil)
	require.Len(t, f, NumFeatures)
	// The sprite is 34x78 px: the box is taller than wide, a few tens of pixels each way, and moves
	// steadily one way.
	require.InDelta(t, 34, exp(f[0]), 25, "mean box width")
	require.InDelta(t, 78, exp(f[1]), 40, "mean box height")
	require.Less(t, f[4], 0.0, "log aspect: taller than wide")
	require.Greater(t, f[11], 0.8, "direction consistency")
	require.Greater(t, f[14], 0.2, "fill")
	require.Greater(t, f[18], 0.0, "dwell")

	for _, fr := range runScene(t, sceneClip, Config{NoClass: true}) {
		for _, tr := range fr.result.Tracks {
			require.Empty(t, tr.Class)
		}
	}
}
