package ingest

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// clientMetrics are the Prometheus series of one camera. Clients that share a Registerer share the
// vectors and differ by their camera label.
type clientMetrics struct {
	packets      prometheus.Counter
	lost         prometheus.Counter
	decodeErrors prometheus.Counter
	bytes        prometheus.Counter
	aus          prometheus.Counter
	dropIncompl  prometheus.Counter
	dropQueue    prometheus.Counter
	dropBytes    prometheus.Counter
	dropOversize prometheus.Counter
	skipped      prometheus.Counter
	reconnects   prometheus.Counter
	state        *prometheus.GaugeVec
	camera       string
}

// newClientMetrics registers (or reuses) the ingest vectors on reg. A nil reg gives metrics that are
// counted nowhere.
func newClientMetrics(reg prometheus.Registerer, camera string) (*clientMetrics, error) {
	counter := func(name, help string, labels ...string) (*prometheus.CounterVec, error) {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "mvwatch", Subsystem: "ingest", Name: name, Help: help},
			append([]string{"camera"}, labels...))
		return register(reg, v)
	}
	var errs []error
	must := func(v *prometheus.CounterVec, err error) *prometheus.CounterVec {
		errs = append(errs, err)
		return v
	}
	packets := must(counter("rtp_packets_total", "RTP packets received."))
	lost := must(counter("rtp_packets_lost_total", "RTP packets missing from the sequence."))
	decErr := must(counter("rtp_decode_errors_total", "RTP packets that could not be depacketised."))
	bytes := must(counter("bytes_total", "RTP bytes received."))
	aus := must(counter("access_units_total", "Access units delivered."))
	dropped := must(counter("access_units_dropped_total", "Access units dropped, by reason.", "reason"))
	skipped := must(counter("access_units_skipped_total", "Access units discarded while waiting for a random-access unit."))
	reconn := must(counter("reconnects_total", "Connection attempts after the first."))
	state, err := register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "mvwatch", Subsystem: "ingest",
		Name: "state", Help: "1 for the client's current state, 0 for the others."}, []string{"camera", "state"}))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m := &clientMetrics{
		packets:      packets.WithLabelValues(camera),
		lost:         lost.WithLabelValues(camera),
		decodeErrors: decErr.WithLabelValues(camera),
		bytes:        bytes.WithLabelValues(camera),
		aus:          aus.WithLabelValues(camera),
		dropIncompl:  dropped.WithLabelValues(camera, "incomplete"),
		dropQueue:    dropped.WithLabelValues(camera, "queue_full"),
		dropBytes:    dropped.WithLabelValues(camera, "queue_bytes"),
		dropOversize: dropped.WithLabelValues(camera, "oversized"),
		skipped:      skipped.WithLabelValues(camera),
		reconnects:   reconn.WithLabelValues(camera),
		state:        state,
		camera:       camera,
	}
	return m, nil
}

// setState makes s the one state with value 1.
func (m *clientMetrics) setState(s State) {
	for _, st := range []State{StateIdle, StateConnecting, StateStreaming, StateBackoff, StateFailed, StateClosed} {
		v := 0.0
		if st == s {
			v = 1
		}
		m.state.WithLabelValues(m.camera, string(st)).Set(v)
	}
}

// register registers c on reg, or returns the collector already registered under the same name.
// A nil reg registers nothing.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}
