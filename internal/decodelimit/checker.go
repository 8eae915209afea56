package decodelimit

import (
	"bytes"
	"errors"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/mvwatch/mvwatch/internal/media"
)

// Checker checks the parameter sets of one camera's stream against its limits. An SPS equal to the
// last one checked is not parsed again, so the cost on a healthy stream is a byte comparison per
// random-access unit. It is not safe for concurrent use: the goroutine that feeds the decoder owns
// it (the SDP check happens before that goroutine sees the session's first unit).
type Checker struct {
	limits  Limits
	metrics *Metrics
	last    []byte // the last SPS that passed
	lastSPS SPS
}

// NewChecker returns a checker for l (defaults applied) that counts failures in m (nil: nowhere).
func NewChecker(l Limits, m *Metrics) *Checker {
	return &Checker{limits: l.WithDefaults(), metrics: m}
}

// Limits returns the checker's limits, defaults applied.
func (c *Checker) Limits() Limits { return c.limits }

// FPS is the frame rate declared by the last SPS that passed, 0 when none declared one.
func (c *Checker) FPS() float64 { return c.lastSPS.FPS }

// Check checks every SPS among nalus (an access unit, or the parameter sets of an SDP). It returns
// nil or a *Violation, counted in the metrics.
func (c *Checker) Check(codec media.Codec, nalus [][]byte) error {
	for _, n := range nalus {
		if !isSPS(codec, n) || bytes.Equal(n, c.last) {
			continue
		}
		s, err := ParseSPS(codec, n)
		if err == nil {
			err = c.limits.CheckSPS(s)
		} else {
			err = violation(ReasonBadSPS, "%v: cannot be bounded, so not decoded", err)
		}
		var v *Violation
		if errors.As(err, &v) {
			c.metrics.fail(v.Reason)
			return v
		}
		c.last = append(c.last[:0], n...)
		c.lastSPS = s
	}
	return nil
}

func isSPS(codec media.Codec, n []byte) bool {
	if len(n) == 0 {
		return false
	}
	switch codec {
	case media.CodecH264:
		return h264.NALUType(n[0]&0x1f) == h264.NALUTypeSPS
	case media.CodecH265:
		return h265.NALUType((n[0]>>1)&0x3f) == h265.NALUType_SPS_NUT
	}
	return false
}
