package natsbus

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCamerasStatesAndCAS(t *testing.T) {
	s := startServer(t, ServerConfig{})
	c := connect(t, ConnConfig{Server: s}, nil)
	ctx := ctxT(t, 20*time.Second)
	cams, err := OpenCameras(ctx, c, 1)
	require.NoError(t, err)
	rev, err := cams.Update(ctx, "front", []byte(`{"v":1}`), 0)
	require.NoError(t, err)
	_, err = cams.Update(ctx, "front", []byte(`{"v":1}`), 0)
	require.ErrorIs(t, err, jetstream.ErrKeyExists, "create of an existing camera")
	rev2, err := cams.Update(ctx, "front", []byte(`{"v":2}`), rev)
	require.NoError(t, err)
	_, err = cams.Update(ctx, "front", []byte(`{"v":3}`), rev) // stale revision
	require.ErrorIs(t, err, jetstream.ErrKeyExists)
	v, r, err := cams.Get(ctx, "front")
	require.NoError(t, err)
	assert.Equal(t, `{"v":2}`, string(v))
	assert.Equal(t, rev2, r)
	_, err = cams.Put(ctx, "bad.name", nil)
	require.Error(t, err)
	_, _, err = cams.Get(ctx, "missing")
	require.ErrorIs(t, err, jetstream.ErrKeyNotFound)

	// Another node sees the change (the bucket persists it for every node).
	c2 := connect(t, ConnConfig{Server: s}, nil)
	cams2, err := OpenCameras(ctx, c2, 1)
	require.NoError(t, err)
	list, err := cams2.List(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"front": []byte(`{"v":2}`)}, list)

	st, err := OpenStates(ctx, c, 1)
	require.NoError(t, err)
	require.NoError(t, st.Put(ctx, "front", []byte(`{"state":"running","node":"n1"}`)))
	st2, err := OpenStates(ctx, c2, 1)
	require.NoError(t, err)
	all, err := st2.List(ctx)
	require.NoError(t, err)
	assert.Equal(t, `{"state":"running","node":"n1"}`, string(all["front"]))
	require.NoError(t, st.Delete(ctx, "front"))
	all, err = st2.List(ctx)
	require.NoError(t, err)
	assert.Empty(t, all)
}

// Enrichment jobs on the work queue: two nodes share one durable, each job is handled once and
// leaves the stream once acknowledged; a live tail sees the events as they come.
func TestEnrichWorkQueueAndTail(t *testing.T) {
	s := startServer(t, ServerConfig{})
	c := connect(t, ConnConfig{Server: s}, nil)
	ctx := ctxT(t, 30*time.Second)
	require.NoError(t, EnsureStreams(ctx, c.JetStream(), StreamsConfig{}))

	var mu sync.Mutex
	var tailed []string
	tl, err := StartTail(ctx, c, TailConfig{Stream: EventsStream, Subject: EventsSubjects, Handler: func(m Msg) {
		mu.Lock()
		tailed = append(tailed, m.ID)
		mu.Unlock()
	}})
	require.NoError(t, err)

	recA, recB := newRecorder(), newRecorder()
	cA := connect(t, ConnConfig{Server: s}, nil)
	cB := connect(t, ConnConfig{Server: s}, nil)
	subj, err := EnrichSubject("caption")
	require.NoError(t, err)
	kA, err := StartConsumer(ctx, cA, nil, ConsumerConfig{Stream: EnrichStream, Durable: "enrich-caption",
		FilterSubject: subj, Handler: recA.handle})
	require.NoError(t, err)
	kB, err := StartConsumer(ctx, cB, nil, ConsumerConfig{Stream: EnrichStream, Durable: "enrich-caption",
		FilterSubject: subj, Handler: recB.handle})
	require.NoError(t, err)

	p, err := NewPublisher(c, nil, PublisherConfig{})
	require.NoError(t, err)
	const n = 300
	for i := range n {
		require.True(t, p.Publish(subj, "job-"+itoa(i), []byte("x")))
		require.True(t, p.PublishEvent("cam", "ev-"+itoa(i), []byte("x")))
	}
	require.NoError(t, p.Close(ctx))
	require.Eventually(t, func() bool { return recA.unique()+recB.unique() == n }, 10*time.Second, 20*time.Millisecond)
	kA.Close()
	kB.Close()
	t.Logf("jobs: node A %d, node B %d", recA.unique(), recB.unique())
	for i := range n {
		id := "job-" + itoa(i)
		assert.Equal(t, 1, recA.count(id)+recB.count(id), id)
	}
	es, err := c.JetStream().Stream(ctx, EnrichStream)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := es.Info(ctx)
		return err == nil && info.State.Msgs == 0
	}, 5*time.Second, 20*time.Millisecond, "acknowledged jobs leave the work queue")

	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(tailed) == n },
		10*time.Second, 20*time.Millisecond)
	tl.Close()
	mu.Lock()
	assert.Equal(t, "ev-0", tailed[0])
	assert.Equal(t, "ev-"+itoa(n-1), tailed[n-1])
	mu.Unlock()
}

// With Concurrency, messages are handled in parallel, and each camera's messages in stream order.
func TestConsumerConcurrencyKeepsPerCameraOrder(t *testing.T) {
	s := startServer(t, ServerConfig{})
	c := connect(t, ConnConfig{Server: s}, nil)
	ctx := ctxT(t, 30*time.Second)
	require.NoError(t, EnsureStreams(ctx, c.JetStream(), StreamsConfig{}))
	p, err := NewPublisher(c, nil, PublisherConfig{})
	require.NoError(t, err)
	const cams, per = 8, 40
	for i := range per {
		for cam := range cams {
			require.True(t, p.PublishEvent("cam-"+itoa(cam), "ev-"+itoa(cam)+"-"+itoa(i), []byte(itoa(i))))
		}
	}
	require.NoError(t, p.Close(ctx))

	var mu sync.Mutex
	last := map[string]int{}
	var disorder []string
	handled := 0
	var inFlight, peak atomic.Int32
	k, err := StartConsumer(ctx, c, nil, ConsumerConfig{Stream: EventsStream, Durable: "store", Concurrency: 4,
		Handler: func(_ context.Context, m Msg) error {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(time.Millisecond) // a store's fsync
			i, _ := strconv.Atoi(string(m.Data))
			mu.Lock()
			defer mu.Unlock()
			if prev, ok := last[m.Subject]; ok && i != prev+1 {
				disorder = append(disorder, fmt.Sprintf("%s: %d after %d", m.Subject, i, prev))
			}
			last[m.Subject] = i
			handled++
			return nil
		}})
	require.NoError(t, err)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return handled == cams*per },
		20*time.Second, 20*time.Millisecond)
	k.Close()
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, disorder)
	assert.Greater(t, peak.Load(), int32(1), "handled concurrently")
}
