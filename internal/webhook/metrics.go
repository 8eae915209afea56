package webhook

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the webhook sink's metrics.
type Metrics struct {
	// Deliveries counts webhook POSTs by final result ("delivered", "failed"):
	// mvwatch_webhook_deliveries_total{webhook,result}.
	Deliveries *prometheus.CounterVec
	// Retries counts retried webhook POSTs: mvwatch_webhook_retries_total{webhook}.
	Retries *prometheus.CounterVec
	// Drops counts events a full webhook queue dropped: mvwatch_webhook_dropped_total{webhook}.
	Drops *prometheus.CounterVec
}

// NewMetrics creates the webhook metrics and registers them on reg (never the global registry).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m := &Metrics{
		Deliveries: cv("mvwatch_webhook_deliveries_total", "Webhook deliveries by final result.", "webhook", "result"),
		Retries:    cv("mvwatch_webhook_retries_total", "Webhook POSTs retried.", "webhook"),
		Drops:      cv("mvwatch_webhook_dropped_total", "Events dropped by a full webhook queue.", "webhook"),
	}
	for _, c := range m.Collectors() {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("webhook metrics: %w", err)
		}
	}
	return m, nil
}

// Collectors lists the webhook metrics.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Deliveries, m.Retries, m.Drops}
}
