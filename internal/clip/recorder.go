package clip

import (
	"sync"
	"time"

	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/pregate"
)

// openLag is how far behind the stream an event may open and still find its pre-roll in the buffer:
// a clip's span of frames, the inference queue and the model's answer come between a picture and the
// event that starts at it.
const openLag = 8 * time.Second

// maxRecordings bounds the recordings a camera has open at once (an open event, a candidate, and
// closed ones waiting for their post-roll).
const maxRecordings = 8

// Recorder records one camera's event clips. Push runs on the camera's delivery goroutine; Begin, End
// and Discard on its inference goroutine (the eventizer); Close once the camera's source has stopped.
// Safe for concurrent use.
type Recorder struct {
	svc    *Service
	camera string

	mu     sync.Mutex
	buf    *pregate.GOPBuffer // the last PreRoll+openLag of video, whole GOPs
	drops  uint64             // buf.Drops() already counted
	codec  media.Codec
	recs   []*recording
	closed bool
}

// recording is one event's clip being recorded.
type recording struct {
	id string
	// startPTS and start map the stream's PTS to wall-clock time (the event's start).
	startPTS time.Duration
	start    time.Time
	units    []pregate.Unit
	bytes    int64
	// waitKey is set while the recording waits for its first keyframe (the buffer had none).
	waitKey bool
	// full is set once the duration or size bound stopped the recording.
	full bool
	// ended is set by End: the recording finishes once the stream reaches until, or (a stream that
	// stalled or ended) once the post-roll and stallSlack have passed on the clock since endedAt.
	ended   bool
	until   time.Duration
	endedAt time.Time
}

// stallSlack is how much longer than the post-roll a closed recording waits for access units of a
// stream that stopped sending before it is finished with what it has.
const stallSlack = time.Second

func newRecorder(svc *Service, camera string) *Recorder {
	return &Recorder{svc: svc, camera: camera,
		buf: pregate.NewGOPWindow(svc.cfg.BufferBytes, svc.cfg.PreRoll.D()+openLag)}
}

// Push records one access unit: into the buffer, and into every open recording. au's NAL units are
// kept, not copied (the sources never reuse them).
func (r *Recorder) Push(au media.AccessUnit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if au.Discontinuity && au.Codec != r.codec && r.codec != "" {
		// Another codec after a reconnect: the clips so far end here, the buffer starts again.
		r.finishAll()
		r.buf.Reset()
	}
	r.codec = au.Codec
	u := pregate.Unit{NALUs: au.NALUs, PTS: au.PTS, IDR: au.RandomAccess, Bytes: unitBytes(au.NALUs)}
	r.buf.Push(u)
	if d := r.buf.Drops(); d > r.drops {
		r.svc.metrics.BufferDrops.Add(float64(d - r.drops))
		r.drops = d
	}
	keep := r.recs[:0]
	for _, rec := range r.recs {
		if rec.ended && u.PTS > rec.until {
			r.finish(rec)
			continue
		}
		r.add(rec, u)
		keep = append(keep, rec)
	}
	clear(r.recs[len(keep):])
	r.recs = keep
}

// add appends u to rec within its bounds.
func (r *Recorder) add(rec *recording, u pregate.Unit) {
	if rec.full {
		return
	}
	if rec.waitKey {
		if !u.IDR {
			return
		}
		rec.waitKey = false
	}
	if len(rec.units) > 0 && (u.PTS-rec.units[0].PTS > r.svc.cfg.MaxDuration.D() || rec.bytes+int64(u.Bytes) > r.svc.cfg.MaxClipBytes) {
		rec.full = true
		r.svc.metrics.Truncated.Inc()
		return
	}
	rec.units = append(rec.units, u)
	rec.bytes += int64(u.Bytes)
}

// Begin starts the clip of event id, which starts at startPTS of the stream (wall-clock start): from
// the keyframe at or before startPTS minus the pre-roll, as far as the buffer reaches.
func (r *Recorder) Begin(id string, startPTS time.Duration, start time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if len(r.recs) >= maxRecordings {
		r.svc.metrics.Failed.WithLabelValues(FailTooMany).Inc()
		return
	}
	rec := &recording{id: id, startPTS: startPTS, start: start}
	pre := r.buf.Since(startPTS - r.svc.cfg.PreRoll.D())
	if len(pre) == 0 {
		rec.waitKey = true
	}
	for _, u := range pre {
		r.add(rec, u)
	}
	r.recs = append(r.recs, rec)
}

// End closes the clip of event id, which ended at endPTS: it finishes once the stream is past
// endPTS plus the post-roll.
func (r *Recorder) End(id string, endPTS time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, rec := range r.recs {
		if rec.id != id {
			continue
		}
		rec.ended, rec.until, rec.endedAt = true, endPTS+r.svc.cfg.PostRoll.D(), time.Now()
		if n := len(rec.units); rec.full || (n > 0 && rec.units[n-1].PTS >= rec.until) {
			// The post-roll is already there (the event closed after the gap): cut what lies past it.
			for n > 1 && rec.units[n-1].PTS > rec.until {
				rec.bytes -= int64(rec.units[n-1].Bytes)
				n--
			}
			rec.units = rec.units[:n]
			r.recs = append(r.recs[:i], r.recs[i+1:]...)
			r.finish(rec)
		}
		return
	}
}

// expire finishes the closed recordings whose stream stopped before their post-roll came (see
// stallSlack). The Service calls it periodically.
func (r *Recorder) expire(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keep := r.recs[:0]
	for _, rec := range r.recs {
		if rec.ended && now.Sub(rec.endedAt) > r.svc.cfg.PostRoll.D()+stallSlack {
			r.finish(rec)
			continue
		}
		keep = append(keep, rec)
	}
	clear(r.recs[len(keep):])
	r.recs = keep
}

// Discard forgets the recording of event id (an event that was never published).
func (r *Recorder) Discard(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, rec := range r.recs {
		if rec.id == id {
			r.recs = append(r.recs[:i], r.recs[i+1:]...)
			return
		}
	}
}

// Close finishes every recording with what it holds (the camera stopped or is replaced) and stops
// recording.
func (r *Recorder) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.finishAll()
	r.buf.Reset()
	r.closed = true
	r.svc.forget(r)
}

// Buffered returns the buffer's units and bytes (for tests and state).
func (r *Recorder) Buffered() (units, bytes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Len(), r.buf.Bytes()
}

func (r *Recorder) finishAll() {
	for _, rec := range r.recs {
		r.finish(rec)
	}
	clear(r.recs)
	r.recs = r.recs[:0]
}

// finish hands a recording to the writer. r.mu is held.
func (r *Recorder) finish(rec *recording) {
	if len(rec.units) == 0 {
		r.svc.metrics.Failed.WithLabelValues(FailNoKeyframe).Inc()
		return
	}
	aus := make([]media.AccessUnit, len(rec.units))
	for i, u := range rec.units {
		aus[i] = media.AccessUnit{Codec: r.codec, NALUs: u.NALUs, PTS: u.PTS, RandomAccess: u.IDR}
	}
	first := rec.start.Add(rec.units[0].PTS - rec.startPTS) // the wall-clock time of the clip's time 0
	r.svc.submit(&job{id: rec.id, camera: r.camera, aus: aus, first: first})
}

func unitBytes(nalus [][]byte) int {
	n := 0
	for _, u := range nalus {
		n += len(u)
	}
	return n
}
