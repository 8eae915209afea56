package natsbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
)

func openBus(t *testing.T, s *Server, cfg BusConfig) *Bus {
	t.Helper()
	c := connect(t, ConnConfig{Server: s}, nil)
	cfg.Logger = discardLog()
	cfg.LeaseTTL = 1500 * time.Millisecond
	cfg.StateInterval = 100 * time.Millisecond
	cfg.AckWait = time.Second
	b, err := OpenBus(ctxT(t, 10*time.Second), c, nil, cfg)
	require.NoError(t, err)
	t.Cleanup(b.Close)
	return b
}

func testEvent(cam string, i int) event.Event {
	t0 := time.Date(2026, 12, 3, 7, 0, i, 0, time.UTC)
	return event.Event{ID: event.NewEventID(t0), Camera: cam, Label: "person", Score: 0.9, Start: t0, End: t0.Add(time.Second)}
}

// TestBusEventsAckedAfterDone: events published by a worker bus reach the events bus with their
// keyframe; one whose Done reports an error comes again, marked redelivered; one published twice
// (same id) is delivered once; an acknowledged one never comes again, even to a new consumer.
func TestBusEventsAckedAfterDone(t *testing.T) {
	s := startServer(t, ServerConfig{})
	var mu sync.Mutex
	var acked []string
	w := openBus(t, s, BusConfig{Node: "w1", Worker: true, OnPublished: func(id string) {
		mu.Lock()
		acked = append(acked, id)
		mu.Unlock()
	}})
	e := openBus(t, s, BusConfig{Events: true})
	ev0 := testEvent("door", 0)
	ev0.AttachKeyframe([]byte("jpeg"))
	require.True(t, w.PublishEvent(ev0))
	require.True(t, w.PublishEvent(ev0), "same id again: stored once by the stream")
	ctx := ctxT(t, 20*time.Second)
	d, err := e.NextDelivery(ctx)
	require.NoError(t, err)
	require.Equal(t, ev0.ID, d.Event.ID)
	require.Equal(t, []byte("jpeg"), d.Event.Keyframe)
	require.False(t, d.Redelivered)
	d.Done(errors.New("store failed"))
	d, err = e.NextDelivery(ctx)
	require.NoError(t, err)
	require.Equal(t, ev0.ID, d.Event.ID)
	require.True(t, d.Redelivered)
	d.Done(nil)

	ev1 := testEvent("door", 1)
	require.True(t, w.PublishEvent(ev1))
	d, err = e.NextDelivery(ctx)
	require.NoError(t, err)
	require.Equal(t, ev1.ID, d.Event.ID, "the duplicate of ev0 was never delivered")
	d.Done(nil)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) == 3
	}, 5*time.Second, 20*time.Millisecond)

	// A new events node (same durable consumer) gets nothing already acknowledged.
	e.Close()
	e2 := openBus(t, s, BusConfig{Events: true})
	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	_, err = e2.NextDelivery(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestBusCamerasLeasedAcrossNodes: cameras added through one node's Cameras run on the workers'
// fleets (split between them), their states show the node; a worker that closes hands its cameras
// to the other; a camera removed stops.
func TestBusCamerasLeasedAcrossNodes(t *testing.T) {
	s := startServer(t, ServerConfig{})
	api := openBus(t, s, BusConfig{Events: true, Gate: config.DefaultGate()})
	f1, f2 := bus.NewMemCameras(), bus.NewMemCameras()
	w1 := openBus(t, s, BusConfig{Node: "w1", Worker: true})
	w2 := openBus(t, s, BusConfig{Node: "w2", Worker: true})
	w1.ServeCameras(f1)
	w2.ServeCameras(f2)
	cams := api.Cameras()
	ctx := ctxT(t, 30*time.Second)
	for i := range 4 {
		require.NoError(t, cams.Add(ctx, config.Camera{Name: fmt.Sprintf("cam%d", i), URL: "rtsp://127.0.0.1:8554/x"}))
	}
	require.ErrorIs(t, cams.Add(ctx, config.Camera{Name: "cam0", URL: "rtsp://127.0.0.1:8554/x"}), bus.ErrCameraExists)
	require.Len(t, cams.List(), 4)
	require.Eventually(t, func() bool { return len(f1.Names()) == 2 && len(f2.Names()) == 2 }, 10*time.Second, 50*time.Millisecond,
		"split: %v %v", f1.Names(), f2.Names())
	require.Eventually(t, func() bool {
		for _, c := range cams.List() {
			st, err := cams.State(c.Name)
			if err != nil || st.Phase != bus.PhaseRunning || st.Node == "" {
				return false
			}
		}
		return true
	}, 10*time.Second, 50*time.Millisecond)
	st, err := cams.State(f1.Names()[0])
	require.NoError(t, err)
	require.Equal(t, "w1", st.Node)
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(api.Collector()))
	require.Eventually(t, func() bool {
		n, err := testutil.GatherAndCount(reg, "mvwatch_bus_camera_state")
		return err == nil && n == 4
	}, 5*time.Second, 50*time.Millisecond)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	nodes := map[string]string{}
	for _, m := range mfs[0].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		require.Equal(t, "running", l["state"])
		nodes[l["camera"]] = l["node"]
	}
	require.Equal(t, "w1", nodes[st.Name])

	// A worker leaves: the other runs all four.
	w1.Close()
	require.Empty(t, f1.Names())
	require.Eventually(t, func() bool { return len(f2.Names()) == 4 }, 10*time.Second, 50*time.Millisecond)

	// A change reaches the fleet that runs the camera; a removal stops it.
	require.NoError(t, cams.Replace(ctx, config.Camera{Name: "cam0", URL: "rtsp://127.0.0.1:8554/y"}))
	require.Eventually(t, func() bool { c, err := f2.Get("cam0"); return err == nil && c.URL == "rtsp://127.0.0.1:8554/y" },
		10*time.Second, 50*time.Millisecond)
	require.NoError(t, cams.Remove(ctx, "cam1"))
	require.ErrorIs(t, cams.Remove(ctx, "cam1"), bus.ErrCameraNotFound)
	require.Eventually(t, func() bool { return len(f2.Names()) == 3 }, 10*time.Second, 50*time.Millisecond)

	// Seeding writes what differs and adds what the set lacks; the others stay.
	seeder := cams.(bus.CameraSeeder)
	require.NoError(t, seeder.SeedCameras(ctx, []config.Camera{{Name: "cam0", URL: "rtsp://127.0.0.1:8554/z"}, {Name: "cam9", URL: "rtsp://127.0.0.1:8554/z"}}))
	c0, err := cams.Get("cam0")
	require.NoError(t, err)
	require.Equal(t, "rtsp://127.0.0.1:8554/z", c0.URL)
	require.Eventually(t, func() bool { c, err := f2.Get("cam0"); return err == nil && c.URL == "rtsp://127.0.0.1:8554/z" },
		10*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool { return len(f2.Names()) == 4 }, 10*time.Second, 50*time.Millisecond)
	require.Len(t, cams.List(), 4, "cam2, cam3 kept")
}

// TestBusWorkerKeepsCamerasThroughOutage: a worker whose server goes away keeps running its cameras
// (KeepOnNATSLoss) and buffers events up to its bound, dropping (and counting) beyond it; when the
// server is back (same store and port) the buffered events reach the event service.
func TestBusWorkerKeepsCamerasThroughOutage(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	s := startServer(t, ServerConfig{DataDir: dir, Listen: addr})
	m, err := NewMetrics(nil)
	require.NoError(t, err)
	c := connect(t, ConnConfig{URL: s.ClientURL(), ReconnectWait: 50 * time.Millisecond}, m)
	w, err := OpenBus(ctxT(t, 10*time.Second), c, m, BusConfig{Node: "w1", Worker: true, KeepOnNATSLoss: true,
		LeaseTTL: 1500 * time.Millisecond, StateInterval: 100 * time.Millisecond, Logger: discardLog(),
		Publisher: PublisherConfig{Buffer: 5, InFlight: 1, AckTimeout: 300 * time.Millisecond}})
	require.NoError(t, err)
	defer w.Close()
	f := bus.NewMemCameras()
	w.ServeCameras(f)
	require.NoError(t, w.Cameras().Add(ctxT(t, 5*time.Second), config.Camera{Name: "door", URL: "rtsp://127.0.0.1:8554/x"}))
	require.Eventually(t, func() bool { return len(f.Names()) == 1 }, 10*time.Second, 50*time.Millisecond)

	s.Shutdown()
	time.Sleep(2 * time.Second) // past the lease TTL
	require.Equal(t, []string{"door"}, f.Names(), "cameras kept while NATS is away")
	accepted := 0
	for i := range 8 {
		if w.PublishEvent(testEvent("door", i)) {
			accepted++
		}
	}
	// The bound is the buffer plus the messages in flight (Buffer + InFlight = 6): the sender takes
	// up to InFlight messages out of the buffer while it retries.
	require.LessOrEqual(t, accepted, 6, "bounded: the buffer and the one message in flight")
	require.Positive(t, testutil.ToFloat64(m.dropped.WithLabelValues(DropFull)))

	s2 := startServer(t, ServerConfig{DataDir: dir, Listen: addr})
	e := openBus(t, s2, BusConfig{Events: true})
	ctx := ctxT(t, 30*time.Second)
	for range accepted {
		d, err := e.NextDelivery(ctx)
		require.NoError(t, err)
		d.Done(nil)
	}
	require.Equal(t, []string{"door"}, f.Names())
}
