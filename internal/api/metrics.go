package api

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the API's metrics.
type Metrics struct {
	// Requests counts API requests: mvwatch_http_requests_total{route,code}.
	Requests *prometheus.CounterVec
	// Seconds is the API request duration: mvwatch_http_request_seconds{route}.
	Seconds *prometheus.HistogramVec
}

// NewMetrics creates the API metrics and registers them on reg (never the global registry).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mvwatch_http_requests_total", Help: "HTTP API requests."},
			[]string{"route", "code"}),
		Seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mvwatch_http_request_seconds", Help: "HTTP API request duration.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 17)}, []string{"route"}),
	}
	for _, c := range m.Collectors() {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("api metrics: %w", err)
		}
	}
	return m, nil
}

// Collectors lists the API metrics.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Requests, m.Seconds}
}
