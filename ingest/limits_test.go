package ingest

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/testcam"
)

// TestClientQueueBytesBound: with a stuck consumer, the queue holds at most MaxQueueBytes of
// access units however many it could hold by count; the rest are dropped and counted.
func TestClientQueueBytesBound(t *testing.T) {
	cam := startCamera(t, testcam.Config{Source: defaultSource(t, false), Fast: true})
	release := make(chan struct{})
	var s sink
	const maxBytes = 64 << 10
	c := newTestClient(t, ClientConfig{URL: cam.URL(), Camera: "slow", QueueSize: 1024, MaxQueueBytes: maxBytes,
		Registerer: prometheus.NewRegistry(),
		OnAccessUnit: func(au media.AccessUnit) {
			<-release
			s.OnAccessUnit(au)
		}})
	c.Start()
	eventually(t, 20*time.Second, func() bool { return cam.Sent() == 150 }, "the camera sends the clip")
	eventually(t, 20*time.Second, func() bool { return testutil.ToFloat64(c.metrics.dropBytes) > 0 }, "dropped over the byte bound")
	require.LessOrEqual(t, c.queuedBytes.Load(), int64(maxBytes))
	close(release)
	eventually(t, 10*time.Second, func() bool { st := c.State(); return st.AUsDelivered+st.AUsDropped == 150 }, "every unit delivered or dropped")
	require.Zero(t, c.queuedBytes.Load(), "the byte count returns to zero once the queue drains")
	got := s.Units()
	require.Less(t, len(got), 150)
}

// TestClientCutsOffOversizedUnits: access units over MaxAccessUnitBytes are cut off and counted,
// never delivered; the stream goes on.
func TestClientCutsOffOversizedUnits(t *testing.T) {
	cam := startCamera(t, testcam.Config{Source: defaultSource(t, true)})
	var s sink
	// The clip's IDR pictures are over 8 KiB, its P and B pictures under.
	c := newTestClient(t, ClientConfig{URL: cam.URL(), MaxAccessUnitBytes: 8 << 10, Registerer: prometheus.NewRegistry(), OnAccessUnit: s.OnAccessUnit})
	c.Start()
	eventually(t, 20*time.Second, func() bool { return c.State().AUsOversized >= 2 }, "oversized units cut off: %+v", c.State())
	for _, au := range s.Units() {
		n := 0
		for _, b := range au.NALUs {
			n += len(b)
		}
		require.LessOrEqual(t, n, 8<<10)
	}
	st := c.State()
	require.Equal(t, float64(st.AUsOversized), testutil.ToFloat64(c.metrics.dropOversize))
	require.GreaterOrEqual(t, st.AUsDropped, st.AUsOversized)
}

// TestClientCheckParamsRejects: parameter sets refused by CheckParams fail the client for good,
// with the check's error as the reason, before anything is played.
func TestClientCheckParamsRejects(t *testing.T) {
	cam := startCamera(t, testcam.Config{Source: defaultSource(t, true)})
	var s sink
	calls := 0
	c := newTestClient(t, ClientConfig{URL: cam.URL(), OnAccessUnit: s.OnAccessUnit, OnStateChange: s.onState,
		CheckParams: func(codec media.Codec, params [][]byte) error {
			calls++
			require.Equal(t, media.CodecH264, codec)
			require.Len(t, params, 2, "SPS and PPS from the SDP")
			return errors.New("sps: too big")
		}})
	c.Start()
	eventually(t, 10*time.Second, func() bool { return c.State().State == StateFailed }, "failed")
	err := c.Close()
	require.ErrorIs(t, err, ErrRejected)
	require.Equal(t, "sdp sprop-parameter-sets: sps: too big", c.State().Reason)
	require.Equal(t, 1, calls, "not retried")
	require.Zero(t, s.Count())
}
