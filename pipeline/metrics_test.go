package pipeline

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/bus"
)

func TestMetricsRegisterOnInjectedRegistry(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	// A second set on the same registry collides.
	_, err = NewMetrics(reg)
	require.Error(t, err)
	require.NoError(t, RegisterRuntimeCollectors(reg))

	m.FramesDecoded.WithLabelValues("door").Add(3)
	m.SetCameraState("door", bus.PhaseRunning)
	m.SetCameraState("door", bus.PhaseReconnecting)
	m.ObserveEarlyExit(0)
	m.ObserveEarlyExit(0)
	m.ObserveEarlyExit(2)
	m.BatchSize.Observe(3)
	m.ObserveGate("door", GateDecision{Pass: false, SkipRatio: 0.75})
	m.ObserveGate("door", GateDecision{Pass: true, SkipRatio: 0.6})

	require.NoError(t, testutil.CollectAndCompare(reg, strings.NewReader(`
# HELP mvwatch_camera_state 1 for the camera's current state, 0 for the others.
# TYPE mvwatch_camera_state gauge
mvwatch_camera_state{camera="door",state="disabled"} 0
mvwatch_camera_state{camera="door",state="failed"} 0
mvwatch_camera_state{camera="door",state="reconnecting"} 1
mvwatch_camera_state{camera="door",state="running"} 0
mvwatch_camera_state{camera="door",state="starting"} 0
mvwatch_camera_state{camera="door",state="stopped"} 0
# HELP mvwatch_early_exits_total Clips by the model stage whose exit decided them.
# TYPE mvwatch_early_exits_total counter
mvwatch_early_exits_total{stage="0"} 2
mvwatch_early_exits_total{stage="2"} 1
# HELP mvwatch_frames_decoded_total Frames decoded.
# TYPE mvwatch_frames_decoded_total counter
mvwatch_frames_decoded_total{camera="door"} 3
# HELP mvwatch_gate_frames_total Frames by motion-gate decision (pass or skip).
# TYPE mvwatch_gate_frames_total counter
mvwatch_gate_frames_total{camera="door",decision="pass"} 1
mvwatch_gate_frames_total{camera="door",decision="skip"} 1
# HELP mvwatch_gate_skip_ratio Fraction of frames the motion gate skipped.
# TYPE mvwatch_gate_skip_ratio gauge
mvwatch_gate_skip_ratio{camera="door"} 0.6
# HELP mvwatch_inference_batch_size Clips per inference batch.
# TYPE mvwatch_inference_batch_size histogram
mvwatch_inference_batch_size_bucket{le="1"} 0
mvwatch_inference_batch_size_bucket{le="2"} 0
mvwatch_inference_batch_size_bucket{le="4"} 1
mvwatch_inference_batch_size_bucket{le="8"} 1
mvwatch_inference_batch_size_bucket{le="16"} 1
mvwatch_inference_batch_size_bucket{le="32"} 1
mvwatch_inference_batch_size_bucket{le="64"} 1
mvwatch_inference_batch_size_bucket{le="128"} 1
mvwatch_inference_batch_size_bucket{le="+Inf"} 1
mvwatch_inference_batch_size_sum 3
mvwatch_inference_batch_size_count 1
`), "mvwatch_camera_state", "mvwatch_early_exits_total", "mvwatch_frames_decoded_total",
		"mvwatch_gate_frames_total", "mvwatch_gate_skip_ratio", "mvwatch_inference_batch_size"))

	// Removing a camera removes its series.
	m.ForgetCamera("door")
	n, err := testutil.GatherAndCount(reg, "mvwatch_frames_decoded_total", "mvwatch_camera_state")
	require.NoError(t, err)
	require.Zero(t, n)
	// Lint the metric names and help texts.
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	for _, p := range problems {
		require.True(t, strings.HasPrefix(p.Metric, "go_") || strings.HasPrefix(p.Metric, "process_"), "%s: %s", p.Metric, p.Text)
	}
}
