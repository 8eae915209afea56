package app

import (
	"bytes"
	"encoding/json"
	"image/png"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/inference"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/mvextract"

	"github.com/mvwatch/mvwatch/internal/event"

	"github.com/mvwatch/mvwatch/internal/enrich"
	"github.com/mvwatch/mvwatch/pipeline"
)

// newStageService starts a service on random ports with the given stages (owned by the service).
func newStageService(t *testing.T, reg *prometheus.Registry, cls pipeline.Classifier, caps *enrich.Captions, thumbs *enrich.Thumbnails, cams ...config.Camera) *App {
	t.Helper()
	cfg := config.Default()
	cfg.Listen.HTTP, cfg.Listen.RTSP, cfg.Listen.RTSPUDP = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.Path = filepath.Join(t.TempDir(), "events.db")
	cfg.APIToken = "s3cret-token"
	off := false
	cfg.Gate.Enabled = &off
	cfg.Cameras = cams
	svc, err := New(Options{Config: cfg, Classifier: cls, Registry: reg, Logger: quietLogger(),
		Features: mvextract.FeatureSpec{Clip: mvextract.ClipConfig{Length: 4, Width: 16, Height: 16}},
		Captions: caps, Thumbnails: thumbs})
	require.NoError(t, err)
	require.NoError(t, svc.Start())
	return svc
}

// TestServiceCaptionsAndThumbnails: events detected on a real RTSP camera get a caption from the shipped
// caption models and a thumbnail from the shipped diffusion model; both are stored on the event (query
// API), sent live as "update" events, and the thumbnail PNG is served behind the token.
func TestServiceCaptionsAndThumbnails(t *testing.T) {
	cam := startTestCamera(t, "127.0.0.1:0")
	defer cam.Close()
	reg := prometheus.NewRegistry()
	caps, thumbs := openShippedStages(t, reg)
	svc := newStageService(t, reg, &alternatingClassifier{}, caps, thumbs,
		config.Camera{Name: "cam", URL: cam.URL(), Zone: "loading bay", Scene: "driveway"})
	defer svc.Close()
	live := subscribe(t, svc)
	defer live.close()

	// The live stream carries each event, then its updates (the same ID again).
	done := func() (event.Event, bool) {
		for _, ev := range live.snapshot() {
			if ev.Caption != "" && ev.ThumbnailRef != "" {
				return ev, true
			}
		}
		return event.Event{}, false
	}
	eventually(t, 30*time.Second, func() bool { _, ok := done(); return ok }, "a live update with caption and thumbnail")
	ev, _ := done()
	require.Equal(t, event.ThumbnailPath(ev.ID), ev.ThumbnailRef)
	require.NotEmpty(t, strings.TrimSpace(ev.Caption))
	first := live.snapshot()[0]
	require.Empty(t, first.Caption, "the event itself is sent at detection, before its caption")

	// The query API shows the stored caption and thumbnail_ref.
	code, body := apiGet(t, svc, "/api/v1/events/"+ev.ID, true)
	require.Equal(t, http.StatusOK, code)
	var stored event.Event
	require.NoError(t, json.Unmarshal(body, &stored))
	require.Equal(t, ev.Caption, stored.Caption)
	require.Equal(t, ev.ThumbnailRef, stored.ThumbnailRef)
	require.Equal(t, event.KeyframePath(ev.ID), stored.KeyframeRef, "the updates keep the keyframe")

	// The thumbnail: a PNG at the model's native 32x32, behind the token; 404 for an event without one.
	code, _ = apiGet(t, svc, ev.ThumbnailRef, false)
	require.Equal(t, http.StatusUnauthorized, code)
	code, body = apiGet(t, svc, ev.ThumbnailRef, true)
	require.Equal(t, http.StatusOK, code)
	img, err := png.Decode(bytes.NewReader(body))
	require.NoError(t, err)
	require.Equal(t, 32, img.Bounds().Dx())
	require.Equal(t, 32, img.Bounds().Dy())
	code, _ = apiGet(t, svc, event.ThumbnailPath(event.NewEventID(time.Now())), true)
	require.Equal(t, http.StatusNotFound, code)

	_, body = apiGet(t, svc, "/metrics", false)
	for _, m := range []string{`mvwatch_captions_total{result="ok"}`, `mvwatch_caption_acceptance_rate`,
		`mvwatch_caption_draft_length`, `mvwatch_thumbnails_total{result="ok"}`, `mvwatch_thumbnail_steps_bucket{scheduler="ddim"`,
		`mvwatch_thumbnail_unet_evaluations_saved_total`, `mvwatch_event_updates_total{kind="caption",result="stored"}`,
		`mvwatch_event_updates_total{kind="thumbnail",result="stored"}`} {
		require.Contains(t, string(body), m)
	}
}

// TestServiceFullCaptionQueueDropsWithoutBlocking: a burst of events far faster than captions are made
// (one-slot queues) is stored and sent live in full, while the stages drop and count what they cannot
// take; every event is either captioned or counted as dropped.
func TestServiceFullCaptionQueueDropsWithoutBlocking(t *testing.T) {
	reg := prometheus.NewRegistry()
	require.NoError(t, inference.Init(inference.RuntimeConfig{}))
	cfg := shippedStagesConfig()
	cfg.Captions.Queue, cfg.Thumbnails.Queue = 1, 1
	caps, err := enrich.NewCaptions(cfg.Captions, reg, quietLogger())
	require.NoError(t, err)
	thumbs, err := enrich.NewThumbnails(cfg.Thumbnails, reg, quietLogger())
	require.NoError(t, err)
	svc := newStageService(t, reg, &alternatingClassifier{}, caps, thumbs)
	defer svc.Close()
	live := subscribe(t, svc)
	defer live.close()

	const n = 100
	start := time.Now().Add(-time.Hour)
	for i := range n {
		at := start.Add(time.Duration(i) * time.Second)
		svc.bus.PublishEvent(event.Event{ID: event.NewEventID(at), Camera: "burst", Label: "object_left", Score: 0.9, Start: at, End: at.Add(time.Second)})
	}
	detected := func() int {
		c := 0
		for _, ev := range live.snapshot() {
			if ev.Caption == "" && ev.ThumbnailRef == "" {
				c++
			}
		}
		return c
	}
	eventually(t, 30*time.Second, func() bool { return detected() == n }, "every event sent live")
	count, err := svc.Store().Count()
	require.NoError(t, err)
	require.Equal(t, n, count, "every event stored")

	m := svc.metrics.updates
	settled := func() bool {
		capDone := testutil.ToFloat64(m.WithLabelValues("caption", "stored")) + gathered(t, reg, "mvwatch_caption_dropped_total")
		thDone := testutil.ToFloat64(m.WithLabelValues("thumbnail", "stored")) + gathered(t, reg, "mvwatch_thumbnail_dropped_total")
		return capDone == n && thDone == n
	}
	eventually(t, 60*time.Second, settled, "every event captioned or counted as dropped")
	require.Positive(t, gathered(t, reg, "mvwatch_caption_dropped_total"), "a one-slot queue under a burst drops")
	require.Positive(t, testutil.ToFloat64(m.WithLabelValues("caption", "stored")))
	require.Zero(t, testutil.ToFloat64(m.WithLabelValues("caption", "failed")))
}

// gathered returns the value of the unlabelled counter or gauge name in reg (0 when absent).
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() != name || len(f.GetMetric()) == 0 {
			continue
		}
		mt := f.GetMetric()[0]
		if c := mt.GetCounter(); c != nil {
			return c.GetValue()
		}
		return mt.GetGauge().GetValue()
	}
	return 0
}

// TestServiceClosesStagesBeforeStore: Close ends the stages' goroutines while events are in flight
// (goleak checks they are gone), and a result that would arrive afterwards finds a closed store
// without panicking.
func TestServiceClosesStagesBeforeStore(t *testing.T) {
	reg := prometheus.NewRegistry()
	caps, thumbs := openShippedStages(t, reg)
	svc := newStageService(t, reg, &alternatingClassifier{}, caps, thumbs)
	at := time.Now()
	for i := range 10 {
		t := at.Add(time.Duration(i) * time.Second)
		svc.bus.PublishEvent(event.Event{ID: event.NewEventID(t), Camera: "c", Label: "pan", Score: 0.8, Start: t, End: t})
	}
	require.NoError(t, svc.Close())
	svc.onCaption(event.NewEventID(at), "too late") // the store is closed: counted as failed, no panic
	require.Equal(t, 1.0, testutil.ToFloat64(svc.metrics.updates.WithLabelValues("caption", "failed")))
}
