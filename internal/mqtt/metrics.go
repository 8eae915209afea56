package mqtt

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	published   *prometheus.CounterVec
	dropped     prometheus.Counter
	errors      prometheus.Counter
	connected   prometheus.Gauge
	connections prometheus.Counter
}

// newMetrics registers the mvwatch_mqtt_* series on reg (nil: unregistered); every series exists from
// start at zero.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mvwatch_mqtt_messages_published_total",
			Help: "MQTT messages acknowledged by the broker, by kind."}, []string{"kind"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_mqtt_messages_dropped_total",
			Help: "MQTT messages dropped because the publish queue was full (the broker was away or slow)."}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_mqtt_publish_errors_total",
			Help: "MQTT publications that failed or were not acknowledged in time."}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_mqtt_connected",
			Help: "1 while connected to the MQTT broker."}),
		connections: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_mqtt_connections_total",
			Help: "Successful connections to the MQTT broker (the first and every reconnection)."}),
	}
	for _, k := range publishedKinds {
		m.published.WithLabelValues(string(k))
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.published, m.dropped, m.errors, m.connected, m.connections} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("mqtt metrics: %w", err)
		}
	}
	return m, nil
}
