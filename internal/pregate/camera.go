package pregate

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// FallbackReason says why a camera switched to plain decoding (every access unit decoded).
type FallbackReason string

// Fallback reasons, the values of the reason label of mvwatch_pregate_fallbacks_total.
const (
	// FallbackCorrupt: a slice header (or parameter set) did not parse.
	FallbackCorrupt FallbackReason = "corrupt_slice_header"
	// FallbackUnsupported: valid syntax the parser does not handle.
	FallbackUnsupported FallbackReason = "unsupported_bitstream"
	// FallbackMissingParameterSet: a slice referred to an unknown SPS or PPS after the first IDR.
	FallbackMissingParameterSet FallbackReason = "missing_parameter_set"
	// FallbackGOPOverflow: a GOP grew past the buffer's byte bound.
	FallbackGOPOverflow FallbackReason = "gop_overflow"
	// FallbackNoIDR: no IDR within Config.MaxIDRInterval.
	FallbackNoIDR FallbackReason = "no_idr"
)

// FallbackReasons lists every reason, in a fixed order.
var FallbackReasons = []FallbackReason{FallbackCorrupt, FallbackUnsupported, FallbackMissingParameterSet,
	FallbackGOPOverflow, FallbackNoIDR}

// Config configures one camera's pre-gate.
type Config struct {
	// Codec is the stream's codec, CodecH264 or CodecH265.
	Codec Codec
	// Gate tunes the complexity gate.
	Gate GateConfig
	// MaxBufferBytes bounds the GOP buffer. It defaults to 4 MiB (a 2 s GOP at 16 Mbit/s).
	MaxBufferBytes int
	// MaxIDRInterval is how long a stream may go without an IDR before the camera falls back to
	// plain decoding. It defaults to 10 seconds.
	MaxIDRInterval time.Duration
}

// Result is what the worker does with one access unit.
type Result struct {
	// Decode holds the units to hand to the decoder now, oldest first: none while the camera
	// sleeps, the current one while it is awake, and on waking the buffered units the decoder has
	// not seen (from the last IDR, or from where it stopped in the current GOP) followed by the
	// current one. The slice is the caller's.
	Decode []Unit
	// Awake is the camera's state after this unit.
	Awake bool
	// WokeUp is true when motion in the bitstream woke the camera at this unit.
	WokeUp bool
	// Resumed is true when Decode follows units released undecoded (the decoder and whatever reads
	// its frames see a gap); Decode then starts at an IDR.
	Resumed bool
	// Fallback is set on the unit that started a fallback to plain decoding.
	Fallback FallbackReason
	// Picture is what the parser found; Err is its error (nil, or wrapping a sentinel).
	Picture Picture
	Err     error
}

// State is a snapshot of one camera's pre-gate, for the API and `mvwatch live`.
type State struct {
	Camera string `json:"camera"`
	// Awake is true while the decoder runs.
	Awake bool `json:"awake"`
	// Fallback is the current fallback reason, empty while the gate is in charge.
	Fallback FallbackReason `json:"fallback,omitempty"`
	// WakeUps counts wake-ups caused by motion.
	WakeUps uint64 `json:"wake_ups"`
	// BufferedUnits and BufferedBytes are the GOP buffer's content.
	BufferedUnits int `json:"buffered_access_units"`
	BufferedBytes int `json:"buffered_bytes"`
	// AccessUnits counts the units pushed.
	AccessUnits uint64 `json:"access_units"`
	// Decoded counts units handed to the decoder, Skipped units released undecoded.
	Decoded uint64 `json:"decoded"`
	Skipped uint64 `json:"skipped"`
	// BufferDrops counts units discarded by buffer overflows.
	BufferDrops uint64 `json:"buffer_drops"`
	// Fallbacks counts fallbacks by reason (every reason present).
	Fallbacks map[FallbackReason]uint64 `json:"fallbacks"`
	// KeyframeChecks counts keyframes decoded while asleep to catch slow changes (light, tamper),
	// KeyframeWakeUps those that found the scene changed and woke the camera.
	KeyframeChecks  uint64 `json:"keyframe_checks"`
	KeyframeWakeUps uint64 `json:"keyframe_wake_ups"`
}

// DecodeFraction is Decoded / (Decoded + Skipped), 1 before any unit was released.
func (s State) DecodeFraction() float64 {
	if s.Decoded+s.Skipped == 0 {
		return 1
	}
	return float64(s.Decoded) / float64(s.Decoded+s.Skipped)
}

// Camera is one camera's pre-decode gate: parser, complexity gate and GOP buffer. Push is meant
// to be called from the camera's worker goroutine only; State may be called from any goroutine.
type Camera struct {
	name    string
	cfg     Config
	parse   func([][]byte) (Picture, error)
	gate    *Gate
	buf     *GOPBuffer
	metrics *cameraMetrics

	mu        sync.Mutex
	undecoded int // buffered units from this index on have not been decoded
	awake     bool
	fallback  FallbackReason
	started   bool
	lastIDR   time.Duration // or the start of the session
	seenIDR   bool
	decoded   uint64
	skipped   uint64
	wakeUps   uint64
	fallbacks map[FallbackReason]uint64
	// gap is set when units were released undecoded since the last decoded one.
	gap       bool
	kfChecks  uint64
	kfWakeUps uint64
	pushed    uint64
	// replayOld is set by a keyframe check that woke the camera at an IDR not yet pushed: that
	// Push hands out the old GOP's undecoded units instead of releasing them.
	replayOld bool
	// droppedReported is how much of the buffer's drop count the metric already has.
	droppedReported float64
}

// NewCamera returns an awake camera pre-gate. m may be nil (no metrics).
func NewCamera(name string, cfg Config, m *Metrics) (*Camera, error) {
	c := &Camera{name: name, cfg: cfg, gate: NewGate(cfg.Gate), awake: true,
		fallbacks: map[FallbackReason]uint64{}}
	switch cfg.Codec {
	case CodecH264:
		c.parse = NewH264Parser().AccessUnit
	case CodecH265:
		c.parse = NewH265Parser().AccessUnit
	default:
		return nil, fmt.Errorf("pregate camera %q: codec %q: %w", name, cfg.Codec, ErrUnsupported)
	}
	if c.cfg.MaxBufferBytes <= 0 {
		c.cfg.MaxBufferBytes = 4 << 20
	}
	if c.cfg.MaxIDRInterval <= 0 {
		c.cfg.MaxIDRInterval = 10 * time.Second
	}
	c.buf = NewGOPBuffer(c.cfg.MaxBufferBytes)
	for _, r := range FallbackReasons {
		c.fallbacks[r] = 0
	}
	c.metrics = m.camera(name)
	c.updateGauges()
	return c, nil
}

// Close removes the camera's metric series.
func (c *Camera) Close() {
	c.metrics.delete()
}

// classify maps a parse error to a fallback reason.
func classify(err error) FallbackReason {
	switch {
	case errors.Is(err, ErrUnsupported):
		return FallbackUnsupported
	case errors.Is(err, ErrMissingParameterSet):
		return FallbackMissingParameterSet
	default:
		return FallbackCorrupt
	}
}

func (c *Camera) isRandomAccess(nalus [][]byte) bool {
	if c.cfg.Codec == CodecH265 {
		return h265.IsRandomAccess(nalus)
	}
	return h264.IsRandomAccess(nalus)
}

// Push takes the next access unit (NAL units without start codes, presentation time increasing)
// and returns what to decode.
func (c *Camera) Push(nalus [][]byte, pts time.Duration) Result {
	pic, err := c.parse(nalus)

	c.mu.Lock()
	defer c.mu.Unlock()

	c.pushed++
	res := Result{Picture: pic, Err: err}
	u := Unit{NALUs: nalus, PTS: pts, Bytes: unitBytes(nalus)}
	if err == nil {
		u.IDR = pic.IDR
	} else if !errors.Is(err, ErrNoSlice) {
		// A picture whose header did not parse may still be a random-access point.
		u.IDR = c.isRandomAccess(nalus)
	}
	if !c.started {
		c.started, c.lastIDR = true, pts
	}

	var reason FallbackReason
	switch {
	case err == nil, errors.Is(err, ErrNoSlice):
	case errors.Is(err, ErrMissingParameterSet) && !c.seenIDR:
		// Joined mid-GOP: the parameter sets come with the first IDR.
	default:
		reason = classify(err)
	}
	if u.IDR {
		c.lastIDR, c.seenIDR = pts, true
		if err == nil {
			c.fallback = "" // a clean IDR hands control back to the gate
		}
	} else if pts-c.lastIDR > c.cfg.MaxIDRInterval && reason == "" {
		reason = FallbackNoIDR
		c.lastIDR = pts // count once per interval
	}

	// Units the decoder has not seen: released undecoded at an IDR, replayed on waking.
	var pending []Unit
	if u.IDR && c.replayOld {
		// The keyframe check saw the scene change between the last IDR and this one: the decoder
		// gets the old GOP too, so the event starts where the change may have begun.
		pending = append(pending, c.buf.Units()[c.undecoded:]...)
		c.undecoded = 0
	} else if u.IDR {
		c.release(c.buf.Len() - c.undecoded)
		c.undecoded = 0
	} else if c.undecoded < c.buf.Len() {
		pending = append(pending, c.buf.Units()[c.undecoded:]...)
	}
	overflows := c.buf.Overflows()
	c.buf.Push(u)
	if c.buf.Overflows() != overflows {
		c.undecoded = 0
		if reason == "" {
			reason = FallbackGOPOverflow
		}
	}

	if reason != "" && c.fallback == "" {
		c.fallback = reason
		c.fallbacks[reason]++
		res.Fallback = reason
		if c.metrics != nil {
			c.metrics.fallbacks[reason].Inc()
		}
		c.gate.Wake(pts)
	}
	if err == nil {
		d := c.gate.Observe(pic, pts)
		res.WokeUp = d.Changed && d.Awake
	}
	wasAwake := c.awake
	c.awake = c.fallback != "" || c.gate.Awake() || !c.buf.Complete()
	res.WokeUp = res.WokeUp && !wasAwake && c.awake
	if res.WokeUp {
		c.wakeUps++
		if c.metrics != nil {
			c.metrics.wakeUps.Inc()
		}
	}
	c.replayOld = false
	if c.awake {
		res.Resumed, c.gap = c.gap, false
		res.Decode = append(pending, u)
		c.undecoded = c.buf.Len()
		c.decoded += uint64(len(res.Decode))
		if c.metrics != nil {
			c.metrics.decoded.Add(float64(len(res.Decode)))
		}
	}
	res.Awake = c.awake
	c.updateGauges()
	return res
}

// release counts n buffered units released without decoding.
func (c *Camera) release(n int) {
	if n <= 0 {
		return
	}
	c.skipped += uint64(n)
	c.gap = true
	if c.metrics != nil {
		c.metrics.skipped.Add(float64(n))
	}
}

// Discontinuity tells the camera that a new source session starts (ingest's
// AccessUnit.Discontinuity): the buffered GOP belongs to the old session and is released. The
// learned floors stay.
func (c *Camera) Discontinuity() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.release(c.buf.Len() - c.undecoded)
	c.buf.Reset()
	c.undecoded = 0
	c.started = false
	c.gap = false // the source resets the decoder and its reader at a new session itself
	c.updateGauges()
}

// Awake reports whether the camera's decoder runs.
func (c *Camera) Awake() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.awake
}

// KeyframeChange is the outcome of a sleeping camera's keyframe check.
type KeyframeChange int

const (
	// KeyframeUnchanged: the keyframe looks like the last one.
	KeyframeUnchanged KeyframeChange = iota
	// KeyframeContent: part of the picture changed (an object the frame-level signals missed).
	// The camera wakes; its floors, learned from the same scene, stay.
	KeyframeContent
	// KeyframeLight: the whole picture's brightness moved (a light, tamper, a drift). The floors
	// belong to the old scene: they are forgotten and learned again, and the camera wakes.
	KeyframeLight
)

// KeyframeChecked records the slow-change check of the keyframe at pts, decoded on its own while
// the camera slept (see the package documentation), before that IDR is pushed. On a change the
// camera wakes, and the next Push, that IDR's, hands the decoder the buffered GOP before it too,
// so nothing since the previous keyframe is lost. A content change holds the camera awake as a
// motion picture at pts would (Hold, then quiet pictures); a light change also resets the floors.
func (c *Camera) KeyframeChecked(change KeyframeChange, pts time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kfChecks++
	outcome := "unchanged"
	switch change {
	case KeyframeContent:
		c.gate.Wake(pts)
	case KeyframeLight:
		c.gate.Reset()
	}
	if change != KeyframeUnchanged {
		c.kfWakeUps++
		outcome = "changed"
		c.replayOld = true
	}
	if c.metrics != nil {
		c.metrics.keyframeChecks[outcome].Inc()
	}
}

// ResetGate forgets the learned floors and wakes the camera (see Gate.Reset).
func (c *Camera) ResetGate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gate.Reset()
}

func (c *Camera) updateGauges() {
	if c.metrics == nil {
		return
	}
	awake := 0.0
	if c.awake {
		awake = 1
	}
	c.metrics.awake.Set(awake)
	c.metrics.bufferedUnits.Set(float64(c.buf.Len()))
	c.metrics.bufferedBytes.Set(float64(c.buf.Bytes()))
	// The buffer counts drops itself; mirror the total into the counter.
	if d := float64(c.buf.Drops()) - c.droppedReported; d > 0 {
		c.metrics.bufferDrops.Add(d)
		c.droppedReported += d
	}
}

// State returns a snapshot of the camera.
func (c *Camera) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := State{
		Camera:          c.name,
		Awake:           c.awake,
		Fallback:        c.fallback,
		WakeUps:         c.wakeUps,
		AccessUnits:     c.pushed,
		BufferedUnits:   c.buf.Len(),
		BufferedBytes:   c.buf.Bytes(),
		Decoded:         c.decoded,
		Skipped:         c.skipped,
		BufferDrops:     c.buf.Drops(),
		Fallbacks:       make(map[FallbackReason]uint64, len(c.fallbacks)),
		KeyframeChecks:  c.kfChecks,
		KeyframeWakeUps: c.kfWakeUps,
	}
	for r, n := range c.fallbacks {
		s.Fallbacks[r] = n
	}
	return s
}
