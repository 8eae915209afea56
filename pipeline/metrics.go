package pipeline

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mvwatch/mvwatch/internal/pregate"
)

// Metric label names.
const (
	labelCamera   = "camera"
	labelQueue    = "queue"
	labelDecision = "decision"
	labelStage    = "stage"
	labelLabel    = "label"
	labelState    = "state"
	labelWebhook  = "webhook"
	labelResult   = "result"
	labelRoute    = "route"
	labelCode     = "code"
	labelKind     = "kind"
)

// Metrics holds every mvwatch metric. NewMetrics registers them on an injected registry; the stages
// (or the code that wires them) feed them. Camera labels carry only the configured camera name, never
// a URL. docs/grafana-dashboard.json charts these names.
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

	// Events counts emitted events: mvwatch_events_total{camera,label}.
	Events *prometheus.CounterVec
	// EventLatency is the time from a clip's end to its event being stored:
	// mvwatch_event_latency_seconds.
	EventLatency prometheus.Histogram
	// StoreWriteSeconds is the time of one durable event write: mvwatch_store_write_seconds.
	StoreWriteSeconds prometheus.Histogram
	// EventUpdates counts stage results written onto stored events, by kind ("caption", "thumbnail")
	// and result ("stored", "failed"): mvwatch_event_updates_total{kind,result}.
	EventUpdates *prometheus.CounterVec

	// WebhookDeliveries counts webhook POSTs by final result ("delivered", "failed"):
	// mvwatch_webhook_deliveries_total{webhook,result}.
	WebhookDeliveries *prometheus.CounterVec
	// WebhookRetries counts retried webhook POSTs: mvwatch_webhook_retries_total{webhook}.
	WebhookRetries *prometheus.CounterVec
	// WebhookDrops counts events a full webhook queue dropped: mvwatch_webhook_dropped_total{webhook}.
	WebhookDrops *prometheus.CounterVec

	// SSESubscribers is the number of live-event subscribers: mvwatch_sse_subscribers.
	SSESubscribers prometheus.Gauge
	// SSEDrops counts events dropped for slow live subscribers: mvwatch_sse_dropped_total.
	SSEDrops prometheus.Counter

	// HTTPRequests counts API requests: mvwatch_http_requests_total{route,code}.
	HTTPRequests *prometheus.CounterVec
	// HTTPSeconds is the API request duration: mvwatch_http_request_seconds{route}.
	HTTPSeconds *prometheus.HistogramVec

	// PreGate holds the pre-decode gate's mvwatch_pregate_* series (package pregate).
	PreGate *pregate.Metrics
}

// latencyBuckets span 100 µs to about 6.5 s.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 17)

// CameraStates lists the camera states that CameraState exports.
var CameraStates = []CameraPhase{PhaseStarting, PhaseRunning, PhaseReconnecting, PhaseFailed, PhaseStopped, PhaseDisabled}

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
		FramesDecoded:     cv("mvwatch_frames_decoded_total", "Frames decoded.", labelCamera),
		PacketsLost:       cv("mvwatch_packets_lost_total", "RTP packets lost.", labelCamera),
		Reconnects:        cv("mvwatch_reconnects_total", "Source reconnections.", labelCamera),
		HWAccelFallbacks:  cv("mvwatch_hwaccel_fallbacks_total", "Hardware decoders that fell back to software.", labelCamera),
		CameraState:       gv("mvwatch_camera_state", "1 for the camera's current state, 0 for the others.", labelCamera, labelState),
		DecodeSeconds:     hv("mvwatch_decode_seconds", "Time to decode one frame.", labelCamera),
		ExtractSeconds:    hv("mvwatch_extract_seconds", "Time to extract motion-vector and residual features of one frame.", labelCamera),
		InferenceSeconds:  h("mvwatch_inference_seconds", "Time of one inference batch.", latencyBuckets),
		BatchSize:         h("mvwatch_inference_batch_size", "Clips per inference batch.", []float64{1, 2, 4, 8, 16, 32, 64, 128}),
		EarlyExits:        cv("mvwatch_early_exits_total", "Clips by the model stage whose exit decided them.", labelStage),
		QueueDepth:        gv("mvwatch_queue_depth", "Items in a bounded queue.", labelQueue, labelCamera),
		QueueDrops:        cv("mvwatch_queue_dropped_total", "Items dropped by a full bounded queue.", labelQueue, labelCamera),
		GateFrames:        cv("mvwatch_gate_frames_total", "Frames by motion-gate decision (pass or skip).", labelCamera, labelDecision),
		GateSkipRatio:     gv("mvwatch_gate_skip_ratio", "Fraction of frames the motion gate skipped.", labelCamera),
		Events:            cv("mvwatch_events_total", "Events emitted.", labelCamera, labelLabel),
		EventLatency:      h("mvwatch_event_latency_seconds", "Time from a clip's end to its event being stored.", latencyBuckets),
		StoreWriteSeconds: h("mvwatch_store_write_seconds", "Time of one durable event write.", latencyBuckets),
		EventUpdates:      cv("mvwatch_event_updates_total", "Caption and thumbnail results written onto stored events.", labelKind, labelResult),
		WebhookDeliveries: cv("mvwatch_webhook_deliveries_total", "Webhook deliveries by final result.", labelWebhook, labelResult),
		WebhookRetries:    cv("mvwatch_webhook_retries_total", "Webhook POSTs retried.", labelWebhook),
		WebhookDrops:      cv("mvwatch_webhook_dropped_total", "Events dropped by a full webhook queue.", labelWebhook),
		SSESubscribers:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_sse_subscribers", Help: "Live-event subscribers."}),
		SSEDrops:          prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_sse_dropped_total", Help: "Events dropped for slow live-event subscribers."}),
		HTTPRequests:      cv("mvwatch_http_requests_total", "HTTP API requests.", labelRoute, labelCode),
		HTTPSeconds:       hv("mvwatch_http_request_seconds", "HTTP API request duration.", labelRoute),
	}
	var errs []error
	for _, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	pg, err := pregate.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	m.PreGate = pg
	return m, nil
}

// collectors lists every metric of m.
func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.FramesDecoded, m.PacketsLost, m.Reconnects, m.HWAccelFallbacks, m.CameraState,
		m.DecodeSeconds, m.ExtractSeconds, m.InferenceSeconds, m.BatchSize, m.EarlyExits,
		m.QueueDepth, m.QueueDrops, m.GateFrames, m.GateSkipRatio, m.Events, m.EventLatency,
		m.StoreWriteSeconds, m.EventUpdates, m.WebhookDeliveries, m.WebhookRetries, m.WebhookDrops,
		m.SSESubscribers, m.SSEDrops, m.HTTPRequests, m.HTTPSeconds,
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
func (m *Metrics) SetCameraState(camera string, state CameraPhase) {
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
	m.Events.DeletePartialMatch(l)
}
