package testcam

import (
	"errors"
	"github.com/mvwatch/mvwatch/internal/media"
	"io"
	"time"
)

// Concat plays AUSources one after the other as one stream, for scripted scenes (idle, then an object
// crossing, then a pan). Each source should start with a random-access unit. Timestamps keep
// increasing: a source starts one frame after the previous source's last picture in display order.
type Concat struct {
	srcs []Source
	cur  int

	offset  time.Duration // added to the current source's PTS
	first   bool          // the next unit is the current source's first
	maxPTS  time.Duration // the current source's largest PTS, after the offset
	lastPTS time.Duration // the previous unit's PTS, as given by the source
	step    time.Duration // the smallest positive PTS step seen, the frame duration estimate
}

// NewConcat returns a source that plays srcs in order and ends (io.EOF) after the last.
func NewConcat(srcs ...Source) *Concat {
	return &Concat{srcs: srcs, first: true}
}

// Next returns the next access unit of the current source, moving to the next source at io.EOF.
func (c *Concat) Next() (media.AccessUnit, error) {
	for c.cur < len(c.srcs) {
		au, err := c.srcs[c.cur].Next()
		if errors.Is(err, io.EOF) {
			c.cur++
			if !c.first {
				c.offset = c.maxPTS + max(c.step, time.Millisecond)
				c.first = true
			}
			continue
		}
		if err != nil {
			return media.AccessUnit{}, err
		}
		if c.first {
			c.first = false
			c.offset -= au.PTS
			c.maxPTS = au.PTS + c.offset
		} else if d := au.PTS - c.lastPTS; d > 0 && (c.step == 0 || d < c.step) {
			c.step = d
		}
		c.lastPTS = au.PTS
		au.PTS += c.offset
		c.maxPTS = max(c.maxPTS, au.PTS)
		return au, nil
	}
	return media.AccessUnit{}, io.EOF
}
