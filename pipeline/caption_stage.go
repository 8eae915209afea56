package pipeline

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mvwatch/mvwatch/llmgen"
)

// CaptionStage captions stored events in the background with llmgen's speculative Captioner. The
// service submits each event after storing and publishing it; submit never blocks (a full queue drops
// the event and counts it in mvwatch_caption_dropped_total), and every caption comes back on the
// captioner's one worker goroutine to the function the service gave start.
type CaptionStage struct {
	captioner *llmgen.Captioner
	log       *slog.Logger

	mu      sync.Mutex
	pending []pendingCaption // events queued in the captioner, in its (FIFO) order
	deliver func(id, text string)

	closeOnce sync.Once
	closeErr  error
}

// pendingCaption pairs a queued caption input with the event it belongs to: llmgen.Event carries no ID.
type pendingCaption struct {
	id string
	ev llmgen.Event
}

// NewCaptionStage loads the caption models that cfg names (directories as given) and registers the
// captioner's metrics on reg. inference.Init must have succeeded. Close it (the Service does when it
// owns it).
func NewCaptionStage(cfg CaptionsConfig, reg prometheus.Registerer, log *slog.Logger) (*CaptionStage, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &CaptionStage{log: log}
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

// start starts the worker; deliver receives each non-empty caption with its event ID.
func (s *CaptionStage) start(deliver func(id, text string)) error {
	s.mu.Lock()
	s.deliver = deliver
	s.mu.Unlock()
	if err := s.captioner.Start(); err != nil {
		return fmt.Errorf("captions: %w", err)
	}
	return nil
}

// submit queues ev for a caption without blocking; zone is its camera's zone. It reports whether the
// event was queued.
func (s *CaptionStage) submit(ev Event, zone string) bool {
	in := llmgen.DetectionEvent(ev.Camera, zone, ev.Label, ev.Start, ev.End.Sub(ev.Start), ev.Score)
	// Held across Submit so that the worker, which takes mu in onCaption, finds the entry.
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.captioner.Submit(in) {
		return false
	}
	s.pending = append(s.pending, pendingCaption{id: ev.ID, ev: in})
	return true
}

// onCaption runs on the captioner's worker for every dequeued event, in queue order.
func (s *CaptionStage) onCaption(cp llmgen.Caption) {
	s.mu.Lock()
	id := ""
	for len(s.pending) > 0 {
		p := s.pending[0]
		s.pending = s.pending[1:]
		if p.ev == cp.Event {
			id = p.id
			break
		}
	}
	deliver := s.deliver
	s.mu.Unlock()
	switch {
	case id == "":
		s.log.Error("caption for an event that was not submitted", "camera", cp.Event.Camera)
	case cp.Err != nil: // the captioner logged it
	case cp.Text == "":
		s.log.Warn("empty caption", "event", id, "finish", cp.Finish)
	case deliver != nil:
		deliver(id, cp.Text)
	}
}

// Close stops the worker (queued events are not captioned), waits for it and frees the models. It is
// safe to call more than once.
func (s *CaptionStage) Close() error {
	s.closeOnce.Do(func() {
		if err := s.captioner.Close(); err != nil {
			s.closeErr = fmt.Errorf("captions: %w", err)
		}
	})
	return s.closeErr
}
