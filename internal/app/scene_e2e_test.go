package app

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/testcam"

	"github.com/mvwatch/mvwatch/internal/event"

	"github.com/mvwatch/mvwatch/pipeline"
)

// sceneTruth is internal/testcam/clip/scene.json: the scripted scene's segments.
type sceneTruth struct {
	FPS      float64 `json:"fps"`
	Segments []struct {
		Label      string  `json:"label"`
		Start, End float64 // seconds
	} `json:"segments"`
}

// collapse returns labels with consecutive repeats removed.
func collapse(evs []event.Event) []string {
	var out []string
	for _, ev := range evs {
		if len(out) == 0 || out[len(out)-1] != ev.Label {
			out = append(out, ev.Label)
		}
	}
	return out
}

// TestServeScriptedScene is the end-to-end test of `serve`: the built-in test camera plays the scripted
// scene (idle, then an object crossing left to right, then a camera pan, each with idle between) over
// RTSP; the service with the shipped model must emit the crossing and the pan, in that order, over the
// live stream and in the query API, with times inside the scripted segments, and /metrics must move.
func TestServeScriptedScene(t *testing.T) {
	modelDir := filepath.Join("..", "..", "models", "mfcd")
	var truth sceneTruth
	b, err := os.ReadFile(filepath.Join("..", "testcam", "clip", "scene.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &truth))

	src, err := ingest.NewAnnexBSource(testcam.SceneClip(), ingest.AnnexBOptions{FrameRate: testcam.SceneFrameRate})
	require.NoError(t, err)
	cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Source: src})
	require.NoError(t, cam.Start())
	defer cam.Close()

	reg := prometheus.NewRegistry()
	metrics, err := pipeline.NewMetrics(reg)
	require.NoError(t, err)
	cfg := config.Default()
	cfg.Listen.HTTP, cfg.Listen.RTSP, cfg.Listen.RTSPUDP = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.Path = filepath.Join(t.TempDir(), "events.db")
	cfg.APIToken = "s3cret-token"
	model, err := pipeline.LoadModel(modelDir, pipeline.ModelOptions{Inference: cfg.Inference, Metrics: metrics})
	require.NoError(t, err)
	defer model.Close()
	var clips atomic.Int64
	counting := classifierFunc(func(ctx context.Context, clip []float32) (pipeline.Classification, error) {
		clips.Add(1)
		return model.Classify(ctx, clip)
	})
	cfg.Cameras = []config.Camera{{Name: "scene", URL: cam.URL()}}
	svc, err := New(Options{Config: cfg, Classifier: counting, Features: model.Features, Registry: reg, WorkerMetrics: metrics, Logger: quietLogger()})
	require.NoError(t, err)
	require.NoError(t, svc.Start())
	defer svc.Close()
	live := subscribe(t, svc)
	defer live.close()

	// The scene lasts 12.8 s at real-time pace; the last event closes when the scene goes quiet.
	eventually(t, 40*time.Second, func() bool {
		labels := collapse(live.snapshot())
		return len(labels) >= 2 && labels[len(labels)-1] == "pan"
	}, "object and pan events")
	evs := live.snapshot()
	require.Equal(t, []string{"object_right", "pan"}, collapse(evs), "events: %+v", evs)

	// Event times (offsets from the first frame) fall inside or next to their scripted segments.
	first := evs[0].Start
	for _, ev := range evs {
		start, end := ev.Start.Sub(first).Seconds(), ev.End.Sub(first).Seconds()
		for _, seg := range truth.Segments {
			if seg.Label == ev.Label {
				require.Greater(t, end, seg.Start-1.0, "%s event [%.1f, %.1f] vs segment [%.1f, %.1f]", ev.Label, start, end, seg.Start, seg.End)
			}
		}
	}

	_, body := apiGet(t, svc, "/api/v1/events?camera=scene&order=asc&limit=100", true)
	var page struct{ Events []event.Event }
	require.NoError(t, json.Unmarshal(body, &page))
	require.Equal(t, []string{"object_right", "pan"}, collapse(page.Events))

	// Every event keeps its coded video: a clip from before its start to after its end (issue 16).
	for _, ev := range page.Events {
		p := requireEventClip(t, svc, ev)
		require.Greater(t, p.Duration, ev.End.Sub(ev.Start).Seconds(), "the clip covers the event")
	}

	_, body = apiGet(t, svc, "/metrics", false)
	for _, m := range []string{`mvwatch_events_total{camera="scene",label="object_right"}`, `mvwatch_events_total{camera="scene",label="pan"}`,
		`mvwatch_gate_frames_total{camera="scene",decision="skip"}`, `mvwatch_inference_batch_size_count`,
		`mvwatch_pregate_access_units_total{camera="scene",outcome="decoded"}`, `mvwatch_pregate_awake{camera="scene"}`,
		`mvwatch_clips_written_total`, `mvwatch_clips_stored_bytes`} {
		require.Contains(t, string(body), m)
	}
	st, err := svc.Fleet().State("scene")
	require.NoError(t, err)
	require.Greater(t, st.SkipRatio, 0.1, "the gate skips the idle stretches")
	require.Positive(t, clips.Load())
	// The pre-decode gate is on by default and reported with the camera's state.
	require.NotNil(t, st.PreGate)
	require.Positive(t, st.PreGate.AccessUnits, "%+v", *st.PreGate)
	_, body = apiGet(t, svc, "/api/v1/cameras/scene/state", true)
	require.Contains(t, string(body), `"pregate":{"asleep":`)
}

// classifierFunc adapts a function to pipeline.Classifier.
type classifierFunc func(ctx context.Context, clip []float32) (pipeline.Classification, error)

func (f classifierFunc) Classify(ctx context.Context, clip []float32) (pipeline.Classification, error) {
	return f(ctx, clip)
}
