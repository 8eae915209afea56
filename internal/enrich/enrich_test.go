package enrich

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/inference"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// shippedStagesConfig is the default config with the shipped caption and thumbnail models, as seen
// from this package's directory.
func shippedStagesConfig() *config.Config {
	cfg := config.Default()
	cfg.Captions.TargetDir = filepath.Join("..", "..", config.DefaultCaptionTargetDir)
	cfg.Captions.DraftDir = filepath.Join("..", "..", config.DefaultCaptionDraftDir)
	cfg.Thumbnails.ModelDir = filepath.Join("..", "..", config.DefaultThumbnailModelDir)
	cfg.Thumbnails.PredictorDir = filepath.Join("..", "..", config.DefaultThumbnailPredictor)
	return cfg
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
	caps, thumbs, err := Open(cfg, prometheus.NewRegistry(), log)
	require.NoError(t, err)
	require.Nil(t, caps)
	require.Nil(t, thumbs)

	missing := filepath.Join(t.TempDir(), "nothing-here")
	broken := shippedStagesConfig()
	broken.Captions.TargetDir = missing
	broken.Thumbnails.ModelDir = missing

	// On by default: warnings, no stage, no error.
	caps, thumbs, err = Open(broken, prometheus.NewRegistry(), log)
	require.NoError(t, err)
	require.Nil(t, caps)
	require.Nil(t, thumbs)
	require.Contains(t, logs.String(), "captions off")
	require.Contains(t, logs.String(), "thumbnails off")
	require.Contains(t, logs.String(), missing)

	// Enabled explicitly: an error naming the stage and the directory.
	broken.Captions.Enabled = &on
	_, _, err = Open(broken, prometheus.NewRegistry(), log)
	require.ErrorContains(t, err, "captions enabled but not available")
	require.ErrorContains(t, err, missing)

	broken = shippedStagesConfig()
	broken.Thumbnails.Enabled = &on
	broken.Thumbnails.ModelDir = missing
	_, _, err = Open(broken, prometheus.NewRegistry(), log)
	require.ErrorContains(t, err, "thumbnails enabled but not available")
	require.ErrorContains(t, err, "lacks") // the missing parts are named

	// A setting the shipped step predictor cannot serve: auto steps with a scheduler it has no head for.
	broken = shippedStagesConfig()
	broken.Thumbnails.Enabled = &on
	broken.Thumbnails.Scheduler = "dpmpp_2m" // the pipeline has it, the predictor has no head for it
	_, _, err = Open(broken, prometheus.NewRegistry(), log)
	require.ErrorContains(t, err, "thumbnails enabled but not available")
	require.ErrorContains(t, err, "dpmpp_2m")

	// The working default opens both.
	reg := prometheus.NewRegistry()
	caps, thumbs, err = Open(shippedStagesConfig(), reg, log)
	require.NoError(t, err)
	require.NotNil(t, caps)
	require.NotNil(t, thumbs)
	require.NoError(t, caps.Close())
	require.NoError(t, thumbs.Close())
	require.NoError(t, caps.Close(), "Close twice is harmless")
}

// TestThumbnailsReproducible: the seed comes from the event ID, so the same event draws the same
// picture again, and another event with the same label, scene and time draws a different one.
func TestThumbnailsReproducible(t *testing.T) {
	require.NoError(t, inference.Init(inference.RuntimeConfig{}))
	s, err := NewThumbnails(shippedStagesConfig().Thumbnails, prometheus.NewRegistry(), quietLogger())
	require.NoError(t, err)
	got := make(chan []byte, 3)
	s.Start(func(_ string, png []byte) { got <- png })
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	ev := event.Event{ID: event.NewEventID(at), Camera: "c", Label: "object_right", Score: 0.9, Start: at, End: at}
	other := ev
	other.ID = event.NewEventID(at) // same start, other random suffix
	for _, e := range []event.Event{ev, ev, other} {
		require.True(t, s.Submit(e, "park"))
	}
	a, b, c := <-got, <-got, <-got
	require.NoError(t, s.Close())
	require.Equal(t, a, b, "same event, same thumbnail")
	require.NotEqual(t, a, c, "another event, other noise")
}
