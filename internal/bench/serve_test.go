package bench

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestServeOneCamera runs the serving benchmark at its smallest through internal/app: one test camera,
// the gate on, a second of measurement; the report ends with the JSON figures.
func TestServeOneCamera(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("needs the ffmpeg CLI")
	}
	var out, log bytes.Buffer
	err := Serve(ServeConfig{Cameras: "1", Gate: "on", Duration: time.Second, Warmup: time.Second, Size: "160x120",
		ModelDir: filepath.Join("..", "..", "models", "mfcd"), Out: &out, Log: &log})
	require.NoError(t, err, log.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Contains(t, lines[0], "cameras=1")
	var figures struct {
		Runs []struct {
			Cameras int     `json:"cameras"`
			MeanFPS float64 `json:"mean_fps"`
		} `json:"runs"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &figures))
	require.Len(t, figures.Runs, 1)
	require.Equal(t, 1, figures.Runs[0].Cameras)
	require.Greater(t, figures.Runs[0].MeanFPS, 0.0, "the camera's frames went through the app")
}

// TestSoakShort runs the soak for a few flaps: it must keep its bounds, sample every period, and see the
// flapping camera come back.
func TestSoakShort(t *testing.T) {
	var out, log bytes.Buffer
	err := Soak(SoakConfig{Cameras: 2, Duration: 6 * time.Second, Warmup: 3 * time.Second, Every: 3 * time.Second,
		MaxRSSGrowthMB: 200, MaxGoroutineGrowth: 60,
		ModelDir: filepath.Join("..", "..", "models", "mfcd"), Dir: t.TempDir(), Out: &out, Log: &log})
	require.NoError(t, err, "%s\n%s", out.String(), log.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res SoakResult
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &res))
	require.True(t, res.Pass)
	require.GreaterOrEqual(t, res.Flaps, 2)
	require.Len(t, res.Samples, res.Flaps+1)
	require.Positive(t, res.Samples[0].Running, "healthy cameras run")
}
