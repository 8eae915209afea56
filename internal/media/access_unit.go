package media

import "time"

// Codec names a video coding format carried by an access unit.
type Codec string

// The codecs mvwatch ingests and decodes.
const (
	CodecH264 Codec = "h264"
	CodecH265 Codec = "h265"
)

// AccessUnit is one coded picture as received from a source: its NAL units without start codes,
// in decoding order, with the presentation time the source gave it.
type AccessUnit struct {
	Codec Codec
	// NALUs holds the picture's NAL units without Annex-B start codes. Parameter sets (SPS/PPS, and
	// VPS for H.265) are prepended to random-access units by the source, so a decoder can start there.
	NALUs [][]byte
	// PTS is the presentation time relative to the start of the session.
	PTS time.Duration
	// RandomAccess is true for IDR (H.264) or IRAP (H.265) pictures.
	RandomAccess bool
	// Discontinuity is true on the first access unit of a new RTSP session (the first one and each one
	// after a reconnect): it is a random-access unit, the parameter sets may have changed, and a
	// decoder should be flushed before it. PTS keeps increasing across sessions.
	Discontinuity bool
	// Arrived is when the unit's last packet came off the network (zero for units not read from a
	// network). Rate limits judge a camera by it: a unit delivered late, behind a slow decode, did
	// not arrive late.
	Arrived time.Time
}
