package pipeline

import (
	"bytes"
	"encoding/json"
	"image/png"
	"log/slog"
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
)

// shippedStagesConfig is the default config with the shipped caption and thumbnail models, as seen
// from this package's directory.
func shippedStagesConfig() *config.Config {
	cfg := config.Default()
	cfg.Captions.TargetDir = filepath.Join("..", config.DefaultCaptionTargetDir)
	cfg.Captions.DraftDir = filepath.Join("..", config.DefaultCaptionDraftDir)
	cfg.Thumbnails.ModelDir = filepath.Join("..", config.DefaultThumbnailModelDir)
	cfg.Thumbnails.PredictorDir = filepath.Join("..", config.DefaultThumbnailPredictor)
	return cfg
}

// openShippedStages opens both stages on the shipped models.
func openShippedStages(t *testing.T, reg prometheus.Registerer) (*CaptionStage, *ThumbnailStage) {
	t.Helper()
	require.NoError(t, inference.Init(inference.RuntimeConfig{}))
	cfg := shippedStagesConfig()
	caps, err := NewCaptionStage(cfg.Captions, reg, quietLogger())
	require.NoError(t, err)
	thumbs, err := NewThumbnailStage(cfg.Thumbnails, reg, quietLogger())
	require.NoError(t, err)
	return caps, thumbs
}

// newStageService starts a service on random ports with the given stages (owned by the service).
func newStageService(t *testing.T, reg *prometheus.Registry, cls Classifier, caps *CaptionStage, thumbs *ThumbnailStage, cams ...config.Camera) *Service {
	t.Helper()
	cfg := config.Default()
	cfg.Listen.HTTP, cfg.Listen.RTSP = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.Path = filepath.Join(t.TempDir(), "events.db")
	cfg.APIToken = "s3cret-token"
	off := false
	cfg.Gate.Enabled = &off
	cfg.Cameras = cams
	svc, err := NewService(ServiceOptions{Config: cfg, Classifier: cls, Registry: reg, Logger: quietLogger(),
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
	for _, m := range []string{`mvwatch_caption_captions_total{result="ok"}`, `mvwatch_caption_acceptance_rate`,
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
	caps, err := NewCaptionStage(cfg.Captions, reg, quietLogger())
	require.NoError(t, err)
	thumbs, err := NewThumbnailStage(cfg.Thumbnails, reg, quietLogger())
	require.NoError(t, err)
	svc := newStageService(t, reg, &alternatingClassifier{}, caps, thumbs)
	defer svc.Close()
	live := subscribe(t, svc)
	defer live.close()

	const n = 100
	start := time.Now().Add(-time.Hour)
	for i := range n {
		at := start.Add(time.Duration(i) * time.Second)
		svc.publish(event.Event{ID: event.NewEventID(at), Camera: "burst", Label: "object_left", Score: 0.9, Start: at, End: at.Add(time.Second)})
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

	m := svc.metrics.EventUpdates
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

// TestOpenStagesDisabledOrBroken: off means no stage; a broken model directory is an error at start-up
// when the stage is enabled explicitly, and a warning (the stage left out, the rest running) when it is
// on only by default.
func TestOpenStagesDisabledOrBroken(t *testing.T) {
	off, on := false, true
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	cfg := shippedStagesConfig()
	cfg.Captions.Enabled, cfg.Thumbnails.Enabled = &off, &off
	caps, thumbs, err := OpenStages(cfg, prometheus.NewRegistry(), log)
	require.NoError(t, err)
	require.Nil(t, caps)
	require.Nil(t, thumbs)

	missing := filepath.Join(t.TempDir(), "nothing-here")
	broken := shippedStagesConfig()
	broken.Captions.TargetDir = missing
	broken.Thumbnails.ModelDir = missing

	// On by default: warnings, no stage, no error.
	caps, thumbs, err = OpenStages(broken, prometheus.NewRegistry(), log)
	require.NoError(t, err)
	require.Nil(t, caps)
	require.Nil(t, thumbs)
	require.Contains(t, logs.String(), "captions off")
	require.Contains(t, logs.String(), "thumbnails off")
	require.Contains(t, logs.String(), missing)

	// Enabled explicitly: an error naming the stage and the directory.
	broken.Captions.Enabled = &on
	_, _, err = OpenStages(broken, prometheus.NewRegistry(), log)
	require.ErrorContains(t, err, "captions enabled but not available")
	require.ErrorContains(t, err, missing)

	broken = shippedStagesConfig()
	broken.Thumbnails.Enabled = &on
	broken.Thumbnails.ModelDir = missing
	_, _, err = OpenStages(broken, prometheus.NewRegistry(), log)
	require.ErrorContains(t, err, "thumbnails enabled but not available")
	require.ErrorContains(t, err, "lacks") // the missing parts are named

	// A setting the shipped step predictor cannot serve: auto steps with a scheduler it has no head for.
	broken = shippedStagesConfig()
	broken.Thumbnails.Enabled = &on
	broken.Thumbnails.Scheduler = "dpmpp_2m" // the pipeline has it, the predictor has no head for it
	_, _, err = OpenStages(broken, prometheus.NewRegistry(), log)
	require.ErrorContains(t, err, "thumbnails enabled but not available")
	require.ErrorContains(t, err, "dpmpp_2m")

	// The working default opens both.
	reg := prometheus.NewRegistry()
	caps, thumbs, err = OpenStages(shippedStagesConfig(), reg, log)
	require.NoError(t, err)
	require.NotNil(t, caps)
	require.NotNil(t, thumbs)
	require.NoError(t, caps.Close())
	require.NoError(t, thumbs.Close())
	require.NoError(t, caps.Close(), "Close twice is harmless")
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
		svc.publish(event.Event{ID: event.NewEventID(t), Camera: "c", Label: "pan", Score: 0.8, Start: t, End: t})
	}
	require.NoError(t, svc.Close())
	svc.onCaption(event.NewEventID(at), "too late") // the store is closed: counted as failed, no panic
	require.Equal(t, 1.0, testutil.ToFloat64(svc.metrics.EventUpdates.WithLabelValues("caption", "failed")))
}

// TestThumbnailStageReproducible: the seed comes from the event ID, so the same event draws the same
// picture again, and another event with the same label, scene and time draws a different one.
func TestThumbnailStageReproducible(t *testing.T) {
	require.NoError(t, inference.Init(inference.RuntimeConfig{}))
	s, err := NewThumbnailStage(shippedStagesConfig().Thumbnails, prometheus.NewRegistry(), quietLogger())
	require.NoError(t, err)
	got := make(chan []byte, 3)
	s.deliver = func(_ string, png []byte) { got <- png }
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	ev := event.Event{ID: event.NewEventID(at), Camera: "c", Label: "object_right", Score: 0.9, Start: at, End: at}
	other := ev
	other.ID = event.NewEventID(at) // same start, other random suffix
	for _, e := range []event.Event{ev, ev, other} {
		require.True(t, s.submit(e, "park"))
	}
	a, b, c := <-got, <-got, <-got
	require.NoError(t, s.Close())
	require.Equal(t, a, b, "same event, same thumbnail")
	require.NotEqual(t, a, c, "another event, other noise")
}
