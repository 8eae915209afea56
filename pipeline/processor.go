package pipeline

import (
	"fmt"
	"image"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/track"
	"github.com/mvwatch/mvwatch/mvextract"
)

// thumbWidth is the largest width of the keyframe kept with each clip (for the event's JPEG).
const thumbWidth = 320

// activityStep is the grid step, in pixels, of the sparse frame difference the gate measures.
const activityStep = 8

// clipJob is one clip on its way to inference: an owned copy of the tensor, its time span and the
// keyframe for a possible event. Jobs come from a pool, so steady operation allocates none.
type clipJob struct {
	data     []float32
	startPTS time.Duration
	endPTS   time.Duration
	start    time.Time // wall-clock time of the first frame
	end      time.Time // wall-clock time of the last frame
	thumb    *image.YCbCr
	// lumaShift is how far the clip's mean luma moved, in grey levels (see processor.lumaShift).
	lumaShift float64
	// quiet marks no clip but the gate closing: the scene went quiet, so an open event is complete.
	quiet bool
	// proc and session route the model's verdict on the clip back to the gate that passed it.
	proc    *processor
	session uint64
	// zoneMask has bit i set when a tracked object was in the camera's zone i during the clip; tracks
	// are the objects followed during it.
	zoneMask uint64
	tracks   []event.EventTrack
	// zoneEvents, when not empty, makes the job no clip but zone events to publish as they are.
	zoneEvents []event.Event
}

// verdict hands the model's verdict on the job's clip (idle or not) back to the gate that passed it. It
// may be called from any goroutine.
func (j *clipJob) verdict(idle bool) {
	if j.proc != nil {
		j.proc.verdict(j.session, j.startPTS, j.endPTS, idle)
	}
}

// clipVerdict is the model's verdict on one clip, on its way back to the gate.
type clipVerdict struct {
	session     uint64
	first, last time.Duration
	idle        bool
}

// maxVerdicts bounds the verdicts waiting for the decode goroutine; the oldest is dropped beyond it.
const maxVerdicts = 16

var jobPool = sync.Pool{New: func() any { return &clipJob{} }}

func releaseJob(j *clipJob) { jobPool.Put(j) }

// processor turns one camera's decoded frames into clips for inference: it extracts motion vectors and
// residuals, feeds the motion gate, and submits the clips that contain a frame the gate passed. Clips
// are cut on the same frame grid whether the gate is open or not (the clipper sees every frame), so a
// gated camera classifies the very clips an ungated one would, and the clip in which the gate opens
// includes the frames just before it. The model's verdicts come back (verdict) so that the gate learns
// its noise floor only from clips the model called idle. It belongs to the goroutine that decodes the
// camera and is not safe for concurrent use, except verdict.
type processor struct {
	camera  string
	ex      *mvextract.Extractor
	clipper *mvextract.Clipper
	gate    *Gate
	// scene masks the motion field and follows the moving objects (internal/track).
	scene    *track.Scene
	zoneRing []uint64 // zone mask of the last span+1 pushed frames, by pushed index
	seen     []seenTrack
	metrics  *Metrics
	// submit hands a job to inference; it must not block, and returns false when the job was dropped
	// (the caller then releases it).
	submit func(*clipJob) bool

	anchor    time.Time     // wall-clock time of the session's first frame
	anchorPTS time.Duration // its PTS
	anchored  bool
	now       func() time.Time

	prevSparse []uint8 // previous frame's luma on the activity grid
	intraRef   float64 // typical change at an I-frame of a quiet scene (EMA), 0 until the first one
	// gateOpen and skipRatio mirror the gate for readers on other goroutines (camera state).
	gateOpen  atomic.Bool
	skipRatio atomic.Uint64 // float64 bits

	luma     float64   // mean luma of the last frame on the activity grid
	lumaRing []float64 // mean luma of the last span+1 pushed frames, by pushed index
	session  uint64    // counts reset calls, so that late verdicts of an old session are ignored
	pushed   int       // frames pushed to the clipper in this session
	lastPass int       // pushed index of the last frame the gate passed, -1 for none
	span     int       // frames one clip spans
	sent     bool      // the last clip the clipper cut was submitted
	// lastPTS and period are the last frame's PTS and the spacing of the last two frames (0 until
	// known); afterGap is set by gap until the next frame, which counts the frames slept through.
	lastPTS  time.Duration
	period   time.Duration
	afterGap bool

	vmu      sync.Mutex
	verdicts []clipVerdict // written by verdict, drained by frame
	drained  []clipVerdict
}

func newProcessor(camera string, spec mvextract.FeatureSpec, gate config.Gate, metrics *Metrics, submit func(*clipJob) bool) (*processor, error) {
	clipper, err := mvextract.NewClipper(spec.Clip)
	if err != nil {
		return nil, err
	}
	cc := clipper.Config()
	return &processor{
		camera:   camera,
		ex:       mvextract.NewExtractor(spec.Extractor),
		clipper:  clipper,
		gate:     NewGate(gate),
		metrics:  metrics,
		submit:   submit,
		now:      time.Now,
		lastPass: -1,
		span:     (cc.Length-1)*cc.Step + 1,
		lumaRing: make([]float64, (cc.Length-1)*cc.Step+2),
		zoneRing: make([]uint64, (cc.Length-1)*cc.Step+2),
		scene:    track.NewScene(track.Config{}),
	}, nil
}

// verdict queues the model's verdict on a clip for the gate; it may be called from any goroutine.
func (p *processor) verdict(session uint64, first, last time.Duration, idle bool) {
	p.vmu.Lock()
	if len(p.verdicts) == maxVerdicts {
		copy(p.verdicts, p.verdicts[1:])
		p.verdicts = p.verdicts[:maxVerdicts-1]
	}
	p.verdicts = append(p.verdicts, clipVerdict{session: session, first: first, last: last, idle: idle})
	p.vmu.Unlock()
}

// confirmVerdicts hands the queued verdicts of this session to the gate.
func (p *processor) confirmVerdicts() {
	p.vmu.Lock()
	p.drained = append(p.drained[:0], p.verdicts...)
	p.verdicts = p.verdicts[:0]
	p.vmu.Unlock()
	for _, v := range p.drained {
		if v.session == p.session {
			p.gate.Confirm(v.first, v.last, v.idle)
		}
	}
}

// reset starts a new session (after a reconnect): timestamps restart, references are gone. The gate
// keeps its learnt noise floor.
func (p *processor) reset() {
	p.anchored = false
	p.ex.Reset()
	p.clipper.Reset()
	p.prevSparse = p.prevSparse[:0]
	p.intraRef = 0
	p.scene.Reset()
	p.seen = p.seen[:0]
	p.session++
	p.pushed, p.lastPass, p.sent = 0, -1, false
	p.lastPTS, p.period, p.afterGap = 0, 0, false
}

// gap resumes after frames the pre-decode gate did not decode (PTS keeps increasing, the next
// frame is an IDR's): motion vectors and residuals start again, and an open event learns that the
// scene went quiet. The next frame counts the frames slept through (skip), so clips keep the grid
// of a camera decoded in full. The wall-clock anchor, the gate's floor and the luma history stay,
// so replayed frames keep their times and a light that changed while the camera slept still shows
// as a luma shift in the first clip after the gap.
func (p *processor) gap() {
	p.ex.Reset()
	p.afterGap = true
	if p.sent {
		p.sent = false
		job := jobPool.Get().(*clipJob)
		job.quiet, job.proc = true, nil
		if !p.submit(job) {
			releaseJob(job)
		}
	}
}

// skip tells the clipper and the per-frame rings how many frames the pre-decode gate slept
// through before f, from the PTS step and the frame spacing seen before the gap. Without a known
// spacing the clips simply start again at f.
func (p *processor) skip(f *media.Frame) {
	p.afterGap = false
	if p.period <= 0 || f.PTS <= p.lastPTS {
		p.clipper.Reset()
		return
	}
	n := int(math.Round(float64(f.PTS-p.lastPTS)/float64(p.period))) - 1
	p.clipper.Skip(n, p.lastPTS, p.period)
	// The rings hold the last span+1 frames: skipped frames keep the last luma seen (a light that
	// changed meanwhile shows as a shift at f) and no zone.
	for i := max(0, n-len(p.lumaRing)); i < n; i++ {
		k := p.pushed + i
		p.lumaRing[k%len(p.lumaRing)] = p.luma
		p.zoneRing[k%len(p.zoneRing)] = 0
	}
	p.pushed += max(n, 0)
}

// frame processes one decoded frame.
func (p *processor) frame(f *media.Frame) error {
	if !p.anchored {
		p.anchor, p.anchorPTS, p.anchored = p.now(), f.PTS, true
	}
	if p.afterGap {
		p.skip(f)
	} else if d := f.PTS - p.lastPTS; p.pushed > 0 && d > 0 {
		p.period = d
	}
	p.lastPTS = f.PTS
	// Residuals cost a motion compensation per frame, but they are computed while the gate is closed
	// too: the clip in which the gate opens holds frames from before it, and they must be the frames an
	// ungated camera would give the model (about 18% more decode+extract time on an idle camera; the
	// skipped inference is the saving).
	start := time.Now()
	ft, err := p.ex.Process(f)
	if err != nil {
		return fmt.Errorf("camera %s: %w", p.camera, err)
	}
	// Masks first: neither the gate nor the model nor the tracker sees motion inside them.
	sf := p.scene.Frame(ft)
	diff := p.sparseDiff(f, p.scene.MaskRaster())
	if f.PictType == 'I' {
		diff = p.intraExcess(diff)
	}
	p.confirmVerdicts()
	d := p.gate.Observe(f.PTS, mvEnergy(ft), diff)
	p.gateOpen.Store(d.Pass)
	p.skipRatio.Store(math.Float64bits(d.SkipRatio))
	if p.metrics != nil {
		p.metrics.ObserveGate(p.camera, d)
	}
	k := p.pushed
	p.pushed++
	p.lumaRing[k%len(p.lumaRing)] = p.luma
	p.observeScene(k, sf)
	if d.Pass {
		p.lastPass = k
	}
	clip, err := p.clipper.Push(ft)
	if p.metrics != nil && d.Pass {
		p.metrics.ExtractSeconds.WithLabelValues(p.camera).Observe(time.Since(start).Seconds())
	}
	if err != nil {
		return fmt.Errorf("camera %s: %w", p.camera, err)
	}
	if clip == nil {
		return nil
	}
	if p.lastPass < k-p.span+1 {
		// No frame of this clip passed the gate: skip it. The first skipped clip after submitted ones
		// tells inference that the scene went quiet, so an open event is complete.
		if p.sent {
			p.sent = false
			job := jobPool.Get().(*clipJob)
			job.quiet, job.proc = true, nil
			job.zoneEvents = job.zoneEvents[:0]
			if !p.submit(job) {
				releaseJob(job)
			}
		}
		return nil
	}
	p.sent = true
	job := jobPool.Get().(*clipJob)
	job.quiet = false
	job.zoneEvents = job.zoneEvents[:0]
	job.proc, job.session = p, p.session
	p.clipScene(job, k)
	job.data = append(job.data[:0], clip.Data...)
	job.startPTS = clip.Frames[0].PTS
	job.endPTS = clip.Frames[len(clip.Frames)-1].PTS
	job.start = p.wall(job.startPTS)
	job.end = p.wall(job.endPTS)
	job.thumb = thumbnail(job.thumb, f)
	job.lumaShift = p.lumaShift(k)
	if !p.submit(job) {
		releaseJob(job)
	}
	return nil
}

// lumaShift returns how far, in grey levels, the mean luma of the clip ending at pushed frame k moved
// from the frame before the clip (from its first frame when there is none).
func (p *processor) lumaShift(k int) float64 {
	first := k - p.span + 1
	ref := first - 1
	if ref < 0 {
		ref = max(first, 0)
	}
	n := len(p.lumaRing)
	base := p.lumaRing[ref%n]
	var shift float64
	for j := max(first, 0); j <= k; j++ {
		shift = max(shift, math.Abs(p.lumaRing[j%n]-base))
	}
	return shift
}

// wall maps a PTS of the session to wall-clock time.
func (p *processor) wall(pts time.Duration) time.Time {
	if pts < 0 {
		return p.now()
	}
	return p.anchor.Add(pts - p.anchorPTS)
}

// sparseDiff returns the mean absolute luma difference to the previous frame on a sparse grid: a cheap
// change energy (lights, tamper, scene changes) next to the motion vectors' energy. Grid points in
// masked cells (mask on the motion field's grid of mvextract.GridCell pixels; nil for none) count as
// unchanged.
func (p *processor) sparseDiff(f *media.Frame, mask []bool) float64 {
	if f.Y == nil {
		return 0
	}
	cols, rows := f.Width/activityStep, f.Height/activityStep
	fieldCols := (f.Width + mvextract.GridCell - 1) / mvextract.GridCell
	n := cols * rows
	had := len(p.prevSparse) == n
	if !had {
		p.prevSparse = append(p.prevSparse[:0], make([]uint8, n)...)
	}
	var sum, level int
	i := 0
	for r := 0; r < rows; r++ {
		row := f.Y[(r*activityStep+activityStep/2)*f.YStride:]
		for c := 0; c < cols; c++ {
			v := row[c*activityStep+activityStep/2]
			d := int(v) - int(p.prevSparse[i])
			if d < 0 {
				d = -d
			}
			if mask != nil {
				x, y := c*activityStep+activityStep/2, r*activityStep+activityStep/2
				if m := (y/mvextract.GridCell)*fieldCols + x/mvextract.GridCell; m < len(mask) && mask[m] {
					d = 0
				}
			}
			sum += d
			level += int(v)
			p.prevSparse[i] = v
			i++
		}
	}
	if n > 0 {
		p.luma = float64(level) / float64(n)
	}
	if !had || n == 0 {
		return 0
	}
	return float64(sum) / float64(n)
}

// intraExcess discounts the change an I-frame brings in a quiet scene: an encoder that skips blocks of
// a static, noisy scene leaves the noise frozen until the next I-frame refreshes the whole picture, so
// periodic I-frames show a burst of change that is no activity. The gate sees only what exceeds the
// typical refresh (an EMA over quiet I-frames); a scene cut at an I-frame still stands out.
func (p *processor) intraExcess(diff float64) float64 {
	if p.intraRef == 0 {
		p.intraRef = diff
		return 0
	}
	excess := max(diff-2*p.intraRef, 0)
	if diff < 3*p.intraRef {
		p.intraRef += 0.3 * (diff - p.intraRef)
	}
	return excess
}

// mvEnergy is the frame's mean motion magnitude in pixels, weighted by block area.
func mvEnergy(ft *mvextract.Features) float64 {
	if ft.Width == 0 || ft.Height == 0 {
		return 0
	}
	var sum float64
	for _, v := range ft.Vectors {
		if v.MotionScale == 0 {
			continue
		}
		m := math.Abs(float64(v.MotionX)) + math.Abs(float64(v.MotionY))
		sum += m / float64(v.MotionScale) * float64(v.W) * float64(v.H)
	}
	return sum / float64(ft.Width*ft.Height)
}

// thumbnail writes a downscaled copy of f's picture (every k-th pixel) into dst, reusing it.
func thumbnail(dst *image.YCbCr, f *media.Frame) *image.YCbCr {
	if f.Y == nil || f.Width == 0 {
		return dst
	}
	k := (f.Width + thumbWidth - 1) / thumbWidth
	w, h := f.Width/k, f.Height/k
	w, h = w&^1, h&^1
	if dst == nil || dst.Rect.Dx() != w || dst.Rect.Dy() != h {
		dst = image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	}
	for y := 0; y < h; y++ {
		src := f.Y[y*k*f.YStride:]
		row := dst.Y[y*dst.YStride:]
		for x := 0; x < w; x++ {
			row[x] = src[x*k]
		}
	}
	for y := 0; y < h/2; y++ {
		cb, cr := f.Cb[y*k*f.CStride:], f.Cr[y*k*f.CStride:]
		rb, rr := dst.Cb[y*dst.CStride:], dst.Cr[y*dst.CStride:]
		for x := 0; x < w/2; x++ {
			rb[x], rr[x] = cb[x*k], cr[x*k]
		}
	}
	return dst
}
