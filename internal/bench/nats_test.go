package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestNATSSmall runs `bench nats` small: every event goes through (with and without the store), and
// the lease runs place and hold every camera, evenly over two workers.
func TestNATSSmall(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, NATS(NATSConfig{Events: 200, Cameras: "20", Workers: "1,2", Hold: time.Second, Out: &out}))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res struct {
		Events []natsEventsRun
		Leases []natsLeaseRun
	}
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &res))
	require.Len(t, res.Events, 2)
	for _, e := range res.Events {
		require.Equal(t, 200, e.Events)
		require.Positive(t, e.EventsPerSec)
	}
	require.Len(t, res.Leases, 2)
	for _, l := range res.Leases {
		require.True(t, l.Held, "%+v", l)
	}
	require.Equal(t, []int{10, 10}, res.Leases[1].PerWorker)
}
