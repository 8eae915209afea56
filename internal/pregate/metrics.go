package pregate

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the pre-gate's Prometheus series, labelled by camera. Build one per process with
// NewMetrics and hand it to every Camera; a camera's series exist, at zero, from NewCamera on and
// are removed by Camera.Close.
type Metrics struct {
	awake         *prometheus.GaugeVec
	wakeUps       *prometheus.CounterVec
	accessUnits   *prometheus.CounterVec
	bufferedUnits *prometheus.GaugeVec
	bufferedBytes *prometheus.GaugeVec
	bufferDrops   *prometheus.CounterVec
	fallbacks     *prometheus.CounterVec
	keyframes     *prometheus.CounterVec
}

// NewMetrics creates and registers the series on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		awake: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mvwatch_pregate_awake",
			Help: "1 while the camera's pre-decode gate lets the decoder run, 0 while it sleeps.",
		}, []string{"camera"}),
		wakeUps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mvwatch_pregate_wakeups_total",
			Help: "Asleep-to-awake transitions of the pre-decode gate caused by motion in the bitstream.",
		}, []string{"camera"}),
		accessUnits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mvwatch_pregate_access_units_total",
			Help: "Access units by outcome: decoded (handed to the decoder, replays included) or skipped (released undecoded).",
		}, []string{"camera", "outcome"}),
		bufferedUnits: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mvwatch_pregate_buffered_access_units",
			Help: "Access units held in the camera's GOP buffer.",
		}, []string{"camera"}),
		bufferedBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mvwatch_pregate_buffered_bytes",
			Help: "Bytes held in the camera's GOP buffer.",
		}, []string{"camera"}),
		bufferDrops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mvwatch_pregate_buffer_dropped_access_units_total",
			Help: "Access units discarded from the GOP buffer because a GOP exceeded its byte bound.",
		}, []string{"camera"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mvwatch_pregate_fallbacks_total",
			Help: "Switches to plain decoding (every access unit decoded) by reason.",
		}, []string{"camera", "reason"}),
		keyframes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mvwatch_pregate_keyframe_checks_total",
			Help: "Keyframes decoded while the camera slept to catch slow changes, by outcome (unchanged, or changed: the camera woke).",
		}, []string{"camera", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m.awake, m.wakeUps, m.accessUnits, m.bufferedUnits,
		m.bufferedBytes, m.bufferDrops, m.fallbacks, m.keyframes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register pre-gate metrics: %w", err)
		}
	}
	return m, nil
}

// cameraMetrics are one camera's children, created at zero.
type cameraMetrics struct {
	parent        *Metrics
	camera        string
	awake         prometheus.Gauge
	wakeUps       prometheus.Counter
	decoded       prometheus.Counter
	skipped       prometheus.Counter
	bufferedUnits prometheus.Gauge
	bufferedBytes prometheus.Gauge
	bufferDrops   prometheus.Counter
	fallbacks     map[FallbackReason]prometheus.Counter
	// keyframeChecks by outcome: "unchanged" or "changed".
	keyframeChecks map[string]prometheus.Counter
}

func (m *Metrics) camera(name string) *cameraMetrics {
	if m == nil {
		return nil
	}
	cm := &cameraMetrics{
		parent:        m,
		camera:        name,
		awake:         m.awake.WithLabelValues(name),
		wakeUps:       m.wakeUps.WithLabelValues(name),
		decoded:       m.accessUnits.WithLabelValues(name, "decoded"),
		skipped:       m.accessUnits.WithLabelValues(name, "skipped"),
		bufferedUnits: m.bufferedUnits.WithLabelValues(name),
		bufferedBytes: m.bufferedBytes.WithLabelValues(name),
		bufferDrops:   m.bufferDrops.WithLabelValues(name),
		fallbacks:     map[FallbackReason]prometheus.Counter{},
		keyframeChecks: map[string]prometheus.Counter{
			"unchanged": m.keyframes.WithLabelValues(name, "unchanged"),
			"changed":   m.keyframes.WithLabelValues(name, "changed"),
		},
	}
	for _, r := range FallbackReasons {
		cm.fallbacks[r] = m.fallbacks.WithLabelValues(name, string(r))
	}
	return cm
}

func (cm *cameraMetrics) delete() {
	if cm == nil {
		return
	}
	labels := prometheus.Labels{"camera": cm.camera}
	cm.parent.awake.DeletePartialMatch(labels)
	cm.parent.wakeUps.DeletePartialMatch(labels)
	cm.parent.accessUnits.DeletePartialMatch(labels)
	cm.parent.bufferedUnits.DeletePartialMatch(labels)
	cm.parent.bufferedBytes.DeletePartialMatch(labels)
	cm.parent.bufferDrops.DeletePartialMatch(labels)
	cm.parent.fallbacks.DeletePartialMatch(labels)
	cm.parent.keyframes.DeletePartialMatch(labels)
}

// InitCamera creates a camera's series before its first access unit (awake, as a camera starts, and
// every counter at zero), so that dashboards and alerts see them from the start. NewCamera takes
// them over.
func (m *Metrics) InitCamera(name string) {
	if cm := m.camera(name); cm != nil {
		cm.awake.Set(1)
	}
}

// DeleteCamera removes a camera's series (a camera removed before its first access unit).
func (m *Metrics) DeleteCamera(name string) {
	if m != nil {
		(&cameraMetrics{parent: m, camera: name}).delete()
	}
}
