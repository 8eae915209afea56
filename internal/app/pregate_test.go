package app

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/testcam"
	"github.com/mvwatch/mvwatch/pipeline"
)

// idleSceneClip writes seconds of an idle camera (the scene's first frame with temporal sensor noise)
// followed by the scripted scene, encoded as the scene is (x264 superfast, GOP 30, no B-frames, CRF 26).
func idleSceneClip(t *testing.T, path string, seconds int) {
	t.Helper()
	graph := fmt.Sprintf("[0:v]split=2[a][b];"+
		"[a]trim=end_frame=1,loop=loop=%d:size=1:start=0,setpts=N/15/TB,noise=alls=4:allf=t[idle];"+
		"[b]setpts=PTS-STARTPTS[scene];[idle][scene]concat=n=2:v=1,setpts=N/15/TB[out]", seconds*15-1)
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-i", filepath.Join("..", "testcam", "clip", "scene.264"), "-filter_complex", graph, "-map", "[out]",
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "superfast", "-crf", "26",
		"-x264-params", "keyint=30:min-keyint=30:scenecut=0:bframes=0", "-f", "h264", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Run(), "ffmpeg: %s", stderr.String())
}

// TestServeIdleCameraSleepsThenWakes serves 20 s of an idle camera followed by the scripted scene
// over RTSP to the whole service with its default config (pre-gate on): the camera falls asleep
// (reported in its state and in mvwatch_pregate_awake), wakes for the crossing and the pan, and the
// scene's events come out as without the pre-gate.
func TestServeIdleCameraSleepsThenWakes(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg CLI not found")
	}
	clip := filepath.Join(t.TempDir(), "idle-scene.264")
	idleSceneClip(t, clip, 20)
	data, err := os.ReadFile(clip)
	require.NoError(t, err)
	src, err := ingest.NewAnnexBSource(data, ingest.AnnexBOptions{FrameRate: testcam.SceneFrameRate})
	require.NoError(t, err)
	cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Source: src})
	require.NoError(t, cam.Start())
	defer cam.Close()

	reg := prometheus.NewRegistry()
	metrics, err := pipeline.NewMetrics(reg)
	require.NoError(t, err)
	cfg := config.Default()
	require.True(t, cfg.PreGate.IsEnabled(), "the pre-gate is on by default")
	cfg.Listen.HTTP, cfg.Listen.RTSP, cfg.Listen.RTSPUDP = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.Path = filepath.Join(t.TempDir(), "events.db")
	cfg.APIToken = "s3cret-token"
	model, err := pipeline.LoadModel(filepath.Join("..", "..", "models", "mfcd"), pipeline.ModelOptions{Inference: cfg.Inference, Metrics: metrics})
	require.NoError(t, err)
	defer model.Close()
	cfg.Cameras = []config.Camera{{Name: "idle", URL: cam.URL()}}
	svc, err := New(Options{Config: cfg, Classifier: model, Features: model.Features, Registry: reg, WorkerMetrics: metrics, Logger: quietLogger()})
	require.NoError(t, err)
	require.NoError(t, svc.Start())
	defer svc.Close()
	live := subscribe(t, svc)
	defer live.close()

	state := func() bus.PreGateState {
		st, err := svc.Fleet().State("idle")
		require.NoError(t, err)
		if st.PreGate == nil {
			return bus.PreGateState{}
		}
		return *st.PreGate
	}
	eventually(t, 20*time.Second, func() bool { return state().Asleep }, "the idle camera falls asleep")
	_, body := apiGet(t, svc, "/metrics", false)
	require.Contains(t, string(body), `mvwatch_pregate_awake{camera="idle"} 0`)
	require.Positive(t, state().BufferedAccessUnits, "an asleep camera buffers its GOP")

	eventually(t, 40*time.Second, func() bool {
		labels := collapse(live.snapshot())
		return len(labels) >= 2 && labels[len(labels)-1] == "pan"
	}, "object and pan events after the idle stretch")
	require.Equal(t, []string{"object_right", "pan"}, collapse(live.snapshot()))
	st := state()
	require.Positive(t, st.WakeUps+st.KeyframeWakeUps, "woken for the scene")
	require.Less(t, st.DecodeFraction, 0.9, "the idle stretch was left undecoded")
	require.Zero(t, st.Fallbacks)
	t.Logf("pre-gate: %+v", st)
}
