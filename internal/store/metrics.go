package store

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the store's metrics.
type Metrics struct {
	// WriteSeconds is the time of one durable event write: mvwatch_store_write_seconds.
	WriteSeconds prometheus.Histogram
}

// NewMetrics creates the store's metrics and registers them on reg (never the global registry).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{WriteSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "mvwatch_store_write_seconds", Help: "Time of one durable event write.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 17), // 100 µs to about 6.5 s
	})}
	if err := reg.Register(m.WriteSeconds); err != nil {
		return nil, fmt.Errorf("store metrics: %w", err)
	}
	return m, nil
}

// Collectors lists the store's metrics.
func (m *Metrics) Collectors() []prometheus.Collector { return []prometheus.Collector{m.WriteSeconds} }
