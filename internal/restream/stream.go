package restream

import (
	"bytes"
	"fmt"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/pion/rtp"
)

// Stream publishes the access units of one codec on a gortsplib server stream. The restream server
// keeps one per camera; the test camera serves one.
type Stream struct {
	codec  media.Codec
	stream *gortsplib.ServerStream
	media  *description.Media
	forma  format.Format
	enc    rtpEncoder
}

// NewStream makes a server stream on server whose SDP carries the parameter sets found in first, a
// random-access unit.
func NewStream(server *gortsplib.Server, first media.AccessUnit) (*Stream, error) {
	forma, err := formatFor(first)
	if err != nil {
		return nil, err
	}
	enc, err := newEncoder(forma)
	if err != nil {
		return nil, err
	}
	media := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}
	stream := &gortsplib.ServerStream{Server: server, Desc: &description.Session{Medias: []*description.Media{media}}}
	if err := stream.Initialize(); err != nil {
		return nil, fmt.Errorf("server stream: %w", err)
	}
	return &Stream{codec: first.Codec, stream: stream, media: media, forma: forma, enc: enc}, nil
}

// Codec is the stream's codec, that of its first access unit.
func (w *Stream) Codec() media.Codec { return w.codec }

// ServerStream is the gortsplib stream, what a server handler answers DESCRIBE and SETUP with.
func (w *Stream) ServerStream() *gortsplib.ServerStream { return w.stream }

// UpdateParams puts new in-band parameter sets of a random-access unit into the SDP that later
// viewers get.
func (w *Stream) UpdateParams(au media.AccessUnit) {
	if !au.RandomAccess {
		return
	}
	f, err := formatFor(au)
	if err != nil {
		return
	}
	switch cur := w.forma.(type) {
	case *format.H264:
		n := f.(*format.H264)
		sps, pps := cur.SafeParams()
		if n.SPS != nil && n.PPS != nil && (!bytes.Equal(sps, n.SPS) || !bytes.Equal(pps, n.PPS)) {
			cur.SafeSetParams(n.SPS, n.PPS)
		}
	case *format.H265:
		n := f.(*format.H265)
		vps, sps, pps := cur.SafeParams()
		if n.VPS != nil && n.SPS != nil && n.PPS != nil &&
			(!bytes.Equal(vps, n.VPS) || !bytes.Equal(sps, n.SPS) || !bytes.Equal(pps, n.PPS)) {
			cur.SafeSetParams(n.VPS, n.SPS, n.PPS)
		}
	}
}

// Write packetises au with an RTP timestamp of its PTS relative to basePTS (90 kHz) and sends it to
// every reader of the stream.
func (w *Stream) Write(au media.AccessUnit, basePTS time.Duration) error {
	_, err := w.write(au, basePTS)
	return err
}

// write is Write returning the packets sent.
func (w *Stream) write(au media.AccessUnit, basePTS time.Duration) ([]*rtp.Packet, error) {
	pkts, err := w.enc.Encode(au.NALUs)
	if err != nil {
		return nil, fmt.Errorf("encode access unit: %w", err)
	}
	ts := uint32(durationToTicks(au.PTS-basePTS, 90000))
	ntp := time.Now()
	for _, pkt := range pkts {
		pkt.Timestamp = ts
		if err := w.stream.WritePacketRTPWithNTP(w.media, pkt, ntp); err != nil {
			return nil, fmt.Errorf("write RTP: %w", err)
		}
	}
	return pkts, nil
}

// Close disconnects the stream's readers.
func (w *Stream) Close() { w.stream.Close() }

// durationToTicks converts d to ticks of a clock, rounded to the nearest tick, without overflowing
// for long-running streams.
func durationToTicks(d time.Duration, clock int64) int64 {
	secs, rem := int64(d/time.Second), int64(d%time.Second)
	return secs*clock + (rem*clock+int64(time.Second)/2)/int64(time.Second)
}

// formatFor builds the RTP format of the stream that begins with au, with its parameter sets for the SDP.
func formatFor(au media.AccessUnit) (format.Format, error) {
	switch au.Codec {
	case media.CodecH264:
		f := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
		for _, n := range au.NALUs {
			switch h264.NALUType(n[0] & 0x1F) {
			case h264.NALUTypeSPS:
				f.SPS = n
			case h264.NALUTypePPS:
				f.PPS = n
			}
		}
		return f, nil
	case media.CodecH265:
		f := &format.H265{PayloadTyp: 96}
		for _, n := range au.NALUs {
			switch h265.NALUType((n[0] >> 1) & 0x3F) {
			case h265.NALUType_VPS_NUT:
				f.VPS = n
			case h265.NALUType_SPS_NUT:
				f.SPS = n
			case h265.NALUType_PPS_NUT:
				f.PPS = n
			}
		}
		return f, nil
	}
	return nil, fmt.Errorf("unsupported codec %q", au.Codec)
}

// rtpEncoder is what the H.264 and H.265 RTP encoders have in common.
type rtpEncoder interface {
	Encode(au [][]byte) ([]*rtp.Packet, error)
}

func newEncoder(forma format.Format) (rtpEncoder, error) {
	switch f := forma.(type) {
	case *format.H264:
		return f.CreateEncoder()
	case *format.H265:
		return f.CreateEncoder()
	}
	return nil, fmt.Errorf("no encoder for %s", forma.Codec())
}
