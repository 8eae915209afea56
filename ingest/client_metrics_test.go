package ingest

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestClientMetricsShareARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := newClientMetrics(reg, "a")
	require.NoError(t, err)
	b, err := newClientMetrics(reg, "b")
	require.NoError(t, err, "a second camera reuses the registered vectors")
	a.aus.Add(3)
	b.aus.Add(5)
	b.dropQueue.Inc()
	a.setState(StateBackoff)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP mvwatch_ingest_access_units_total Access units delivered.
# TYPE mvwatch_ingest_access_units_total counter
mvwatch_ingest_access_units_total{camera="a"} 3
mvwatch_ingest_access_units_total{camera="b"} 5
# HELP mvwatch_ingest_access_units_dropped_total Access units dropped, by reason.
# TYPE mvwatch_ingest_access_units_dropped_total counter
mvwatch_ingest_access_units_dropped_total{camera="a",reason="incomplete"} 0
mvwatch_ingest_access_units_dropped_total{camera="a",reason="oversized"} 0
mvwatch_ingest_access_units_dropped_total{camera="a",reason="queue_bytes"} 0
mvwatch_ingest_access_units_dropped_total{camera="a",reason="queue_full"} 0
mvwatch_ingest_access_units_dropped_total{camera="b",reason="incomplete"} 0
mvwatch_ingest_access_units_dropped_total{camera="b",reason="oversized"} 0
mvwatch_ingest_access_units_dropped_total{camera="b",reason="queue_bytes"} 0
mvwatch_ingest_access_units_dropped_total{camera="b",reason="queue_full"} 1
`), "mvwatch_ingest_access_units_total", "mvwatch_ingest_access_units_dropped_total"))
	require.Equal(t, 1.0, testutil.ToFloat64(a.state.WithLabelValues("a", "backoff")))
	require.Equal(t, 0.0, testutil.ToFloat64(a.state.WithLabelValues("a", "streaming")))

	// A collector of another type under the same name is an error, not a panic.
	reg2 := prometheus.NewRegistry()
	reg2.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_ingest_rtp_packets_total", Help: "x"}))
	_, err = newClientMetrics(reg2, "a")
	require.Error(t, err)

	// No registerer: metrics work and go nowhere.
	m, err := newClientMetrics(nil, "x")
	require.NoError(t, err)
	m.aus.Inc()
}
