package app

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// TestEventMetricsRegisterOnInjectedRegistry: the event path's metrics (moved from the worker's
// TestMetricsRegisterOnInjectedRegistry with their assertions).
func TestEventMetricsRegisterOnInjectedRegistry(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := newMetrics(reg)
	require.NoError(t, err)
	// A second set on the same registry collides.
	_, err = newMetrics(reg)
	require.Error(t, err)

	m.events.WithLabelValues("door", "person").Inc()
	require.NoError(t, testutil.CollectAndCompare(reg, strings.NewReader(`
# HELP mvwatch_events_total Events emitted.
# TYPE mvwatch_events_total counter
mvwatch_events_total{camera="door",label="person"} 1
`), "mvwatch_events_total"))

	// Removing a camera removes its series.
	m.forgetCamera("door")
	n, err := testutil.GatherAndCount(reg, "mvwatch_events_total")
	require.NoError(t, err)
	require.Zero(t, n)
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)
}
