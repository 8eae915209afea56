package diffusion

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEventPrompt(t *testing.T) {
	day := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	night := time.Date(2026, 11, 26, 23, 30, 0, 0, time.UTC)
	cases := []struct {
		label, scene string
		at           time.Time
		want         string
	}{
		{"object_left", "street", day, "a person moving left on the street at day"},
		{"object_right", "driveway", night, "a person moving right in the driveway at night"},
		{"multi_object", "park", day, "two people standing still in the park at day"},
		{"tamper", "", night, "camera tampered, lens covered, street at night"},
		{"tamper", "Park ", day, "camera tampered, lens covered, park at day"},
		{"pan", "street", day, "empty street at day"},
		{"zoom", "driveway", day, "empty driveway at day"},
		{"shake", "park", night, "empty park at night"},
		{"illumination", "street", night, "empty street at night"},
		{"scene_change", "garage", day, "empty street at day"},
		{"defocus", "driveway", night, "camera out of focus, driveway at night"},
		{"no_such_label", "", day, "empty street at day"},
		{"OBJECT_LEFT", "street", time.Date(2026, 1, 1, 5, 59, 0, 0, time.UTC), "a person moving left on the street at night"},
		{"object_left", "street", time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC), "a person moving left on the street at day"},
		{"object_left", "street", time.Date(2026, 1, 1, 18, 0, 0, 0, time.UTC), "a person moving left on the street at night"},
	}
	for _, c := range cases {
		require.Equal(t, c.want, EventPrompt(c.label, c.scene, c.at), "%s/%s/%s", c.label, c.scene, c.at)
	}
}

// TestEventPromptInVocabulary checks that every prompt EventPrompt can make is a caption models/thumbnail
// was trained on (captions.txt lists every canonical caption of its grammar).
func TestEventPromptInVocabulary(t *testing.T) {
	known := map[string]bool{}
	f, err := os.Open(filepath.Join("..", "models", "thumbnail", "captions.txt"))
	require.NoError(t, err)
	s := bufio.NewScanner(f)
	for s.Scan() {
		known[strings.TrimSpace(s.Text())] = true
	}
	require.NoError(t, f.Close())
	require.Len(t, known, 360)
	labels := []string{EventObjectLeft, EventObjectRight, EventMultiObject, EventPan, EventZoom, EventShake,
		EventIllumination, EventTamper, EventSceneChange, EventDefocus}
	for _, l := range labels {
		for _, scene := range []string{"street", "driveway", "park"} {
			for _, h := range []int{3, 12} {
				p := EventPrompt(l, scene, time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC))
				require.True(t, known[p], "%q is not a caption of the model's vocabulary", p)
			}
		}
	}
}
