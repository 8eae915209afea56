package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAnalyzeScene runs `mvwatch analyze` (the real binary, the shipped model) over the scripted scene and
// checks its JSON lines: the crossing, then the pan, each inside its scripted segment.
func TestAnalyzeScene(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "mvwatch")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	scene := filepath.Join("..", "..", "internal", "testcam", "clip", "scene.264")
	cmd := exec.Command(bin, "analyze", "-model", filepath.Join("..", "..", "models", "mfcd"), scene)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stderr: %s", stderr.String())

	var truth struct {
		Segments []struct {
			Label      string
			Start, End float64
		}
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "testcam", "clip", "scene.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &truth))

	var labels []string
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var ev analyzedEvent
		require.NoError(t, json.Unmarshal(sc.Bytes(), &ev), "line %q", sc.Text())
		labels = append(labels, ev.Label)
		require.GreaterOrEqual(t, ev.Score, 0.5)
		require.LessOrEqual(t, ev.Start, ev.End)
		matched := false
		for _, seg := range truth.Segments {
			if seg.Label == ev.Label && ev.Start < seg.End+0.5 && ev.End > seg.Start-0.5 {
				matched = true
			}
		}
		require.True(t, matched, "%+v lies outside every %s segment", ev, ev.Label)
	}
	require.Equal(t, []string{"object_right", "pan"}, labels)
	require.Contains(t, stderr.String(), "gate skipped")
}
