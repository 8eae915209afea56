package pipeline

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mvwatch/mvwatch/internal/bus"
)

// Metric label names.
const (
	labelCamera   = "camera"
	labelQueue    = "queue"
	labelDecision = "decision"
	labelStage    = "stage"
	labelState    = "state"
)

// Metrics holds the camera workers' metrics (the event service's packages own theirs). NewMetrics
// registers them on an injected registry; the worker (and the model, for the inference series) feeds
// them. Camera labels carry only the configured camera name, never a URL. docs/grafana-dashboard.json charts these names.
type Metrics struct {
	// FramesDecoded counts decoded frames: mvwatch_frames_decoded_total{camera}.
	FramesDecoded *prometheus.CounterVec
	// PacketsLost counts RTP packets lost: mvwatch_packets_lost_total{camera}.
	PacketsLost *prometheus.CounterVec
	// Reconnects counts source reconnections: mvwatch_reconnects_total{camera}.
	Reconnects *prometheus.CounterVec
	// HWAccelFallbacks counts hardware decoders that fell back to software:
	// mvwatch_hwaccel_fallbacks_total{camera}.
	HWAccelFallbacks *prometheus.CounterVec
	// CameraState is 1 for the camera's current state and 0 for the others:
	// mvwatch_camera_state{camera,state}. Set it with SetCameraState.
	CameraState *prometheus.GaugeVec

	// DecodeSeconds is the time to decode one frame: mvwatch_decode_seconds{camera}.
	DecodeSeconds *prometheus.HistogramVec
	// ExtractSeconds is the time to extract MV/residual features of one frame:
	// mvwatch_extract_seconds{camera}.
	ExtractSeconds *prometheus.HistogramVec
	// InferenceSeconds is the time of one inference batch: mvwatch_inference_seconds.
	InferenceSeconds prometheus.Histogram
	// BatchSize is the number of clips per inference batch: mvwatch_inference_batch_size.
	BatchSize prometheus.Histogram
	// EarlyExits counts clips by the model stage that decided them: mvwatch_early_exits_total{stage}.
	EarlyExits *prometheus.CounterVec

	// QueueDepth is the length of a bounded queue: mvwatch_queue_depth{queue,camera}.
	QueueDepth *prometheus.GaugeVec
	// QueueDrops counts items a full queue dropped: mvwatch_queue_dropped_total{queue,camera}.
	QueueDrops *prometheus.CounterVec

	// GateFrames counts frames by motion-gate decision ("pass" or "skip"):
	// mvwatch_gate_frames_total{camera,decision}.
	GateFrames *prometheus.CounterVec
	// GateSkipRatio is the fraction of frames the gate skipped since the camera started:
	// mvwatch_gate_skip_ratio{camera}.
	GateSkipRatio *prometheus.GaugeVec
}

// latencyBuckets span 100 µs to about 6.5 s.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 17)

// CameraStates lists the camera states that CameraState exports.
var CameraStates = []bus.CameraPhase{bus.PhaseStarting, bus.PhaseRunning, bus.PhaseReconnecting, bus.PhaseFailed, bus.PhaseStopped, bus.PhaseDisabled}

// NewMetrics creates the metrics and registers them on reg (never the global registry).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	hv := func(name, help string, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: latencyBuckets}, labels)
	}
	h := func(name, help string, buckets []float64) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	}
	gv := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	}
	m := &Metrics{
		FramesDecoded:    cv("mvwatch_frames_decoded_total", "Frames decoded.", labelCamera),
		PacketsLost:      cv("mvwatch_packets_lost_total", "RTP packets lost.", labelCamera),
		Reconnects:       cv("mvwatch_reconnects_total", "Source reconnections.", labelCamera),
		HWAccelFallbacks: cv("mvwatch_hwaccel_fallbacks_total", "Hardware decoders that fell back to software.", labelCamera),
		CameraState:      gv("mvwatch_camera_state", "1 for the camera's current state, 0 for the others.", labelCamera, labelState),
		DecodeSeconds:    hv("mvwatch_decode_seconds", "Time to decode one frame.", labelCamera),
		ExtractSeconds:   hv("mvwatch_extract_seconds", "Time to extract motion-vector and residual features of one frame.", labelCamera),
		InferenceSeconds: h("mvwatch_inference_seconds", "Time of one inference batch.", latencyBuckets),
		BatchSize:        h("mvwatch_inference_batch_size", "Clips per inference batch.", []float64{1, 2, 4, 8, 16, 32, 64, 128}),
		EarlyExits:       cv("mvwatch_early_exits_total", "Clips by the model stage whose exit decided them.", labelStage),
		QueueDepth:       gv("mvwatch_queue_depth", "Items in a bounded queue.", labelQueue, labelCamera),
		QueueDrops:       cv("mvwatch_queue_dropped_total", "Items dropped by a full bounded queue.", labelQueue, labelCamera),
		GateFrames:       cv("mvwatch_gate_frames_total", "Frames by motion-gate decision (pass or skip).", labelCamera, labelDecision),
		GateSkipRatio:    gv("mvwatch_gate_skip_ratio", "Fraction of frames the motion gate skipped.", labelCamera),
	}
	var errs []error
	for _, c := range m.Collectors() {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return m, nil
}

// Collectors lists every metric of m.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.FramesDecoded, m.PacketsLost, m.Reconnects, m.HWAccelFallbacks, m.CameraState,
		m.DecodeSeconds, m.ExtractSeconds, m.InferenceSeconds, m.BatchSize, m.EarlyExits,
		m.QueueDepth, m.QueueDrops, m.GateFrames, m.GateSkipRatio,
	}
}

// RegisterRuntimeCollectors registers the Go runtime and process collectors on reg.
func RegisterRuntimeCollectors(reg prometheus.Registerer) error {
	return errors.Join(
		reg.Register(collectors.NewGoCollector()),
		reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
	)
}

// SetCameraState sets camera's state gauge: 1 for state, 0 for the other CameraStates.
func (m *Metrics) SetCameraState(camera string, state bus.CameraPhase) {
	for _, s := range CameraStates {
		v := 0.0
		if s == state {
			v = 1
		}
		m.CameraState.WithLabelValues(camera, string(s)).Set(v)
	}
}

// ObserveEarlyExit counts one clip decided at the given model stage.
func (m *Metrics) ObserveEarlyExit(stage int) {
	m.EarlyExits.WithLabelValues(strconv.Itoa(stage)).Inc()
}

// ObserveGate feeds a camera's gate decision for one frame and its running skip ratio.
func (m *Metrics) ObserveGate(camera string, d GateDecision) {
	decision := "skip"
	if d.Pass {
		decision = "pass"
	}
	m.GateFrames.WithLabelValues(camera, decision).Inc()
	m.GateSkipRatio.WithLabelValues(camera).Set(d.SkipRatio)
}

// InitCamera creates a camera's series at zero, so that dashboards and alerts see them before the
// first frame, reconnect or fallback.
func (m *Metrics) InitCamera(camera string) {
	m.FramesDecoded.WithLabelValues(camera)
	m.PacketsLost.WithLabelValues(camera)
	m.Reconnects.WithLabelValues(camera)
	m.HWAccelFallbacks.WithLabelValues(camera)
	m.DecodeSeconds.WithLabelValues(camera)
	m.ExtractSeconds.WithLabelValues(camera)
	m.GateFrames.WithLabelValues(camera, "pass")
	m.GateFrames.WithLabelValues(camera, "skip")
	m.GateSkipRatio.WithLabelValues(camera)
	m.SetCameraState(camera, bus.PhaseStarting)
}

// InitStages creates the early-exit series of a model with n stages at zero.
func (m *Metrics) InitStages(n int) {
	for i := range n {
		m.EarlyExits.WithLabelValues(strconv.Itoa(i))
	}
}

// ForgetCamera deletes every series of a removed camera.
func (m *Metrics) ForgetCamera(camera string) {
	l := prometheus.Labels{labelCamera: camera}
	m.FramesDecoded.DeletePartialMatch(l)
	m.PacketsLost.DeletePartialMatch(l)
	m.Reconnects.DeletePartialMatch(l)
	m.HWAccelFallbacks.DeletePartialMatch(l)
	m.CameraState.DeletePartialMatch(l)
	m.DecodeSeconds.DeletePartialMatch(l)
	m.ExtractSeconds.DeletePartialMatch(l)
	m.QueueDepth.DeletePartialMatch(l)
	m.QueueDrops.DeletePartialMatch(l)
	m.GateFrames.DeletePartialMatch(l)
	m.GateSkipRatio.DeletePartialMatch(l)
}
