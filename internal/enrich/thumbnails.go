package enrich

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mvwatch/mvwatch/diffusion"
	"github.com/mvwatch/mvwatch/internal/config"

	"github.com/mvwatch/mvwatch/internal/event"
)

// Thumbnails draws an illustrative thumbnail per stored event with diffusion's adaptive-step
// Thumbnailer. The prompt comes from the event's label, its camera's scene and its time of day, never
// from the camera's pictures; the starting noise is seeded from the event ID, so an event's thumbnail
// is reproducible. Submit never blocks: a full queue drops the job and counts it in
// mvwatch_thumbnail_dropped_total.
type Thumbnails struct {
	pipe  *diffusion.Pipeline
	pred  *diffusion.StepPredictor
	thumb *diffusion.Thumbnailer
	log   *slog.Logger

	// deliver receives each finished PNG; set by Start before the first Submit (the channel send in
	// Submit orders it before the worker's read).
	deliver func(id string, png []byte)

	closeOnce sync.Once
	closeErr  error
}

// NewThumbnails loads the diffusion model (and, when cfg.Steps is "auto", the step predictor) that
// cfg names (directories as given), registers the thumbnail metrics on reg and starts the worker.
// inference.Init must have succeeded. Close it (the app does when it owns it).
func NewThumbnails(cfg config.Thumbnails, reg prometheus.Registerer, log *slog.Logger) (*Thumbnails, error) {
	if log == nil {
		log = slog.Default()
	}
	if reg == nil {
		return nil, errors.New("thumbnails: a metrics registerer is required")
	}
	s := &Thumbnails{log: log}
	var err error
	// One thread per model: thumbnails are background work and must not take the cores detection needs.
	if s.pipe, err = diffusion.OpenPipeline(cfg.ModelDir, diffusion.PipelineConfig{IntraOpThreads: 1}); err != nil {
		return nil, fmt.Errorf("thumbnails: %w", err)
	}
	if strings.EqualFold(strings.TrimSpace(cfg.Steps), "auto") {
		if s.pred, err = diffusion.LoadStepPredictor(cfg.PredictorDir, 1); err != nil {
			return nil, errors.Join(fmt.Errorf("thumbnails: %w", err), s.pipe.Close())
		}
	}
	s.thumb, err = diffusion.NewThumbnailer(diffusion.ThumbnailerConfig{
		Pipeline: s.pipe, Predictor: s.pred, Steps: cfg.Steps, Scheduler: cfg.Scheduler,
		GuidanceScale: cfg.Guidance, QueueSize: cfg.Queue, Registerer: reg, OnThumbnail: s.onThumbnail,
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("thumbnails: %w", err), s.closeModels())
	}
	return s, nil
}

// Submit queues a thumbnail for ev without blocking; scene is its camera's scene (empty: street). The
// prompt is diffusion.EventPrompt's (label, scene, day or night at the event's start); the seed is a
// hash of the event ID.
func (s *Thumbnails) Submit(ev event.Event, scene string) bool {
	return s.thumb.Submit(thumbnailJob(ev, scene))
}

// Render draws ev's thumbnail now, on the caller's goroutine (the same prompt and seed as Submit's,
// so the same picture); scene is its camera's scene. It is what a node running thumbnail jobs from
// the NATS work queue calls; ctx cancels it.
func (s *Thumbnails) Render(ctx context.Context, ev event.Event, scene string) ([]byte, error) {
	th := s.thumb.Render(ctx, thumbnailJob(ev, scene))
	if th.Err != nil {
		return nil, fmt.Errorf("thumbnails: %w", th.Err)
	}
	return th.PNG, nil
}

// thumbnailJob is the thumbnailer's job for ev: the prompt from its label, scene and time of day,
// the seed a hash of its ID.
func thumbnailJob(ev event.Event, scene string) diffusion.ThumbnailJob {
	h := fnv.New64a()
	h.Write([]byte(ev.ID))
	return diffusion.ThumbnailJob{ID: ev.ID, Prompt: diffusion.EventPrompt(ev.Label, scene, ev.Start), Seed: h.Sum64()}
}

// onThumbnail runs on the Thumbnailer's worker for every finished job.
func (s *Thumbnails) onThumbnail(th diffusion.Thumbnail) {
	if th.Err != nil {
		s.log.Error("thumbnail failed", "event", th.Job.ID, "err", th.Err)
		return
	}
	if s.deliver != nil {
		s.deliver(th.Job.ID, th.PNG)
	}
}

// Start sets the function that receives each finished PNG with its event ID, on the worker goroutine.
// Call it before the first Submit.
func (s *Thumbnails) Start(deliver func(id string, png []byte)) { s.deliver = deliver }

// Close stops the worker (the running thumbnail is cancelled, queued ones are dropped), waits for it
// and frees the models. It is safe to call more than once.
func (s *Thumbnails) Close() error {
	s.closeOnce.Do(func() {
		s.thumb.Close()
		s.closeErr = s.closeModels()
	})
	return s.closeErr
}

func (s *Thumbnails) closeModels() error {
	var err error
	if s.pred != nil {
		err = s.pred.Close()
	}
	if err = errors.Join(err, s.pipe.Close()); err != nil {
		return fmt.Errorf("thumbnails: %w", err)
	}
	return nil
}
