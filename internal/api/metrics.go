package api

import (
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the API's metrics.
type Metrics struct {
	// Requests counts API requests: mvwatch_http_requests_total{method,route,code}; unmatched paths
	// count as method "" and route "unmatched" (no label takes a value a client chose).
	Requests *prometheus.CounterVec
	// Seconds is the API request duration: mvwatch_http_request_seconds{method,route}.
	Seconds *prometheus.HistogramVec
}

// NewMetrics creates the API metrics and registers them on reg (never the global registry).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mvwatch_http_requests_total", Help: "HTTP API requests."},
			[]string{"method", "route", "code"}),
		Seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mvwatch_http_request_seconds", Help: "HTTP API request duration.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 17)}, []string{"method", "route"}),
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

// initRoutes creates every route's series at zero (code 200), so dashboards see them from start.
func (m *Metrics) initRoutes(patterns []string) {
	for _, p := range patterns {
		method, route := splitPattern(p)
		m.Seconds.WithLabelValues(method, route)
		m.Requests.WithLabelValues(method, route, "200")
	}
}

// splitPattern splits a mux pattern "GET /api/v1/cameras" into method and path; "" is "unmatched".
func splitPattern(pattern string) (method, route string) {
	if pattern == "" {
		return "", "unmatched"
	}
	method, route, ok := strings.Cut(pattern, " ")
	if !ok {
		return "", pattern
	}
	return method, route
}
