package natsbus

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A worker that loses NATS keeps publishing without blocking, buffers within its bound and counts
// what does not fit; what was buffered goes out when NATS is back.
func TestPublisherBoundedWhileNATSAway(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	cfg := ServerConfig{DataDir: dir, Listen: addr}
	s := startServer(t, cfg)
	m, err := NewMetrics(nil)
	require.NoError(t, err)
	c := connect(t, ConnConfig{URL: "nats://" + addr, ReconnectWait: 50 * time.Millisecond}, m)
	ctx := ctxT(t, 60*time.Second)
	require.NoError(t, EnsureStreams(ctx, c.JetStream(), StreamsConfig{}))
	const buf, inFlight = 100, 10
	p, err := NewPublisher(c, m, PublisherConfig{Buffer: buf, InFlight: inFlight, AckTimeout: 300 * time.Millisecond})
	require.NoError(t, err)

	s.Shutdown()
	require.Eventually(t, func() bool { return testutil.ToFloat64(m.connected) == 0 }, 10*time.Second, 10*time.Millisecond)
	const n = 1000
	start := time.Now()
	accepted := 0
	for i := range n {
		if p.PublishEvent("cam", "ev-"+itoa(i), []byte("x")) {
			accepted++
		}
	}
	took := time.Since(start)
	t.Logf("%d publishes with NATS down took %v; %d accepted", n, took, accepted)
	assert.Less(t, took, 500*time.Millisecond, "never blocks")
	assert.LessOrEqual(t, accepted, buf+inFlight, "buffer bound")
	assert.Equal(t, float64(n-accepted), testutil.ToFloat64(m.dropped.WithLabelValues(DropFull)))
	assert.LessOrEqual(t, p.Buffered(), buf)

	startServer(t, cfg)
	require.NoError(t, p.Close(ctx))
	st, err := c.JetStream().Stream(ctx, EventsStream)
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, accepted, info.State.Msgs, "every accepted message stored after the outage")
	assert.Zero(t, testutil.ToFloat64(m.dropped.WithLabelValues(DropClosed)))
}

// A stream that refuses (over its byte limit) makes counted drops, not retries.
func TestPublisherCountsRefusals(t *testing.T) {
	s := startServer(t, ServerConfig{})
	m, err := NewMetrics(nil)
	require.NoError(t, err)
	var log testLog
	c := connect(t, ConnConfig{Server: s}, m)
	ctx := ctxT(t, 30*time.Second)
	require.NoError(t, EnsureStreams(ctx, c.JetStream(), StreamsConfig{EventsMaxBytes: 8 << 10}))
	p, err := NewPublisher(c, m, PublisherConfig{Logger: log.logger()})
	require.NoError(t, err)
	payload := []byte(strings.Repeat("x", 1000))
	for i := range 20 {
		require.True(t, p.PublishEvent("cam", "ev-"+itoa(i), payload))
	}
	assert.False(t, p.PublishEvent("bad.camera", "ev-x", payload), "invalid camera name")
	require.NoError(t, p.Close(ctx))
	refused := testutil.ToFloat64(m.dropped.WithLabelValues(DropRefused))
	stored := testutil.ToFloat64(m.published)
	t.Logf("stored %v, refused %v", stored, refused)
	assert.Equal(t, float64(21), stored+refused)
	assert.Greater(t, refused, 10.0)
	assert.Zero(t, testutil.ToFloat64(m.retries), "a refusal is final")
	assert.Contains(t, log.String(), "stream refused")
}
