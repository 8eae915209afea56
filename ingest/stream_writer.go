package ingest

import (
	"bytes"
	"fmt"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/mvwatch/mvwatch/internal/media"
)

// streamWriter publishes access units of one codec on a gortsplib server stream.
type streamWriter struct {
	codec  media.Codec
	stream *gortsplib.ServerStream
	media  *description.Media
	forma  format.Format
	enc    rtpEncoder
}

// newStreamWriter makes a server stream whose SDP carries the parameter sets found in first.
func newStreamWriter(server *gortsplib.Server, first media.AccessUnit) (*streamWriter, error) {
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
	return &streamWriter{codec: first.Codec, stream: stream, media: media, forma: forma, enc: enc}, nil
}

// updateParams puts new in-band parameter sets of a random-access unit into the SDP that later
// viewers get.
func (w *streamWriter) updateParams(au media.AccessUnit) {
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

// write packetises au with an RTP timestamp of its PTS relative to basePTS (90 kHz) and sends it to
// every reader of the stream.
func (w *streamWriter) write(au media.AccessUnit, basePTS time.Duration) error {
	pkts, err := w.enc.Encode(au.NALUs)
	if err != nil {
		return fmt.Errorf("encode access unit: %w", err)
	}
	ts := uint32(durationToTicks(au.PTS-basePTS, 90000))
	ntp := time.Now()
	for _, pkt := range pkts {
		pkt.Timestamp = ts
		if err := w.stream.WritePacketRTPWithNTP(w.media, pkt, ntp); err != nil {
			return fmt.Errorf("write RTP: %w", err)
		}
	}
	return nil
}

// close disconnects the stream's readers.
func (w *streamWriter) close() { w.stream.Close() }

// durationToTicks converts d to ticks of a clock, rounded to the nearest tick, without overflowing
// for long-running streams.
func durationToTicks(d time.Duration, clock int64) int64 {
	secs, rem := int64(d/time.Second), int64(d%time.Second)
	return secs*clock + (rem*clock+int64(time.Second)/2)/int64(time.Second)
}

// ticksToDuration converts ticks of a clock to a duration, without overflowing for long-running streams.
func ticksToDuration(ticks, clock int64) time.Duration {
	secs, rem := ticks/clock, ticks%clock
	return time.Duration(secs)*time.Second + time.Duration(rem*int64(time.Second)/clock)
}
