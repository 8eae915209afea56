package source

import (
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/pregate"
)

// PreGate configures a source's pre-decode gate (package pregate, issue 18): access units go
// through a pregate.Camera before the decoder, so that while the camera sleeps they wait in its GOP
// buffer undecoded, and on a wake-up the buffered GOP is decoded from its IDR on, faster than real
// time, before the live units. While asleep, every KeyframeEvery-th IDR is decoded on its own and its
// mean luma compared with the last keyframe the pipeline saw: a shift of LumaShift grey levels or
// more (a light, tamper) wakes the camera too.
type PreGate struct {
	// Gate configures the camera's pre-gate; its Codec comes from the stream.
	Gate pregate.Config
	// Metrics, when set, receives the camera's mvwatch_pregate_* series.
	Metrics *pregate.Metrics
	// KeyframeEvery decodes every n-th IDR while the camera sleeps for the slow-change check. It
	// defaults to 1 (every GOP); a negative value turns the check off.
	KeyframeEvery int
	// LumaShift is the mean-luma change, in grey levels, that makes the keyframe check wake the
	// camera. It defaults to 12 (the pixel gate's exposure rule).
	LumaShift float64
	// Decoders, when set, lends the keyframe check an open decoder shared with other cameras; nil
	// opens one per check.
	Decoders *KeyframeDecoders
}

// DefaultLumaShift is PreGate.LumaShift's default.
const DefaultLumaShift = 12

// lumaStep is the grid step, in pixels, on which the keyframe check samples luma.
const lumaStep = 8

// preGate is a camDecoder's pre-gate state; it belongs to the delivery goroutine, but for cam,
// which State readers load.
type preGate struct {
	cfg   PreGate
	name  string
	cam   atomic.Pointer[pregate.Camera] // nil until the first access unit, or for a codec it lacks
	codec media.Codec
	// ref is the mean luma of the keyframe the check compares with (the last one the pipeline
	// decoded, or the first one checked since), hasRef whether there is one; blocks are the last
	// keyframe's block means.
	ref    float64
	hasRef bool
	blocks []float64
	// idrs counts IDRs seen asleep, for KeyframeEvery.
	idrs int
}

func newPreGate(cfg PreGate, name string) *preGate {
	if cfg.KeyframeEvery == 0 {
		cfg.KeyframeEvery = 1
	}
	if cfg.LumaShift <= 0 {
		cfg.LumaShift = DefaultLumaShift
	}
	return &preGate{cfg: cfg, name: name}
}

// camera returns the pre-gate for codec, creating it on the first unit and again when the codec
// changes; nil when the pre-gate cannot parse the codec (every unit is then decoded).
func (g *preGate) camera(codec media.Codec) *pregate.Camera {
	if c := g.cam.Load(); c != nil && codec == g.codec {
		return c
	}
	if old := g.cam.Swap(nil); old != nil {
		old.Close()
	}
	g.codec = codec
	cfg := g.cfg.Gate
	cfg.Codec = pregate.Codec(codec)
	c, err := pregate.NewCamera(g.name, cfg, g.cfg.Metrics)
	if err != nil {
		return nil
	}
	g.cam.Store(c)
	return c
}

// close removes the camera's metric series; State stays readable.
func (g *preGate) close() {
	if c := g.cam.Load(); c != nil {
		c.Close()
	}
}

// checkDue reports whether this IDR, seen while asleep, is one the keyframe check decodes.
func (g *preGate) checkDue() bool {
	if g.cfg.KeyframeEvery < 0 {
		return false
	}
	g.idrs++
	return g.idrs%g.cfg.KeyframeEvery == 0
}

// keyframe records a keyframe the pipeline decoded as the check's reference.
func (g *preGate) keyframe(f *media.Frame) {
	if l, ok := meanLuma(f); ok {
		g.ref, g.hasRef = l, true
		g.blocks = blockMeans(g.blocks[:0], f)
	}
}

// changed compares a checked keyframe with the reference: the light changed when its mean luma
// moved by LumaShift or more since the reference (a light, tamper, a slow drift), the content
// when enough blocks changed their mean by as much since the last keyframe (an object the
// frame-level signals missed, a pan). The keyframe becomes the block reference; the first one the
// luma reference too.
func (g *preGate) changed(f *media.Frame) pregate.KeyframeChange {
	luma, ok := meanLuma(f)
	if !ok {
		return pregate.KeyframeUnchanged
	}
	cur := blockMeans(nil, f)
	prev := g.blocks
	g.blocks = cur
	if !g.hasRef {
		g.ref, g.hasRef = luma, true
		return pregate.KeyframeUnchanged
	}
	if math.Abs(luma-g.ref) >= g.cfg.LumaShift {
		return pregate.KeyframeLight
	}
	if len(prev) != len(cur) {
		return pregate.KeyframeUnchanged
	}
	n := 0
	for i := range cur {
		if math.Abs(cur[i]-prev[i]) >= g.cfg.LumaShift {
			n++
		}
	}
	if n >= max(minChangedBlocks, len(cur)/1000) {
		return pregate.KeyframeContent
	}
	return pregate.KeyframeUnchanged
}

// meanLuma is a frame's mean luma on a sparse grid; false for a frame without pixels.
func meanLuma(f *media.Frame) (float64, bool) {
	if f.Y == nil || f.Width < lumaStep || f.Height < lumaStep {
		return 0, false
	}
	var sum, n int
	for y := lumaStep / 2; y < f.Height; y += lumaStep {
		row := f.Y[y*f.YStride:]
		for x := lumaStep / 2; x < f.Width; x += lumaStep {
			sum += int(row[x])
			n++
		}
	}
	return float64(sum) / float64(n), true
}

// minChangedBlocks is the fewest changed 16x16 blocks that make a keyframe differ from the last.
const minChangedBlocks = 3

// blockMeans appends the mean luma of each 16x16 block of f (sampled every 4 pixels) to dst.
func blockMeans(dst []float64, f *media.Frame) []float64 {
	if f.Y == nil {
		return dst
	}
	for by := 0; by+16 <= f.Height; by += 16 {
		for bx := 0; bx+16 <= f.Width; bx += 16 {
			sum := 0
			for y := by + 2; y < by+16; y += 4 {
				row := f.Y[y*f.YStride:]
				for x := bx + 2; x < bx+16; x += 4 {
					sum += int(row[x])
				}
			}
			dst = append(dst, float64(sum)/16)
		}
	}
	return dst
}

// PreGateState returns the pre-gate's state; false when the source has none (no PreGate, a file
// read by FFmpeg, a codec it cannot parse) or before the first access unit.
func (s *Source) PreGateState() (pregate.State, bool) {
	s.mu.Lock()
	g := s.pg
	s.mu.Unlock()
	if g == nil {
		return pregate.State{}, false
	}
	c := g.cam.Load()
	if c == nil {
		return pregate.State{}, false
	}
	return c.State(), true
}

// gated hands one access unit through the pre-gate to the decoder (onAccessUnit's path when the
// source has one). It returns false when the run must end.
func (d *camDecoder) gated(au media.AccessUnit) bool {
	g := d.pg
	cam := g.camera(au.Codec)
	if cam == nil {
		return d.decode(au, d.frame)
	}
	if au.Discontinuity {
		cam.Discontinuity()
	}
	wasAwake, byKeyframe := cam.Awake(), false
	if au.RandomAccess && !wasAwake && g.checkDue() {
		byKeyframe = d.checkKeyframe(cam, au)
	}
	res := cam.Push(au.NALUs, au.PTS)
	if !wasAwake && res.Awake && len(res.Decode) > 0 && d.cfg.OnWake != nil {
		d.cfg.OnWake(Wake{PTS: au.PTS, ReplayFrom: res.Decode[0].PTS, Units: len(res.Decode), Keyframe: byKeyframe, Fallback: res.Fallback})
	}
	if res.Resumed {
		// Units were released undecoded: hand on what the decoder still holds from before the gap,
		// then tell the frames' reader that the next frame does not follow the last one.
		if err := d.dec.Flush(d.frame); err != nil {
			d.fail(err)
			return false
		}
		if d.cfg.OnGap != nil {
			d.cfg.OnGap()
		}
	}
	for i, u := range res.Decode {
		a := media.AccessUnit{Codec: au.Codec, NALUs: u.NALUs, PTS: u.PTS, RandomAccess: u.IDR}
		if i == len(res.Decode)-1 {
			a.RandomAccess = a.RandomAccess || au.RandomAccess
		}
		if !d.decode(a, d.frame) {
			return false
		}
	}
	return true
}

// checkKeyframe decodes a sleeping camera's IDR on a decoder of its own, so the main decoder's state
// (and a replay that continues it) is never disturbed, and tells the camera whether the scene
// changed, which it returns. A failure only skips the check.
func (d *camDecoder) checkKeyframe(cam *pregate.Camera, au media.AccessUnit) bool {
	g := d.pg
	start := time.Now()
	// A decoder of its own for the check (lent by the shared set, or opened for it), drained right
	// after: a sleeping camera holds no decoder memory between checks.
	var kf *demux.Decoder
	var err error
	if g.cfg.Decoders != nil {
		kf, err = g.cfg.Decoders.get(au.Codec)
	} else {
		kf, err = demux.NewDecoder(au.Codec, keyframeDecoderConfig(d.cfg.Decoder))
	}
	if err != nil {
		return false
	}
	changed, got := pregate.KeyframeUnchanged, false
	look := func(f *media.Frame) error {
		if !got {
			got = true
			changed = g.changed(f)
		}
		return nil
	}
	err = kf.Decode(au, look)
	if ferr := kf.Flush(look); err == nil {
		err = ferr
	}
	if g.cfg.Decoders != nil {
		g.cfg.Decoders.put(au.Codec, kf, err == nil)
	} else {
		kf.Close()
	}
	if d.cfg.OnDecode != nil {
		d.cfg.OnDecode(DecodeInfo{Took: time.Since(start), Stats: d.dec.Stats(), HW: d.dec.HW()})
	}
	if err == nil && got {
		cam.KeyframeChecked(changed, au.PTS)
	}
	return err == nil && got && changed != pregate.KeyframeUnchanged
}

// isAnnexB reports whether path names a raw H.264 or H.265 stream, which the pre-gate can read
// access unit by access unit, and its codec.
func isAnnexB(path string) (media.Codec, bool) {
	p := strings.ToLower(path)
	switch {
	case strings.HasSuffix(p, ".264"), strings.HasSuffix(p, ".h264"):
		return media.CodecH264, true
	case strings.HasSuffix(p, ".265"), strings.HasSuffix(p, ".h265"), strings.HasSuffix(p, ".hevc"):
		return media.CodecH265, true
	}
	return "", false
}
