// Package enrich adds to stored events in the background: captions (llmgen's speculative captioner)
// and illustrative thumbnails (diffusion's adaptive-step thumbnailer), each behind a bounded queue that
// drops and counts, never waiting. Open opens the stages the config turns on. Each stage's metrics
// (mvwatch_caption_*, mvwatch_thumbnail_*) are registered by llmgen and diffusion on the injected
// registry.
package enrich

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/llmgen"

	"github.com/mvwatch/mvwatch/internal/event"
)

// Captions captions stored events in the background with llmgen's speculative Captioner. The
// app submits each event after storing and publishing it; Submit never blocks (a full queue drops
// the event and counts it in mvwatch_caption_dropped_total), and every caption comes back on the
// captioner's one worker goroutine to the function the app gave Start.
type Captions struct {
	captioner *llmgen.Captioner
	log       *slog.Logger

	// deliver receives each caption; set by start before the worker runs.
	deliver func(id, text string)

	closeOnce sync.Once
	closeErr  error
}

// NewCaptions loads the caption models that cfg names (directories as given) and registers the
// captioner's metrics on reg. inference.Init must have succeeded. Close it (the app does when it
// owns it).
func NewCaptions(cfg config.Captions, reg prometheus.Registerer, log *slog.Logger) (*Captions, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Captions{log: log}
	c, err := llmgen.NewCaptioner(llmgen.CaptionerConfig{
		TargetDir: cfg.TargetDir, DraftDir: cfg.DraftDir, QueueSize: cfg.Queue,
		Registerer: reg, Logger: log, OnCaption: s.onCaption,
	})
	if err != nil {
		return nil, fmt.Errorf("captions: %w", err)
	}
	s.captioner = c
	return s, nil
}

// Start starts the worker; deliver receives each non-empty caption with its event ID, on the worker
// goroutine. Close stops it.
func (s *Captions) Start(deliver func(id, text string)) error {
	s.deliver = deliver // the worker goroutine that reads it starts below
	if err := s.captioner.Start(); err != nil {
		return fmt.Errorf("captions: %w", err)
	}
	return nil
}

// Submit queues ev for a caption without blocking; zone is its camera's zone. It reports whether the
// event was queued (a full queue drops and counts it).
func (s *Captions) Submit(ev event.Event, zone string) bool {
	return s.captioner.Submit(captionInput(ev, zone))
}

// Caption captions ev now, on the caller's goroutine (calls are serialised with the worker's); zone
// is its camera's zone. It is what a node running caption jobs from the NATS work queue calls.
// An empty caption is an error.
func (s *Captions) Caption(ev event.Event, zone string) (string, error) {
	cp := s.captioner.Caption(captionInput(ev, zone))
	switch {
	case cp.Err != nil:
		return "", fmt.Errorf("captions: %w", cp.Err)
	case cp.Text == "":
		return "", fmt.Errorf("captions: empty caption for %s (finish %s)", ev.ID, cp.Finish)
	}
	return cp.Text, nil
}

// captionInput is the captioner's view of ev.
func captionInput(ev event.Event, zone string) llmgen.Event {
	in := llmgen.DetectionEvent(ev.Camera, zone, ev.Label, ev.Start, ev.End.Sub(ev.Start), ev.Score)
	in.ID = ev.ID
	return in
}

// onCaption runs on the captioner's worker for every dequeued event.
func (s *Captions) onCaption(cp llmgen.Caption) {
	switch {
	case cp.Err != nil: // the captioner logged it
	case cp.Text == "":
		s.log.Warn("empty caption", "event", cp.Event.ID, "finish", cp.Finish)
	case s.deliver != nil:
		s.deliver(cp.Event.ID, cp.Text)
	}
}

// Close stops the worker (queued events are not captioned), waits for it and frees the models. It is
// safe to call more than once.
func (s *Captions) Close() error {
	s.closeOnce.Do(func() {
		if err := s.captioner.Close(); err != nil {
			s.closeErr = fmt.Errorf("captions: %w", err)
		}
	})
	return s.closeErr
}
