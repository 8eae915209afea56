package ingest

import (
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/pion/rtp"
)

// ErrMalformedNALU is returned for an access unit whose NAL unit headers are invalid.
var ErrMalformedNALU = errors.New("malformed NAL unit")

// rtpDecoder is what the H.264 and H.265 RTP depacketisers have in common.
type rtpDecoder interface {
	Decode(pkt *rtp.Packet) ([][]byte, error)
}

// assembler turns the RTP packets of one session into access units: it depacketises, gives each unit
// its PTS, waits for the first random-access unit, prepends parameter sets to random-access units
// that lack them, and drops units made incomplete by a loss or a decode error.
type assembler struct {
	codec   media.Codec
	forma   format.Format
	dec     rtpDecoder
	clock   int64
	ptsBase time.Duration

	vps, sps, pps []byte // latest parameter sets, from the SDP or in-band

	bufTS    uint32 // timestamp of the NAL units waiting in the depacketiser's buffer
	buffered bool
	started  bool // the first random-access unit has been emitted
	refTS    uint32
	ticks    int64 // refTS-relative time of the last emitted unit, in clock ticks
	corrupt  bool

	decodeErrors uint64
	dropped      uint64
	skipped      uint64
}

// newAssembler returns an assembler for the RTP format of a session. Units' PTS start at ptsBase.
func newAssembler(forma format.Format, ptsBase time.Duration) (*assembler, error) {
	a := &assembler{clock: int64(forma.ClockRate()), ptsBase: ptsBase, forma: forma}
	if a.clock <= 0 {
		return nil, fmt.Errorf("format %s: clock rate %d", forma.Codec(), a.clock)
	}
	switch f := forma.(type) {
	case *format.H264:
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, fmt.Errorf("H.264 depacketiser: %w", err)
		}
		a.codec, a.dec = media.CodecH264, dec
		a.sps, a.pps = f.SafeParams()
	case *format.H265:
		dec, err := f.CreateDecoder()
		if err != nil {
			return nil, fmt.Errorf("H.265 depacketiser: %w", err)
		}
		a.codec, a.dec = media.CodecH265, dec
		a.vps, a.sps, a.pps = f.SafeParams()
	default:
		return nil, fmt.Errorf("format %s: %w", forma.Codec(), ErrUnsupportedCodec)
	}
	return a, nil
}

// params returns the parameter sets known so far (from the SDP before the first packet).
func (a *assembler) params() [][]byte {
	var out [][]byte
	for _, p := range [][]byte{a.vps, a.sps, a.pps} {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// cutOff throws away the unit being assembled (the depacketiser's buffers with it): its remaining
// packets assemble into an incomplete unit, which is dropped.
func (a *assembler) cutOff() {
	switch f := a.forma.(type) {
	case *format.H264:
		if dec, err := f.CreateDecoder(); err == nil {
			a.dec = dec
		}
	case *format.H265:
		if dec, err := f.CreateDecoder(); err == nil {
			a.dec = dec
		}
	}
	a.buffered = false
	a.corrupt = true
}

// lost records that packets went missing: the unit being assembled is incomplete.
func (a *assembler) lost() { a.corrupt = true }

// push feeds one RTP packet. It returns an access unit when one is complete, and an error when the
// packet could not be depacketised (the error is counted; the stream goes on).
func (a *assembler) push(pkt *rtp.Packet) (media.AccessUnit, bool, error) {
	nalus, err := a.dec.Decode(pkt)
	switch {
	case err == nil:
	case errors.Is(err, rtph264.ErrMorePacketsNeeded), errors.Is(err, rtph265.ErrMorePacketsNeeded):
		a.buffered, a.bufTS = true, pkt.Timestamp
		return media.AccessUnit{}, false, nil
	case errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious), errors.Is(err, rtph265.ErrNonStartingPacketAndNoPrevious):
		return media.AccessUnit{}, false, nil // joined in the middle of a fragmented NAL unit
	default:
		a.decodeErrors++
		a.corrupt = true
		return media.AccessUnit{}, false, fmt.Errorf("depacketise RTP packet (seq %d): %w", pkt.SequenceNumber, err)
	}
	// The depacketiser returns a unit either at its marker bit (the unit includes this packet) or when
	// this packet's timestamp differs from the buffered one: then the unit ended with the previous
	// packet, and this packet stays buffered.
	ts := pkt.Timestamp
	if a.buffered && a.bufTS != pkt.Timestamp {
		ts, a.bufTS = a.bufTS, pkt.Timestamp
	} else {
		a.buffered = false
	}
	return a.finish(nalus, ts)
}

// finish turns the NAL units of one complete access unit into a media.AccessUnit.
func (a *assembler) finish(nalus [][]byte, ts uint32) (media.AccessUnit, bool, error) {
	if len(nalus) == 0 {
		return media.AccessUnit{}, false, nil
	}
	if a.corrupt {
		a.corrupt = false
		a.dropped++
		return media.AccessUnit{}, false, nil
	}
	hasVPS, hasSPS, hasPPS, ra, vcl, bad := a.scan(nalus)
	if bad {
		a.decodeErrors++
		a.dropped++
		return media.AccessUnit{}, false, fmt.Errorf("access unit with a malformed NAL unit header: %w", ErrMalformedNALU)
	}
	if !vcl {
		// Parameter sets or SEI sent on their own: kept (scan stored the parameter sets) for the next
		// random-access unit, not delivered as a picture.
		return media.AccessUnit{}, false, nil
	}
	if !a.started && !ra {
		a.skipped++
		return media.AccessUnit{}, false, nil
	}
	if !a.started {
		a.started, a.refTS = true, ts
	} else {
		a.ticks += int64(int32(ts - a.refTS))
		a.refTS = ts
	}
	au := media.AccessUnit{
		Codec:        a.codec,
		PTS:          a.ptsBase + ticksToDuration(a.ticks, a.clock),
		RandomAccess: ra,
	}
	if ra {
		var params [][]byte
		if a.codec == media.CodecH265 && !hasVPS && a.vps != nil {
			params = append(params, a.vps)
		}
		if !hasSPS && a.sps != nil {
			params = append(params, a.sps)
		}
		if !hasPPS && a.pps != nil {
			params = append(params, a.pps)
		}
		if len(params) > 0 {
			nalus = append(params, nalus...)
		}
	}
	au.NALUs = nalus
	return au, true, nil
}

// scan notes the parameter sets carried in-band and reports which ones the unit has, whether it is
// a random-access unit, whether it has a coded slice, and whether a NAL unit header is malformed
// (empty, forbidden bit set, or a zero H.265 temporal id).
func (a *assembler) scan(nalus [][]byte) (hasVPS, hasSPS, hasPPS, ra, vcl, bad bool) {
	for _, n := range nalus {
		if len(n) == 0 || n[0]&0x80 != 0 {
			return false, false, false, false, false, true
		}
		if a.codec == media.CodecH265 {
			if len(n) < 2 || n[1]&0x07 == 0 {
				return false, false, false, false, false, true
			}
			typ := h265.NALUType((n[0] >> 1) & 0x3F)
			switch {
			case typ == h265.NALUType_VPS_NUT:
				a.vps, hasVPS = n, true
			case typ == h265.NALUType_SPS_NUT:
				a.sps, hasSPS = n, true
			case typ == h265.NALUType_PPS_NUT:
				a.pps, hasPPS = n, true
			case typ >= h265.NALUType_BLA_W_LP && typ <= h265.NALUType_RSV_IRAP_VCL23:
				ra = true
			}
			vcl = vcl || typ < 32
			continue
		}
		switch typ := h264.NALUType(n[0] & 0x1F); typ {
		case h264.NALUTypeSPS:
			a.sps, hasSPS = n, true
		case h264.NALUTypePPS:
			a.pps, hasPPS = n, true
		case h264.NALUTypeIDR:
			ra, vcl = true, true
		case h264.NALUTypeNonIDR, h264.NALUTypeDataPartitionA:
			vcl = true
		}
	}
	return hasVPS, hasSPS, hasPPS, ra, vcl, false
}

// ticksToDuration converts ticks of a clock to a duration, without overflowing for long-running streams.
func ticksToDuration(ticks, clock int64) time.Duration {
	secs, rem := ticks/clock, ticks%clock
	return time.Duration(secs)*time.Second + time.Duration(rem*int64(time.Second)/clock)
}
