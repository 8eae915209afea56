package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/track"
	"github.com/mvwatch/mvwatch/pipeline"
)

func TestCaptionZone(t *testing.T) {
	require.Equal(t, "front door", captionZone("front door", nil))
	require.Equal(t, "front door, driveway", captionZone("front door", []string{"driveway", "path"}))
	require.Equal(t, "driveway", captionZone("", []string{"driveway"}))
	require.Equal(t, "front door", captionZone("front door", []string{strings.Repeat("z", 64)}))
}

// hookRecorder is a webhook receiver that records the events it is sent.
type hookRecorder struct {
	*httptest.Server
	mu  sync.Mutex
	got []event.Event
}

func newHookRecorder(t *testing.T) *hookRecorder {
	h := &hookRecorder{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev event.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.got = append(h.got, ev)
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookRecorder) events() []event.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]event.Event(nil), h.got...)
}

// TestZoneAlertsThroughTheService: the scripted scene's events for a camera whose road zone alerts
// only for object_right (pipeline's TestZoneRestrictsAlerts checks them as the worker makes them) go
// through the event service: all are stored, only the crossing reaches the webhook (the others are
// no_alert), and the API's zone= filter finds the crossing in the road and nothing in the sky.
func TestZoneAlertsThroughTheService(t *testing.T) {
	model, err := pipeline.LoadModel(filepath.Join("..", "..", "models", "mfcd"), pipeline.ModelOptions{Inference: config.Default().Inference})
	require.NoError(t, err)
	defer model.Close()
	cam := config.Camera{Name: "door", URL: "rtsp://h/x", Zones: []config.Zone{
		{Name: "road", Polygon: [][]float64{{0, 0.4}, {1, 0.4}, {1, 0.85}, {0, 0.85}}, Labels: []string{"object_right"}},
		{Name: "sky", Polygon: [][]float64{{0, 0}, {1, 0}, {1, 0.1}, {0, 0.1}}},
	}}
	require.NoError(t, cam.Validate(config.DefaultGate()))
	off := false
	var evs []event.Event
	_, err = pipeline.AnalyzeFile(context.Background(), filepath.Join("..", "testcam", "clip", "scene.264"),
		pipeline.AnalyzeOptions{Classifier: model, Features: model.Features, Gate: config.Gate{Enabled: &off},
			Thresholds: config.Thresholds{MinScore: 0.5}, Scene: track.ConfigFor(cam)},
		func(ev event.Event) {
			if !strings.HasPrefix(ev.Label, "zone_") {
				evs = append(evs, ev)
			}
		})
	require.NoError(t, err)
	require.Contains(t, collapse(evs), "object_right")
	require.Greater(t, len(evs), 1, "other events than the crossing")

	hook := newHookRecorder(t)
	b := bus.NewLocal(bus.LocalOptions{})
	defer b.Close()
	cfg := testConfig(t)
	cfg.Webhooks = []config.Webhook{{Name: "all", URL: hook.URL}}
	svc, err := New(Options{Config: cfg, Role: RoleEvents, Bus: b, Registry: prometheus.NewRegistry(), Logger: quietLogger()})
	require.NoError(t, err)
	require.NoError(t, svc.Start())
	defer svc.Close()
	base := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	for _, ev := range evs {
		ev.Camera = "door"
		ev.Start, ev.End = base.Add(ev.Start.Sub(time.Unix(0, 0))), base.Add(ev.End.Sub(time.Unix(0, 0)))
		ev.ID = event.NewEventID(ev.Start)
		ev.Keyframe, ev.KeyframeRef = nil, ""
		require.NoError(t, ev.Validate())
		require.True(t, b.PublishEvent(ev))
	}
	require.Eventually(t, func() bool { n, err := svc.Store().Count(); return err == nil && n == len(evs) }, 10*time.Second,
		10*time.Millisecond, "every event is stored, alerting or not")

	zoneQuery := func(zone string) []event.Event {
		code, body := apiGet(t, svc, "/api/v1/events?zone="+zone, true)
		require.Equal(t, http.StatusOK, code, string(body))
		var page event.Page
		require.NoError(t, json.Unmarshal(body, &page))
		return page.Events
	}
	road := zoneQuery("road")
	require.Len(t, road, 1)
	require.Equal(t, "object_right", road[0].Label)
	require.Empty(t, zoneQuery("sky"))

	require.NoError(t, svc.Close()) // drains the webhooks
	got := hook.events()
	require.Len(t, got, 1, "only the zone's label alerts")
	require.Equal(t, "object_right", got[0].Label)
	require.Equal(t, []string{"road"}, got[0].Zones)
}
