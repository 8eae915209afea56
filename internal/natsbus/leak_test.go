package natsbus

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// Every goroutine is owned: after the publisher, consumer, tail, assigner, connection and server
// are closed, none of theirs is left.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := t.TempDir()
	s, err := StartServer(ServerConfig{DataDir: dir, Logger: discardLog()})
	require.NoError(t, err)
	c, err := Connect(context.Background(), ConnConfig{Server: s, Logger: discardLog()}, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, EnsureStreams(ctx, c.JetStream(), StreamsConfig{}))
	p, err := NewPublisher(c, nil, PublisherConfig{Logger: discardLog()})
	require.NoError(t, err)
	rec := newRecorder()
	k, err := StartConsumer(ctx, c, nil, ConsumerConfig{Stream: EventsStream, Durable: "store", Handler: rec.handle,
		Logger: discardLog()})
	require.NoError(t, err)
	tl, err := StartTail(ctx, c, TailConfig{Stream: EventsStream, Handler: func(Msg) {}})
	require.NoError(t, err)
	cams, err := OpenCameras(ctx, c, 1)
	require.NoError(t, err)
	_, err = cams.Put(ctx, "cam", []byte(`{}`))
	require.NoError(t, err)
	leases, err := OpenLeases(ctx, c, 0, 1)
	require.NoError(t, err)
	a, err := StartAssigner(cams, leases, nil, AssignerConfig{Node: "n1", OnChange: func([]string) {}, Logger: discardLog()})
	require.NoError(t, err)
	for i := range 50 {
		p.PublishEvent("cam", "ev-"+itoa(i), []byte("x"))
	}
	require.Eventually(t, func() bool { return rec.unique() == 50 }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return len(a.Owned()) == 1 }, 10*time.Second, 10*time.Millisecond)

	require.NoError(t, p.Close(ctx))
	k.Close()
	tl.Close()
	a.Close(ctx)
	c.Close()
	s.Shutdown()
}
