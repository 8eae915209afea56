package decodelimit

import (
	"errors"
	"fmt"
)

// Defaults. 4096x2304 covers 4K UHD (3840x2160, coded 3840x2160) and DCI-ish 4096x2160 with
// alignment; 8.9 Mpixel is 4096x2176; 16 is the largest DPB either standard allows.
const (
	DefaultMaxWidth           = 4096
	DefaultMaxHeight          = 2304
	DefaultMaxPixels          = 8_912_896 // 4096 x 2176
	DefaultMaxRefFrames       = 16
	DefaultMaxAccessUnitBytes = 4 << 20
	DefaultMaxQueueBytes      = 32 << 20
	DefaultMaxFPS             = 120
)

// Limits bound one camera's stream. The zero value of a field takes its default (WithDefaults).
type Limits struct {
	// MaxWidth and MaxHeight bound the coded picture size in luma samples. They default to 4096 and 2304.
	MaxWidth, MaxHeight int
	// MaxPixels bounds coded width x height. It defaults to 8912896 (4096x2176).
	MaxPixels int64
	// MaxRefFrames bounds the reference frames (decoded picture buffer) the SPS asks for. It
	// defaults to 16.
	MaxRefFrames int
	// MaxAccessUnitBytes bounds one access unit (and so one NAL unit); a bigger one is cut off and
	// dropped. It defaults to 4 MiB.
	MaxAccessUnitBytes int
	// MaxQueueBytes bounds the bytes of access units waiting between network and decoder. It
	// defaults to 32 MiB.
	MaxQueueBytes int
	// MaxFPS caps the decode rate of a throttled camera whatever its SPS declares. It defaults
	// to 120.
	MaxFPS float64
	// FPSMargin, when positive, turns the Throttle on: a camera may send this many times faster
	// than its declared frame rate (MaxFPS when it declares none) before access units are
	// dropped. It defaults to 0: no throttle, for tools that read recorded streams as fast as they
	// come; the service's config (decode.fps_margin) sets 2.
	FPSMargin float64
}

// Default returns the default limits.
func Default() Limits { return Limits{}.WithDefaults() }

// WithDefaults fills the zero fields with the defaults.
func (l Limits) WithDefaults() Limits {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&l.MaxWidth, DefaultMaxWidth)
	def(&l.MaxHeight, DefaultMaxHeight)
	def(&l.MaxRefFrames, DefaultMaxRefFrames)
	def(&l.MaxAccessUnitBytes, DefaultMaxAccessUnitBytes)
	def(&l.MaxQueueBytes, DefaultMaxQueueBytes)
	if l.MaxPixels == 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	if l.MaxFPS == 0 {
		l.MaxFPS = DefaultMaxFPS
	}
	return l
}

// ErrLimit is wrapped by every Violation.
var ErrLimit = errors.New("decode limit exceeded")

// Reason classifies a Violation; it is the reason label of mvwatch_decode_limit_failures_total.
type Reason string

// The reasons a camera is failed for.
const (
	ReasonDimensions Reason = "dimensions"  // coded width or height over MaxWidth/MaxHeight
	ReasonPixels     Reason = "pixels"      // coded width x height over MaxPixels
	ReasonRefFrames  Reason = "ref_frames"  // reference frames over MaxRefFrames
	ReasonBadSPS     Reason = "sps_invalid" // an SPS that cannot be parsed, so cannot be bounded
)

// Reasons lists every Reason, for metrics present from the start.
var Reasons = []Reason{ReasonDimensions, ReasonPixels, ReasonRefFrames, ReasonBadSPS}

// Violation is a stream over a limit. Its message names the value, the limit and the config field:
// "sps: 16000x16000 exceeds the 4096x2304 limit (decode.max_width/max_height)".
type Violation struct {
	Reason Reason
	Msg    string
}

func (v *Violation) Error() string { return v.Msg }

// Is makes errors.Is(v, ErrLimit) true.
func (v *Violation) Is(target error) bool { return target == ErrLimit }

func violation(r Reason, format string, args ...any) *Violation {
	return &Violation{Reason: r, Msg: fmt.Sprintf(format, args...)}
}

// CheckSPS checks the fields of one SPS against l (defaults applied by the caller).
func (l Limits) CheckSPS(s SPS) error {
	if s.Width > int64(l.MaxWidth) || s.Height > int64(l.MaxHeight) {
		return violation(ReasonDimensions, "sps: %dx%d exceeds the %dx%d limit (decode.max_width/max_height)",
			s.Width, s.Height, l.MaxWidth, l.MaxHeight)
	}
	if px := s.Width * s.Height; px > l.MaxPixels {
		return violation(ReasonPixels, "sps: %dx%d is %d pixels, over the %d limit (decode.max_pixels)",
			s.Width, s.Height, px, l.MaxPixels)
	}
	if s.RefFrames > int64(l.MaxRefFrames) {
		return violation(ReasonRefFrames, "sps: %d reference frames exceed the %d limit (decode.max_ref_frames)",
			s.RefFrames, l.MaxRefFrames)
	}
	return nil
}
