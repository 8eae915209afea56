package diffusion

import (
	"bytes"
	"context"
	"image/png"
	"testing"
	"time"

	"github.com/mvwatch/mvwatch/inference"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

const thumbnailModel = "../models/thumbnail"

func openTinyPredictor(t *testing.T) *StepPredictor {
	t.Helper()
	require.NoError(t, inference.Init(inference.RuntimeConfig{}))
	pred, err := LoadStepPredictor("testdata/steppred", 1)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pred.Close()) })
	return pred
}

func TestThumbnailerQueueDropsAndCounts(t *testing.T) {
	p := openTinySD(t, thumbnailModel)
	pred := openTinyPredictor(t) // the fixture predictor: "car enters the driveway" -> 20 DDIM steps
	entered, release := make(chan Thumbnail, 4), make(chan struct{})
	reg := prometheus.NewRegistry()
	th, err := NewThumbnailer(ThumbnailerConfig{Pipeline: p, Predictor: pred, QueueSize: 1, Registerer: reg,
		OnThumbnail: func(r Thumbnail) {
			entered <- r
			<-release
		}})
	require.NoError(t, err)
	defer th.Close()

	require.True(t, th.Submit(ThumbnailJob{ID: "e1", Prompt: "car enters the driveway", Seed: 1}))
	first := <-entered // the worker holds e1 in the callback; the queue is empty
	require.NoError(t, first.Err)
	require.Equal(t, "e1", first.Job.ID)
	require.Equal(t, 20, first.Steps)
	img, err := png.Decode(bytes.NewReader(first.PNG))
	require.NoError(t, err)
	require.Equal(t, 32, img.Bounds().Dx())

	start := time.Now()
	require.True(t, th.Submit(ThumbnailJob{ID: "e2", Prompt: "x", Seed: 2}))  // fills the queue
	require.False(t, th.Submit(ThumbnailJob{ID: "e3", Prompt: "x", Seed: 3})) // dropped, not blocked
	require.Less(t, time.Since(start), time.Second, "Submit must not wait for the worker")
	require.Equal(t, 1.0, testutil.ToFloat64(th.Metrics().Dropped))
	release <- struct{}{}
	second := <-entered
	require.Equal(t, "e2", second.Job.ID)
	release <- struct{}{}

	require.Equal(t, 2.0, testutil.ToFloat64(th.Metrics().Results.WithLabelValues("ok")))
	require.Equal(t, 40.0, testutil.ToFloat64(th.Metrics().Evaluations))          // 20 + 20 steps
	require.Equal(t, 60.0, testutil.ToFloat64(th.Metrics().Saved))                // (50-20) * 2 against the default
	require.Equal(t, 1, testutil.CollectAndCount(reg, "mvwatch_thumbnail_steps")) // one scheduler series
	th.Close()
	require.False(t, th.Submit(ThumbnailJob{ID: "late", Prompt: "x"}))
	require.Equal(t, 2.0, testutil.ToFloat64(th.Metrics().Dropped))
	th.Close() // twice is fine
}

func TestThumbnailerErrors(t *testing.T) {
	p := openTinySD(t, thumbnailModel)
	reg := prometheus.NewRegistry()
	_, err := NewThumbnailer(ThumbnailerConfig{Pipeline: p})
	require.ErrorIs(t, err, ErrBadConfig)
	_, err = NewThumbnailer(ThumbnailerConfig{Pipeline: p, Registerer: reg, Steps: "auto"}) // no predictor
	require.ErrorIs(t, err, ErrBadConfig)
	_, err = NewThumbnailer(ThumbnailerConfig{Pipeline: p, Registerer: reg, Scheduler: "plms"})
	require.ErrorIs(t, err, ErrUnknownScheduler)

	th, err := NewThumbnailer(ThumbnailerConfig{Pipeline: p, Registerer: reg, Steps: "4"})
	require.NoError(t, err)
	defer th.Close()
	r := th.Render(context.Background(), ThumbnailJob{Prompt: "  "})
	require.ErrorIs(t, r.Err, ErrEmptyPrompt)
	long := ""
	for range 80 {
		long += "car "
	}
	r = th.Render(context.Background(), ThumbnailJob{Prompt: long})
	require.ErrorIs(t, r.Err, ErrPromptTooLong)
	require.Equal(t, 2.0, testutil.ToFloat64(th.Metrics().Results.WithLabelValues("error")))
	r = th.Render(context.Background(), ThumbnailJob{Prompt: "empty park at night"})
	require.NoError(t, r.Err)
	require.Equal(t, 4, r.Evaluations)
	require.Equal(t, 46.0, testutil.ToFloat64(th.Metrics().Saved))
}

// TestThumbnailerCloseWhileRendering: Close cancels a running thumbnail and waits for the goroutine.
func TestThumbnailerCloseWhileRendering(t *testing.T) {
	p := openTinySD(t, thumbnailModel)
	th, err := NewThumbnailer(ThumbnailerConfig{Pipeline: p, Registerer: prometheus.NewRegistry(), Steps: "1000"})
	require.NoError(t, err)
	for i := range 3 {
		th.Submit(ThumbnailJob{Prompt: "two cars moving left on the street at night", Seed: uint64(i)})
	}
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	th.Close()
	require.Less(t, time.Since(start), 5*time.Second)
}
