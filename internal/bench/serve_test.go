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
