package decodelimit

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the decode-limit series, shared by every camera of a process:
//
//	mvwatch_decode_limit_failures_total{reason}   cameras failed for a limit, every Reason from zero
//	mvwatch_decode_throttled_access_units_total{camera}   access units the Throttle dropped
type Metrics struct {
	failures  *prometheus.CounterVec
	throttled *prometheus.CounterVec
}

// NewMetrics registers the series on reg (nil: registered nowhere). A second call with the same
// registry returns the same series.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "mvwatch", Subsystem: "decode",
		Name: "limit_failures_total", Help: "Cameras failed because their stream exceeded a decode limit, by reason."},
		[]string{"reason"})
	throttled := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "mvwatch", Subsystem: "decode",
		Name: "throttled_access_units_total", Help: "Access units dropped because a camera sent faster than its declared frame rate allows."},
		[]string{"camera"})
	var err error
	if failures, err = register(reg, failures); err != nil {
		return nil, err
	}
	if throttled, err = register(reg, throttled); err != nil {
		return nil, err
	}
	for _, r := range Reasons {
		failures.WithLabelValues(string(r))
	}
	return &Metrics{failures: failures, throttled: throttled}, nil
}

// Camera makes the camera's series exist at zero.
func (m *Metrics) Camera(name string) {
	if m != nil {
		m.throttled.WithLabelValues(name)
	}
}

// DeleteCamera removes the camera's series.
func (m *Metrics) DeleteCamera(name string) {
	if m != nil {
		m.throttled.DeleteLabelValues(name)
	}
}

func (m *Metrics) fail(r Reason) {
	if m != nil {
		m.failures.WithLabelValues(string(r)).Inc()
	}
}

// Throttled counts n access units dropped by a camera's throttle.
func (m *Metrics) Throttled(camera string, n uint64) {
	if m != nil && n > 0 {
		m.throttled.WithLabelValues(camera).Add(float64(n))
	}
}

func register(reg prometheus.Registerer, v *prometheus.CounterVec) (*prometheus.CounterVec, error) {
	if reg == nil {
		return v, nil
	}
	if err := reg.Register(v); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing, nil
			}
		}
		return nil, err
	}
	return v, nil
}
