package app

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/natsbus"
	"github.com/mvwatch/mvwatch/mvextract"
)

// clipBusFor opens a bus of role on s with the clip bucket, closed at the test's end after its App.
func clipBusFor(t *testing.T, s *natsbus.Server, role Role, node string, reg prometheus.Registerer) *natsbus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := natsbus.Connect(ctx, natsbus.ConnConfig{Server: s, Logger: quietLogger()}, nil)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	cm, err := natsbus.NewClipMetrics(reg)
	require.NoError(t, err)
	b, err := natsbus.OpenBus(ctx, c, nil, natsbus.BusConfig{Node: node, Worker: role.worker(), Events: role.events(),
		KeepOnNATSLoss: true, Logger: quietLogger(),
		Clips: &natsbus.ClipsConfig{MaxBytes: 64 << 20, TTL: time.Hour, Metrics: cm, Logger: quietLogger()}})
	require.NoError(t, err)
	t.Cleanup(b.Close)
	return b
}

// TestClipsOverNATS: in a split deployment the events node, which records no clip, shows clip_ref
// on a worker's event and serves its clip (whole, by Range, H.264 for ffprobe, from before the
// event's start) from the clip bucket; the worker's metrics count the put.
func TestClipsOverNATS(t *testing.T) {
	cam := startTestCamera(t, "127.0.0.1:0")
	defer cam.Close()
	s, err := natsbus.StartServer(natsbus.ServerConfig{DataDir: t.TempDir(), Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(s.Shutdown)
	features := mvextract.FeatureSpec{Clip: mvextract.ClipConfig{Length: 4, Width: 16, Height: 16}}

	ecfg := testConfig(t)
	ecfg.Webhooks = nil
	ecfg.Cameras = []config.Camera{{Name: "door", URL: cam.URL()}}
	events, err := New(Options{Config: ecfg, Role: RoleEvents, Bus: clipBusFor(t, s, RoleEvents, "events", prometheus.NewRegistry()),
		Registry: prometheus.NewRegistry(), Logger: quietLogger()})
	require.NoError(t, err)
	require.Nil(t, events.Clips(), "the events node records no clip")
	require.NoError(t, events.Start())
	defer events.Close()
	wreg := prometheus.NewRegistry()
	worker, err := New(Options{Config: testConfig(t), Role: RoleWorker, Bus: clipBusFor(t, s, RoleWorker, "w1", wreg),
		Classifier: &alternatingClassifier{}, Registry: wreg, Logger: quietLogger(), Features: features})
	require.NoError(t, err)
	require.NoError(t, worker.Start())
	defer worker.Close()

	var first event.Event
	eventually(t, 30*time.Second, func() bool {
		_, body := apiGet(t, events, "/api/v1/events?order=asc&limit=1", true)
		var page struct{ Events []event.Event }
		if json.Unmarshal(body, &page) != nil || len(page.Events) == 0 {
			return false
		}
		first = page.Events[0]
		return true
	}, "a worker's event stored by the events node")
	p := requireEventClip(t, events, first)
	require.Equal(t, "h264", p.Codec)
	_, body := apiGet(t, events, "/api/v1/events?order=asc&limit=1", true)
	require.Contains(t, string(body), `"clip_ref":"`+event.ClipPath(first.ID)+`"`, "the event list shows clip_ref too")
	mf, err := wreg.Gather()
	require.NoError(t, err)
	var put float64
	for _, f := range mf {
		if f.GetName() == "mvwatch_bus_clips_put_total" {
			put = f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	require.Positive(t, put, "the worker counts its puts")
	require.True(t, worker.Clips().Store().Has(first.ID), "the worker keeps its own copy")
}
