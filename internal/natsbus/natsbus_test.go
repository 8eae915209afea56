package natsbus

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEmbeddedNoListenerDedupAndConsume(t *testing.T) {
	s := startServer(t, ServerConfig{})
	assert.Empty(t, s.ClientURL(), "no listening port unless configured")
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, "store")
	require.NoError(t, err)
	c := connect(t, ConnConfig{Server: s}, m)
	ctx := ctxT(t, 20*time.Second)
	require.NoError(t, EnsureStreams(ctx, c.JetStream(), StreamsConfig{}))
	require.NoError(t, EnsureStreams(ctx, c.JetStream(), StreamsConfig{}), "idempotent")

	p, err := NewPublisher(c, m, PublisherConfig{})
	require.NoError(t, err)
	const n = 200
	for i := range n {
		require.True(t, p.PublishEvent("cam-1", "ev-"+itoa(i), []byte(`{"id":"ev-`+itoa(i)+`"}`)))
	}
	for i := range 20 { // the same ids again: stored once
		require.True(t, p.PublishEvent("cam-1", "ev-"+itoa(i), []byte(`{}`)))
	}
	require.NoError(t, p.Close(ctx))
	assert.False(t, p.PublishEvent("cam-1", "late", nil), "closed")

	st, err := c.JetStream().Stream(ctx, EventsStream)
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, n, info.State.Msgs, "duplicates stored once")
	assert.Equal(t, float64(n+20), testutil.ToFloat64(m.published))
	assert.Equal(t, float64(20), testutil.ToFloat64(m.duplicates))
	assert.Equal(t, float64(1), testutil.ToFloat64(m.dropped.WithLabelValues(DropClosed)))
	assert.Zero(t, testutil.ToFloat64(m.dropped.WithLabelValues(DropFull)))

	rec := newRecorder()
	k, err := StartConsumer(ctx, c, m, ConsumerConfig{Stream: EventsStream, Durable: "store", Handler: rec.handle})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return rec.unique() == n }, 10*time.Second, 20*time.Millisecond)
	k.Close()
	assert.Equal(t, n, rec.total, "each message handled once")
	require.Eventually(t, func() bool { return testutil.ToFloat64(m.consumed.WithLabelValues("store")) == n },
		5*time.Second, 20*time.Millisecond)
	ci, err := c.JetStream().Consumer(ctx, EventsStream, "store")
	require.NoError(t, err)
	cinfo, err := ci.Info(ctx)
	require.NoError(t, err)
	assert.Zero(t, cinfo.NumAckPending, "all acknowledged")
	assert.Zero(t, cinfo.NumPending)
}

func TestMetricsPresentAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, err := NewMetrics(reg, "store", "enrich")
	require.NoError(t, err)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
		for _, s := range mf.GetMetric() {
			v := s.GetCounter().GetValue() + s.GetGauge().GetValue()
			assert.Zero(t, v, mf.GetName())
		}
	}
	for _, want := range []string{"mvwatch_bus_published_total", "mvwatch_bus_publish_dropped_total",
		"mvwatch_bus_publish_buffer", "mvwatch_bus_consumed_total", "mvwatch_bus_handler_errors_total",
		"mvwatch_bus_redelivered_total", "mvwatch_bus_connected", "mvwatch_bus_reconnects_total",
		"mvwatch_bus_cameras_owned", "mvwatch_bus_lease_losses_total", "mvwatch_bus_live_nodes",
		"mvwatch_bus_enrich_jobs_total", "mvwatch_bus_enrich_dropped_total", "mvwatch_bus_enrich_buffer",
		"mvwatch_bus_enrich_in_flight"} {
		assert.True(t, names[want], want)
	}
	assert.Equal(t, 3, testutil.CollectAndCount(reg, "mvwatch_bus_publish_dropped_total"), "one series per reason")
}

func TestAckOnlyAfterHandlerSuccess(t *testing.T) {
	s := startServer(t, ServerConfig{})
	m, err := NewMetrics(nil)
	require.NoError(t, err)
	c := connect(t, ConnConfig{Server: s}, m)
	ctx := ctxT(t, 20*time.Second)
	require.NoError(t, EnsureStreams(ctx, c.JetStream(), StreamsConfig{}))
	p, err := NewPublisher(c, m, PublisherConfig{})
	require.NoError(t, err)
	for i := range 5 {
		p.PublishEvent("cam", "ev-"+itoa(i), []byte("x"))
	}
	require.NoError(t, p.Close(ctx))

	rec := newRecorder()
	failed := 0
	var redelivery uint64
	rec.fail = func(m Msg) bool {
		if m.ID == "ev-2" && failed < 2 {
			failed++
			return true
		}
		if m.ID == "ev-2" {
			redelivery = m.Delivered
		}
		return false
	}
	k, err := StartConsumer(ctx, c, m, ConsumerConfig{Stream: EventsStream, Durable: "store",
		RetryDelay: 100 * time.Millisecond, Handler: rec.handle})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return rec.count("ev-2") == 1 }, 10*time.Second, 20*time.Millisecond)
	k.Close()
	assert.Equal(t, 5, rec.unique())
	assert.EqualValues(t, 3, redelivery, "failed twice, succeeded on the third delivery")
	assert.Equal(t, float64(2), testutil.ToFloat64(m.handlerErrors.WithLabelValues("store")))
	assert.Equal(t, float64(2), testutil.ToFloat64(m.redelivered.WithLabelValues("store")))

	// A handler that fails and a consumer closed before success: the message stays unacknowledged
	// and a new consumer (another node) gets it.
	rec2 := newRecorder()
	rec2.fail = func(Msg) bool { return true }
	p2, err := NewPublisher(c, m, PublisherConfig{})
	require.NoError(t, err)
	p2.PublishEvent("cam", "ev-late", []byte("x"))
	require.NoError(t, p2.Close(ctx))
	k2, err := StartConsumer(ctx, c, m, ConsumerConfig{Stream: EventsStream, Durable: "store",
		RetryDelay: 100 * time.Millisecond, AckWait: time.Second, Handler: rec2.handle})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return testutil.ToFloat64(m.handlerErrors.WithLabelValues("store")) >= 3 },
		5*time.Second, 20*time.Millisecond)
	k2.Close()
	rec3 := newRecorder()
	k3, err := StartConsumer(ctx, c, m, ConsumerConfig{Stream: EventsStream, Durable: "store",
		AckWait: time.Second, Handler: rec3.handle})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return rec3.count("ev-late") == 1 }, 10*time.Second, 20*time.Millisecond)
	k3.Close()
	assert.Zero(t, rec3.count("ev-1"), "acknowledged messages are not delivered again")
}

func TestStreamConflict(t *testing.T) {
	s := startServer(t, ServerConfig{})
	c := connect(t, ConnConfig{Server: s}, nil)
	ctx := ctxT(t, 20*time.Second)
	js := c.JetStream()
	// Someone else's stream under our name, in memory, with other subjects.
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: EventsStream, Subjects: []string{"other.>"},
		Storage: jetstream.MemoryStorage})
	require.NoError(t, err)
	err = EnsureStreams(ctx, js, StreamsConfig{})
	require.ErrorIs(t, err, ErrStreamConflict)
	t.Log(err)
	for _, want := range []string{EventsStream, "not created by mvwatch", "subjects [other.>]", "storage Memory", "max age"} {
		assert.Contains(t, err.Error(), want)
	}
	st, err := js.Stream(ctx, EventsStream)
	require.NoError(t, err)
	assert.Equal(t, jetstream.MemoryStorage, st.CachedInfo().Config.Storage, "left as it was")
	require.NoError(t, js.DeleteStream(ctx, EventsStream))

	// Our own stream with other limits: updated in place; with another retention: a conflict.
	require.NoError(t, EnsureStreams(ctx, js, StreamsConfig{EventsMaxAge: time.Hour}))
	require.NoError(t, EnsureStreams(ctx, js, StreamsConfig{EventsMaxAge: 2 * time.Hour, DuplicateWindow: time.Minute}))
	st, err = js.Stream(ctx, EventsStream)
	require.NoError(t, err)
	assert.Equal(t, 2*time.Hour, st.CachedInfo().Config.MaxAge)
	assert.Equal(t, time.Minute, st.CachedInfo().Config.Duplicates)
	cfg := st.CachedInfo().Config
	cfg.Discard = jetstream.DiscardOld
	_, err = js.UpdateStream(ctx, cfg)
	require.NoError(t, err)
	err = EnsureStreams(ctx, js, StreamsConfig{EventsMaxAge: 2 * time.Hour, DuplicateWindow: time.Minute})
	require.ErrorIs(t, err, ErrStreamConflict)
	assert.Contains(t, err.Error(), "created by mvwatch")
	assert.Contains(t, err.Error(), "discard")
}

func TestConnectErrors(t *testing.T) {
	s := startServer(t, ServerConfig{Listen: "127.0.0.1:0", User: "mv", Password: "s3cret-pw"})
	url := s.ClientURL()
	require.NotEmpty(t, url)
	var log testLog
	ctx := ctxT(t, 20*time.Second)

	_, err := Connect(ctx, ConnConfig{URL: url, User: "mv", Password: "wrong-pw", Logger: log.logger()}, nil)
	require.ErrorIs(t, err, ErrAuth)
	t.Log(err)
	assert.NotContains(t, err.Error(), "wrong-pw")

	withCreds := strings.Replace(url, "nats://", "nats://mv:wrong-pw@", 1)
	_, err = Connect(ctx, ConnConfig{URL: withCreds, Logger: log.logger()}, nil)
	require.ErrorIs(t, err, ErrAuth)
	assert.NotContains(t, err.Error(), "wrong-pw")

	dead := "nats://mv:s3cret-pw@" + freeAddr(t)
	start := time.Now()
	_, err = Connect(ctx, ConnConfig{URL: dead, Logger: log.logger()}, nil)
	require.ErrorIs(t, err, ErrUnreachable)
	t.Log(err)
	assert.Less(t, time.Since(start), 6*time.Second, "fails at start, does not hang")
	assert.NotContains(t, err.Error(), "s3cret-pw")

	c, err := Connect(ctx, ConnConfig{URL: url, User: "mv", Password: "s3cret-pw", Logger: log.logger()}, nil)
	require.NoError(t, err)
	c.Close()
	// In-process connections are authenticated too (a refused one is slow to fail: the server's
	// auth timeout, so it is not tried here).
	c, err = Connect(ctx, ConnConfig{Server: s, User: "mv", Password: "s3cret-pw", Logger: log.logger()}, nil)
	require.NoError(t, err)
	c.Close()

	assert.NotContains(t, log.String(), "s3cret-pw")
	assert.NotContains(t, log.String(), "wrong-pw")
	assert.False(t, errors.Is(err, context.DeadlineExceeded))
}
