package mvextract

import (
	"fmt"
	"time"
)

// Channel indices of a clip tensor.
const (
	// ChannelDX is the horizontal displacement toward the past reference (see Field), in model-input
	// pixels divided by ClipConfig.MVNorm.
	ChannelDX = 0
	// ChannelDY is the vertical displacement, likewise.
	ChannelDY = 1
	// ChannelResidual is the mean luma residual divided by ClipConfig.ResidualNorm.
	ChannelResidual = 2
	// ChannelAbsResidual, present only with ClipConfig.AbsResidual, is the mean absolute luma residual
	// divided by ClipConfig.ResidualNorm (area averaging cancels signed residuals; this keeps their energy).
	ChannelAbsResidual = 3
)

// ClipConfig configures a Clipper. The zero value gives 8-frame, non-overlapping 64x64 clips.
type ClipConfig struct {
	// Length is the number of frames T per clip. It defaults to 8.
	Length int
	// Stride is the number of frames between the first frames of consecutive clips. It defaults to
	// Length (consecutive, non-overlapping clips when Step is 1).
	Stride int
	// Step takes every Step-th frame inside a clip, so a clip spans (Length-1)*Step+1 frames. It
	// defaults to 1.
	Step int
	// Width and Height are the model input size. They default to 64x64.
	Width, Height int
	// Accumulate uses CoViAR-style motion and residual accumulated back to the last I-frame instead of
	// each frame's own (see accumulator); accumulated values are zero at I-frames. It defaults to false.
	Accumulate bool
	// AbsResidual adds the channel ChannelAbsResidual. It defaults to false.
	AbsResidual bool
	// Chroma adds two channels after the others: the mean Cb and Cr residuals divided by ResidualNorm
	// (from Features with chroma, see ExtractorConfig.Chroma; zero for frames without). Accumulation
	// does not apply to them. It defaults to false.
	Chroma bool
	// MVNorm divides displacements after their conversion to model-input pixels. It defaults to 0.5.
	MVNorm float32
	// ResidualNorm divides luma residuals (range [-255, 255]). It defaults to 128.
	ResidualNorm float32
}

func (c ClipConfig) withDefaults() ClipConfig {
	if c.Length == 0 {
		c.Length = 8
	}
	if c.Stride == 0 {
		c.Stride = c.Length
	}
	if c.Step == 0 {
		c.Step = 1
	}
	if c.Width == 0 {
		c.Width = 64
	}
	if c.Height == 0 {
		c.Height = 64
	}
	if c.MVNorm == 0 {
		c.MVNorm = 0.5
	}
	if c.ResidualNorm == 0 {
		c.ResidualNorm = 128
	}
	return c
}

// Channels is the number of channels of the clips this configuration makes: 3, plus 1 with
// AbsResidual, plus 2 with Chroma.
func (c ClipConfig) Channels() int {
	return len(c.ChannelNames())
}

// ChannelNames names the channels in order: dx, dy, residual, then abs_residual with AbsResidual, then
// cb_residual and cr_residual with Chroma.
func (c ClipConfig) ChannelNames() []string {
	names := []string{"dx", "dy", "residual"}
	if c.AbsResidual {
		names = append(names, "abs_residual")
	}
	if c.Chroma {
		names = append(names, "cb_residual", "cr_residual")
	}
	return names
}

// FrameInfo identifies one frame of a clip.
type FrameInfo struct {
	Index        int
	PTS          time.Duration
	PictType     byte
	KeyFrame     bool
	HasReference bool
}

// Clip is one model input: Data is float32 in [C][T][H][W] order (C = Channels, T = Length, H = Height,
// W = Width, W varying fastest); Frames names the T frames. A Clip returned by Push belongs to the
// Clipper and is valid until the next Push.
//
// Channels: 0 dx and 1 dy (the past-reference displacement of Field, area-averaged, scaled by model
// width/frame width resp. model height/frame height, divided by MVNorm; intra cells count as 0),
// 2 the luma residual area-averaged and divided by ResidualNorm (about [-1, 1]; 0 for frames decoded
// without pixels), and with AbsResidual 3 the area-averaged |residual| divided by ResidualNorm.
type Clip struct {
	Data                            []float32
	Channels, Length, Height, Width int
	Frames                          []FrameInfo
}

// Clipper assembles Features, pushed in output order, into clips. After the first clip at a given frame
// size it allocates nothing. It is not safe for concurrent use.
type Clipper struct {
	cfg      ClipConfig
	span     int
	plane    int // H*W
	ring     []float32
	infos    []FrameInfo
	pushed   int
	next     int // index (in pushed frames) of the first frame of the next clip
	clip     Clip
	fieldRS  areaResizer
	resRS    areaResizer
	acc      accumulator
	chromaRS areaResizer
	channels int
}

// NewClipper checks cfg and returns a Clipper.
func NewClipper(cfg ClipConfig) (*Clipper, error) {
	cfg = cfg.withDefaults()
	if cfg.Length < 1 || cfg.Stride < 1 || cfg.Step < 1 || cfg.Width < 1 || cfg.Height < 1 ||
		cfg.Width > 4096 || cfg.Height > 4096 || cfg.Length > 1024 || cfg.Step > 1024 ||
		!(cfg.MVNorm > 0) || !(cfg.ResidualNorm > 0) {
		return nil, fmt.Errorf("%w: clip config %+v", ErrGeometry, cfg)
	}
	c := &Clipper{cfg: cfg, span: (cfg.Length-1)*cfg.Step + 1, plane: cfg.Width * cfg.Height}
	ch := cfg.Channels()
	c.channels = ch
	c.ring = make([]float32, c.span*ch*c.plane)
	c.infos = make([]FrameInfo, c.span)
	c.clip = Clip{
		Data:     make([]float32, ch*cfg.Length*c.plane),
		Channels: ch, Length: cfg.Length, Height: cfg.Height, Width: cfg.Width,
		Frames: make([]FrameInfo, cfg.Length),
	}
	return c, nil
}

// Config returns the configuration with its defaults filled in.
func (c *Clipper) Config() ClipConfig { return c.cfg }

// Reset drops the frames collected so far and the accumulation, as after a stream restart.
func (c *Clipper) Reset() {
	c.pushed, c.next = 0, 0
	c.acc.prev.valid, c.acc.anchor.valid = false, false
}

// Skip accounts for n frames that were never decoded (the pre-decode gate slept through them), so
// that later clips are cut where a run that decoded every frame would cut them: a gap does not
// shift the clip grid, and the model sees the same clips with the pre-decode gate as without it. A
// skipped frame that a coming clip samples is all zero (no motion, no residual: the gate slept
// because the scene was still) and named FrameInfo{Index: -1} with the PTS it would have had,
// after + i*period for the i-th (from 1). Clips that would end inside the skipped frames are not
// cut. The accumulation restarts, as after Reset.
func (c *Clipper) Skip(n int, after, period time.Duration) {
	c.acc.prev.valid, c.acc.anchor.valid = false, false
	if n <= 0 {
		return
	}
	ch, p := c.channels, c.plane
	for i := max(0, n-c.span); i < n; i++ { // only the last span frames can be in a coming clip
		k := c.pushed + i
		if !c.needed(k) {
			continue
		}
		slot := k % c.span
		c.infos[slot] = FrameInfo{Index: -1, PTS: after + time.Duration(i+1)*period}
		clear(c.ring[slot*ch*p : (slot+1)*ch*p])
	}
	c.pushed += n
	for c.next+c.span-1 < c.pushed {
		c.next += c.cfg.Stride
	}
}

// Push adds the next frame's features. It returns a clip when this frame completes one, nil otherwise.
func (c *Clipper) Push(f *Features) (*Clip, error) {
	fld := f.Field
	if fld == nil || fld.Cols*fld.Rows == 0 || len(fld.DX) != fld.Cols*fld.Rows {
		return nil, fmt.Errorf("%w: frame %d has no motion field", ErrGeometry, f.Index)
	}
	if f.HasResidual && len(f.Residual) < f.Width*f.Height {
		return nil, fmt.Errorf("%w: frame %d residual of %d values for %dx%d", ErrGeometry, f.Index, len(f.Residual), f.Width, f.Height)
	}
	dx, dy, res := fld.DX, fld.DY, f.Residual
	if !f.HasResidual {
		res = nil
	}
	if c.cfg.Accumulate {
		dx, dy, res = c.acc.step(f)
	}
	k := c.pushed
	c.pushed++
	if c.needed(k) {
		slot := k % c.span
		c.infos[slot] = FrameInfo{Index: f.Index, PTS: f.PTS, PictType: f.PictType, KeyFrame: f.KeyFrame, HasReference: f.HasReference}
		slotData := c.ring[slot*c.channels*c.plane : (slot+1)*c.channels*c.plane]
		c.resizeFrame(slotData, fld, dx, dy, res, f.Width, f.Height)
		if c.cfg.Chroma {
			c.resizeChroma(slotData, f)
		}
	}
	if k != c.next+c.span-1 {
		return nil, nil
	}
	ch, p := c.channels, c.plane
	for t := 0; t < c.cfg.Length; t++ {
		slot := (c.next + t*c.cfg.Step) % c.span
		c.clip.Frames[t] = c.infos[slot]
		for ci := 0; ci < ch; ci++ {
			copy(c.clip.Data[(ci*c.cfg.Length+t)*p:(ci*c.cfg.Length+t+1)*p], c.ring[(slot*ch+ci)*p:(slot*ch+ci+1)*p])
		}
	}
	c.next += c.cfg.Stride
	return &c.clip, nil
}

// needed reports whether pushed frame k belongs to a clip still to come: one starting at next + j*Stride
// (j >= 0) that spans k and samples it (k - start a multiple of Step).
func (c *Clipper) needed(k int) bool {
	s := c.next
	if lo := k - c.span + 1; lo > s { // skip starts whose clips end before k
		s += (lo - s + c.cfg.Stride - 1) / c.cfg.Stride * c.cfg.Stride
	}
	for ; s <= k; s += c.cfg.Stride {
		if k-s < c.span && (k-s)%c.cfg.Step == 0 {
			return true
		}
	}
	return false
}

// resizeFrame writes one frame's channels, [C][H][W], into dst.
func (c *Clipper) resizeFrame(dst []float32, fld *Field, dx, dy []float32, res []int16, w, h int) {
	p := c.plane
	c.fieldRS.set(fld.Cols, fld.Rows, c.cfg.Width, c.cfg.Height)
	c.fieldRS.float32(dst[ChannelDX*p:(ChannelDX+1)*p], dx, fld.Cols, float32(c.cfg.Width)/float32(w)/c.cfg.MVNorm)
	c.fieldRS.float32(dst[ChannelDY*p:(ChannelDY+1)*p], dy, fld.Cols, float32(c.cfg.Height)/float32(h)/c.cfg.MVNorm)
	if res == nil {
		clear(dst[ChannelResidual*p:])
		return
	}
	c.resRS.set(w, h, c.cfg.Width, c.cfg.Height)
	c.resRS.int16(dst[ChannelResidual*p:(ChannelResidual+1)*p], res, w, 1/c.cfg.ResidualNorm, false)
	if c.cfg.AbsResidual {
		c.resRS.int16(dst[ChannelAbsResidual*p:(ChannelAbsResidual+1)*p], res, w, 1/c.cfg.ResidualNorm, true)
	}
}

// resizeChroma writes the chroma channels (the last two) of one frame into dst ([C][H][W]).
func (c *Clipper) resizeChroma(dst []float32, f *Features) {
	p := c.plane
	cb := dst[(c.channels-2)*p : (c.channels-1)*p]
	cr := dst[(c.channels-1)*p : c.channels*p]
	cw, ch := f.ChromaWidth, f.ChromaHeight
	if !f.HasResidual || cw == 0 || ch == 0 || len(f.CbResidual) < cw*ch || len(f.CrResidual) < cw*ch {
		clear(cb)
		clear(cr)
		return
	}
	c.chromaRS.set(cw, ch, c.cfg.Width, c.cfg.Height)
	c.chromaRS.int16(cb, f.CbResidual, cw, 1/c.cfg.ResidualNorm, false)
	c.chromaRS.int16(cr, f.CrResidual, cw, 1/c.cfg.ResidualNorm, false)
}
