package pipeline

import (
	"bytes"
	"image/jpeg"
	"time"

	"github.com/mvwatch/mvwatch/internal/config"
)

// Classification is the model's decision on one clip.
type Classification struct {
	// Label is the winning class and Score its softmax probability.
	Label string
	Score float64
	// ExitStage is the model stage whose exit head decided (0 = first).
	ExitStage int
}

// eventizer turns one camera's stream of clip classifications into events: consecutive clips with the
// same label that is not an idle label and scores at least its threshold become one event, which is
// published when the label changes, the scene goes quiet, or the camera stops. It belongs to the
// camera's inference goroutine.
type eventizer struct {
	camera     string
	thresholds config.Thresholds
	idle       map[string]bool
	publish    func(Event)
	// gap is how far apart two clips may be and still extend the same event.
	gap time.Duration

	open    *Event
	openEnd time.Duration // PTS of the open event's last frame
}

// observe takes the classification of the next clip.
func (e *eventizer) observe(job *clipJob, c Classification) {
	active := !e.idle[c.Label] && c.Score >= e.thresholds.MinScoreFor(c.Label)
	if e.open != nil && (!active || c.Label != e.open.Label || job.startPTS-e.openEnd > e.gap || job.startPTS < e.openEnd) {
		e.flush()
	}
	if !active {
		return
	}
	if e.open != nil {
		e.open.End = job.end
		e.open.Score = max(e.open.Score, c.Score)
		e.openEnd = job.endPTS
		return
	}
	ev := &Event{
		ID:        NewEventID(job.start),
		Camera:    e.camera,
		Label:     c.Label,
		Score:     c.Score,
		Start:     job.start,
		End:       job.end,
		ExitStage: c.ExitStage,
	}
	if job.thumb != nil {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, job.thumb, &jpeg.Options{Quality: 80}); err == nil {
			ev.AttachKeyframe(buf.Bytes())
		}
	}
	e.open, e.openEnd = ev, job.endPTS
}

// flush publishes the open event, if any.
func (e *eventizer) flush() {
	if e.open == nil {
		return
	}
	ev := *e.open
	e.open = nil
	e.publish(ev)
}
