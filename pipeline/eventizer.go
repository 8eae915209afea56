package pipeline

import (
	"bytes"
	"image/jpeg"
	"time"

	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/track"
)

// Classification is the model's decision on one clip.
type Classification struct {
	// Label is the winning class and Score its softmax probability.
	Label string
	Score float64
	// ExitStage is the model stage whose exit head decided (0 = first).
	ExitStage int
}

// Eventizer thresholds (issue 13: one crossing is one event). They are relative to the configured
// thresholds (Thresholds.MinScoreFor) and the gap, so they need no configuration of their own.
const (
	// continueRatio is the hysteresis of an open event: a clip of the event's label continues it when it
	// scores at least continueRatio x the label's threshold (0.3 with the default 0.5), while only a clip
	// at the threshold opens an event.
	continueRatio = 0.6
	// confidentScore is the score that makes an event confident: a weak event of the same label soon
	// after a confident one is its tail (tailWindow).
	confidentScore = 0.8
	// tailWindow is how soon after a confident event (score >= confidentScore) a new event of the same
	// label that never becomes confident counts as that event's tail, not a new event: it is dropped.
	tailWindow = 4 * time.Second
	// minLightShift is the smallest change of a clip's mean luma, in grey levels (0-255), that a light
	// label (lightLabels) needs to be active: auto-exposure adapting by a few levels after someone
	// enters, or hunting on a static scene, raises nothing. A light switched on or off, or a covered
	// lens, moves the mean luma by far more.
	minLightShift = 12.0
)

// lightLabels are the labels that mean a change of the whole picture's light, subject to minLightShift.
var lightLabels = map[string]bool{"illumination": true, "tamper": true}

// objectLabels are the labels of objects moving. Clips of any of them continue one object event, so a
// crossing that the model calls object_right, then multi_object while the object fills the view, is
// one event. The event takes the label of its most confident clip.
var objectLabels = map[string]bool{"object_left": true, "object_right": true, "multi_object": true}

// sameEvent reports whether a clip labelled b continues an event labelled a.
func sameEvent(a, b string) bool { return a == b || objectLabels[a] && objectLabels[b] }

// eventizer turns one camera's stream of clip classifications into events, so that one crossing is
// one event:
//
//   - A clip whose label is not an idle label and that scores at least its threshold opens an event;
//     for illumination and tamper its mean luma must also have moved by minLightShift grey levels.
//   - Clips of the open event's label (any object label for an object event: objectLabels) scoring
//     at least continueRatio x the threshold extend it
//     (hysteresis), also across idle or weak clips, as long as no more than gap separates them (merging).
//   - A clip of another label ends the open event only when a second clip of that label follows within
//     the gap; the new label's event then starts at its first clip. A single clip of another label
//     inside an event (a large object called multi_object for half a second) is absorbed; one at the
//     end of an event, with no clip of the event's label after it, is an event of its own.
//   - An event is published when gap passes without a clip that extends it, when the scene goes quiet
//     (flush), or when the camera stops. A weak event (never >= confidentScore) of the same label that
//     starts within tailWindow of a confident one's end is its tail and is dropped.
//
// It also reports each clip's verdict (idle or not) back to the gate that passed it. It belongs to the
// camera's inference goroutine.
type eventizer struct {
	camera     string
	thresholds config.Thresholds
	idle       map[string]bool
	publish    func(event.Event)
	// zones are the camera's zones (nil for none): they name an event's zones and decide its alert.
	zones *track.ZoneSet
	// gap is how far apart two clips may be and still extend the same event.
	gap time.Duration

	open    *openEvent
	openEnd time.Duration // PTS of the last frame of the clip that last extended the open event
	// cand is a clip of another label seen while an event is open: the start of the next event if a
	// second clip of its label follows, otherwise a blip.
	cand    *openEvent
	candEnd time.Duration
	// last is the last published event, for the tail rule.
	last      event.Event
	published bool
	// resumed is set when a replacement runner took the eventizer over (Fleet.Replace): the new stream's
	// PTS start afresh, so the next clip is placed by wall-clock time instead.
	resumed bool
	// clips, when set, records each event's video (internal/clip): begun when an event or candidate
	// opens, ended when it is published, discarded when it never is.
	clips clipRecorder
}

// clipRecorder is what the eventizer needs of a camera's clip recorder (clip.Recorder).
type clipRecorder interface {
	Begin(id string, startPTS time.Duration, start time.Time)
	End(id string, endPTS time.Duration)
	Discard(id string)
}

// openEvent is an event the eventizer is still building (its open event or candidate), with what the
// eventizer knows about it that the event does not carry.
type openEvent struct {
	event.Event
	// zoneMask has bit i set for the camera's zone i touched so far (finishZones turns it into the
	// event's Zones and NoAlert when the event is published).
	zoneMask uint64
	// boxed is set when the keyframe shows a track's box.
	boxed bool
	// endPTS is the stream time of the event's last frame so far (its clip's end).
	endPTS time.Duration
}

// setZones gives the eventizer a replaced camera's zones: the zones that its open event and candidate
// touched keep their names (a zone renamed or removed is forgotten).
func (e *eventizer) setZones(zones *track.ZoneSet) {
	for _, ev := range []*openEvent{e.open, e.cand} {
		if ev != nil {
			ev.zoneMask = remapZones(ev.zoneMask, e.zones, zones)
		}
	}
	e.zones = zones
}

// resumeWindow is how long after an open event's end the first clip of a replaced camera's new stream
// may start and still continue it: the gap plus the time to reconnect.
func (e *eventizer) resumeWindow() time.Duration { return 2 * e.gap }

// resume marks the eventizer as taken over by a new stream of the same camera.
func (e *eventizer) resume() { e.resumed = true }

// observe takes the classification of the next clip.
func (e *eventizer) observe(job *clipJob, c Classification) {
	if e.resumed {
		e.resumed = false
		if e.open != nil && job.start.Sub(e.open.End) <= e.resumeWindow() {
			e.openEnd = job.startPTS
		}
		if e.cand != nil && job.start.Sub(e.cand.End) <= e.resumeWindow() {
			e.candEnd = job.startPTS
		}
	}
	isIdle := e.idle[c.Label]
	job.verdict(isIdle && c.Score >= e.thresholds.MinScoreFor(c.Label))
	active := !isIdle && c.Score >= e.thresholds.MinScoreFor(c.Label) &&
		(!lightLabels[c.Label] || job.lumaShift >= minLightShift)
	if e.open != nil && (job.startPTS-e.openEnd > e.gap || job.startPTS < e.openEnd) {
		// Too long since the event's last clip, or the stream restarted: the event is over. A candidate
		// close enough to this clip becomes the open event.
		cand := e.cand
		e.cand = nil
		e.publishOpen()
		if cand != nil {
			e.open, e.openEnd = cand, e.candEnd
			if job.startPTS-e.candEnd > e.gap || job.startPTS < e.candEnd {
				e.publishOpen()
			}
		}
	}
	if e.open == nil {
		if active {
			e.open, e.openEnd = e.newEvent(job, c), job.endPTS
		}
		return
	}
	switch {
	case sameEvent(e.open.Label, c.Label) && !isIdle && c.Score >= continueRatio*e.thresholds.MinScoreFor(c.Label):
		e.extend(e.open, job, c)
		e.openEnd = job.endPTS
		e.discard(e.cand) // a blip inside the event
		e.cand = nil
	case !active:
		// Idle or weak: the event stays open until the gap passes or a clip continues it.
	case e.cand != nil && sameEvent(e.cand.Label, c.Label) && job.startPTS-e.candEnd <= e.gap:
		e.extend(e.cand, job, c)
		e.switchTo(job.endPTS)
	default:
		e.discard(e.cand)
		e.cand, e.candEnd = e.newEvent(job, c), job.endPTS
	}
}

// zoneEvents publishes a job's zone events (enter, leave, dwell): they are complete as they come and
// are published apart from the model's events. It reports whether the job carried any.
func (e *eventizer) zoneEvents(job *clipJob) bool {
	for _, ev := range job.zoneEvents {
		e.publish(ev)
	}
	return len(job.zoneEvents) > 0
}

// switchTo publishes the open event and makes the candidate, which ends at end, the open one.
func (e *eventizer) switchTo(end time.Duration) {
	cand := e.cand
	e.cand = nil
	e.publishOpen()
	e.open, e.openEnd = cand, end
}

// newEvent starts an event at job's clip.
func (e *eventizer) newEvent(job *clipJob, c Classification) *openEvent {
	ev := &openEvent{Event: event.Event{
		ID:        event.NewEventID(job.start),
		Camera:    e.camera,
		Label:     c.Label,
		Score:     c.Score,
		Start:     job.start,
		End:       job.end,
		ExitStage: c.ExitStage,
		Tracks:    mergeTracks(nil, job.tracks),
	}, zoneMask: job.zoneMask, endPTS: job.endPTS}
	keyframe(ev, job)
	if e.clips != nil {
		e.clips.Begin(ev.ID, job.startPTS, job.start)
	}
	return ev
}

// discard drops the clip of an event or candidate that will never be published.
func (e *eventizer) discard(ev *openEvent) {
	if ev != nil && e.clips != nil {
		e.clips.Discard(ev.ID)
	}
}

// keyframe attaches the job's picture to ev as its keyframe JPEG, with the job's tracks drawn.
func keyframe(ev *openEvent, job *clipJob) {
	if job.thumb == nil {
		return
	}
	drawBoxes(job.thumb, job.tracks) // the job's own copy of the frame, rewritten for every clip
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, job.thumb, &jpeg.Options{Quality: 80}); err == nil {
		ev.AttachKeyframe(buf.Bytes())
		ev.boxed = len(job.tracks) > 0
	}
}

// extend adds job's clip to ev.
func (e *eventizer) extend(ev *openEvent, job *clipJob, c Classification) {
	if c.Label != ev.Label && c.Score > ev.Score {
		ev.Label = c.Label // another object label, more confident than any clip so far
	}
	ev.Extend(job.end, c.Score)
	ev.endPTS = job.endPTS
	ev.zoneMask |= job.zoneMask
	ev.Tracks = mergeTracks(ev.Tracks, job.tracks)
	if !ev.boxed && len(job.tracks) > 0 {
		// The event opened before its object was tracked: the first clip with a track gives the
		// keyframe, so the snapshot shows the box.
		keyframe(ev, job)
	}
}

// flush publishes the open event and a pending candidate, if any: the scene went quiet or the camera
// stopped.
func (e *eventizer) flush() {
	cand := e.cand
	e.cand = nil
	e.publishOpen()
	if cand != nil {
		e.open = cand
		e.publishOpen()
	}
}

// publishOpen publishes the open event, if any, unless it is the tail of the last one.
func (e *eventizer) publishOpen() {
	if e.open == nil {
		return
	}
	ev := e.open.Event
	finishZones(&ev, e.open.zoneMask, e.zones)
	open := e.open
	e.open = nil
	if e.published && sameEvent(e.last.Label, ev.Label) && e.last.Score >= confidentScore && ev.Score < confidentScore &&
		ev.Start.Sub(e.last.End) <= tailWindow {
		e.last.End = ev.End // the tail of the last event: later tails count from its end
		e.discard(open)
		return
	}
	e.last, e.published = ev, true
	if e.clips != nil {
		e.clips.End(ev.ID, open.endPTS)
	}
	e.publish(ev)
}
