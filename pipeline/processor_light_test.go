package pipeline

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/internal/config"
)

// maxLumaShift runs the file through a processor (gate off) and returns the largest clip luma shift.
func maxLumaShift(t *testing.T, m *Model, path string) float64 {
	t.Helper()
	var shift float64
	off := false
	proc, err := newProcessor("f", m.Features, config.Gate{Enabled: &off}, nil, func(job *clipJob) bool {
		shift = max(shift, job.lumaShift)
		releaseJob(job)
		return true
	})
	require.NoError(t, err)
	f, err := demux.OpenFile(path, demux.DecoderConfig{MotionVectors: true, Pixels: true, Threads: 1})
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Run(context.Background(), proc.frame))
	return shift
}

// TestProcessorLumaShift: exposure adapting by 6 grey levels over a second stays under minLightShift; a
// light switched on (+50 levels at once) is far over it.
func TestProcessorLumaShift(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg CLI not found")
	}
	m := loadShippedModel(t)
	dir := t.TempDir()
	ramp, step := filepath.Join(dir, "ramp.264"), filepath.Join(dir, "step.264")
	ffmpegScene(t, ramp, "[0:v]trim=end_frame=60,eq=brightness='0.0235*min(max(t-1,0),1)':eval=frame[out]")
	ffmpegScene(t, step, "[0:v]trim=end_frame=60,eq=brightness='0.2*gte(t,2)':eval=frame[out]")
	r, s := maxLumaShift(t, m, ramp), maxLumaShift(t, m, step)
	t.Logf("largest clip luma shift: exposure ramp %.1f, light step %.1f grey levels", r, s)
	require.Less(t, r, minLightShift)
	require.Greater(t, s, 2*minLightShift)
}
