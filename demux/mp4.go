package demux

import (
	"errors"
	"fmt"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/mvwatch/mvwatch/internal/media"
)

// ErrNoClip is returned (wrapped) by WriteMP4 when the access units cannot make a clip: none, the first
// is not a random-access unit, or it carries no parameter sets.
var ErrNoClip = errors.New("no clip")

// mp4TimeBase is the clip's stream time base: RTP's 90 kHz video clock.
var mp4TimeBase = astiav.NewRational(1, 90000)

// MP4Info describes a clip WriteMP4 wrote.
type MP4Info struct {
	// Packets is the number of access units written.
	Packets int
	// Width and Height come from the SPS.
	Width, Height int
	// Duration is the span from the first access unit's PTS to the end of the last.
	Duration time.Duration
	// FirstPTS is the first access unit's PTS (the clip's time 0).
	FirstPTS time.Duration
}

// WriteMP4 remuxes H.264 or H.265 access units into an MP4 file at path, without re-encoding. aus must
// be in decoding order, all of one codec, the first a random-access unit carrying the parameter sets
// (as the sources prepend them). The parameter sets of the first unit become the track's decoder
// configuration; FFmpeg's mov muxer turns that Annex-B extradata into avcC/hvcC and every Annex-B
// sample into length-prefixed NAL units. Parameter sets repeated unchanged in-band and access unit
// delimiters are left out of the samples; changed ones stay in-band. Timestamps start at 0 on the
// first unit's PTS (90 kHz); decoding timestamps come from the bitstream (mediacommon's DTS
// extractor, for streams with B-frames), falling back to monotonic PTS. The moov box is written first
// (faststart), so browsers can play the file while fetching it. metadata become container tags
// (title, comment, creation_time, ...). path is written in place: write to a temporary name and rename.
func WriteMP4(path string, aus []media.AccessUnit, metadata map[string]string) (info MP4Info, err error) {
	if len(aus) == 0 {
		return info, fmt.Errorf("demux: mp4 %s: %w: no access units", path, ErrNoClip)
	}
	codec := aus[0].Codec
	params, w, h, err := clipParams(aus[0])
	if err != nil {
		return info, fmt.Errorf("demux: mp4 %s: %w", path, err)
	}
	quietFFmpeg()
	fc, err := astiav.AllocOutputFormatContext(nil, "mp4", path)
	if err != nil {
		return info, fmt.Errorf("demux: mp4 %s: allocate output: %w", path, err)
	}
	defer fc.Free()
	st := fc.NewStream(nil)
	if st == nil {
		return info, fmt.Errorf("demux: mp4 %s: cannot add a stream", path)
	}
	cp := st.CodecParameters()
	cp.SetMediaType(astiav.MediaTypeVideo)
	if codec == media.CodecH265 {
		cp.SetCodecID(astiav.CodecIDHevc)
		cp.SetCodecTag(astiav.CodecTag(mkTag('h', 'v', 'c', '1'))) // what Safari and Chrome's HEVC path want
	} else {
		cp.SetCodecID(astiav.CodecIDH264)
	}
	cp.SetWidth(w)
	cp.SetHeight(h)
	if err := cp.SetExtraData(annexB(params)); err != nil {
		return info, fmt.Errorf("demux: mp4 %s: extradata: %w", path, err)
	}
	st.SetTimeBase(mp4TimeBase)
	for k, v := range metadata {
		if err := setMetadata(fc, k, v); err != nil {
			return info, fmt.Errorf("demux: mp4 %s: metadata %s: %w", path, k, err)
		}
	}
	pb, err := astiav.OpenIOContext(path, astiav.NewIOContextFlags(astiav.IOContextFlagWrite))
	if err != nil {
		return info, fmt.Errorf("demux: mp4 %s: open: %w", path, err)
	}
	fc.SetPb(pb)
	defer func() {
		if cerr := pb.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("demux: mp4 %s: close: %w", path, cerr)
		}
	}()
	opts := astiav.NewDictionary()
	defer opts.Free()
	if err := opts.Set("movflags", "+faststart", 0); err != nil {
		return info, fmt.Errorf("demux: mp4 %s: options: %w", path, err)
	}
	if err := fc.WriteHeader(opts); err != nil {
		return info, fmt.Errorf("demux: mp4 %s: write header: %w", path, err)
	}
	tb := st.TimeBase() // the muxer may change it
	samples := clipSamples(aus, params)
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	for i, s := range samples {
		if err := fillPacket(pkt, s.data); err != nil {
			return info, fmt.Errorf("demux: mp4 %s: packet %d: %w", path, i, err)
		}
		pkt.SetStreamIndex(st.Index())
		pkt.SetPts(s.pts)
		pkt.SetDts(s.dts)
		pkt.SetDuration(s.dur)
		if s.key {
			pkt.SetFlags(astiav.NewPacketFlags(astiav.PacketFlagKey))
		}
		pkt.RescaleTs(mp4TimeBase, tb)
		pkt.SetPos(-1)
		if err := fc.WriteFrame(pkt); err != nil {
			return info, fmt.Errorf("demux: mp4 %s: write packet %d: %w", path, i, err)
		}
		pkt.Unref()
	}
	if err := fc.WriteTrailer(); err != nil {
		return info, fmt.Errorf("demux: mp4 %s: write trailer: %w", path, err)
	}
	last := samples[len(samples)-1]
	info = MP4Info{Packets: len(samples), Width: w, Height: h, FirstPTS: aus[0].PTS,
		Duration: ticksToDuration(last.pts + last.dur)}
	return info, nil
}

func mkTag(a, b, c, d byte) uint32 {
	return uint32(a) | uint32(b)<<8 | uint32(c)<<16 | uint32(d)<<24
}

// clipSample is one packet of a clip, timestamps in 90 kHz ticks from the first unit's PTS.
type clipSample struct {
	data          []byte // Annex-B
	pts, dts, dur int64
	key           bool
}

func durationToTicks(d time.Duration) int64 { return int64(d) * 9 / 100000 }
func ticksToDuration(t int64) time.Duration { return time.Duration(t) * 100000 / 9 }

// clipSamples turns the access units into samples: Annex-B payloads without the unchanged parameter
// sets and delimiters, DTS from the bitstream, each sample's duration to the next DTS.
func clipSamples(aus []media.AccessUnit, params [][]byte) []clipSample {
	codec := aus[0].Codec
	base := durationToTicks(aus[0].PTS)
	var dts264 h264.DTSExtractor
	dts264.Initialize()
	var dts265 h265.DTSExtractor
	dts265.Initialize()
	dtsOK := true
	out := make([]clipSample, 0, len(aus))
	for _, au := range aus {
		pts := durationToTicks(au.PTS) - base
		var keep [][]byte
		for _, n := range au.NALUs {
			if len(n) == 0 || isDelimiter(codec, n) || (isParamSet(codec, n) && containsNALU(params, n)) {
				continue
			}
			keep = append(keep, n)
		}
		if len(keep) == 0 {
			continue
		}
		dts := pts
		if dtsOK {
			var d int64
			var err error
			if codec == media.CodecH265 {
				d, err = dts265.Extract(au.NALUs, pts)
			} else {
				d, err = dts264.Extract(au.NALUs, pts)
			}
			if err != nil {
				dtsOK = false // a stream the extractor cannot follow: presentation order it is
			} else {
				dts = d
			}
		}
		dts = min(dts, pts) // a sample is never presented before it is decoded
		if len(out) > 0 && dts <= out[len(out)-1].dts {
			dts = out[len(out)-1].dts + 1
		}
		out = append(out, clipSample{data: annexB(keep), pts: max(pts, dts), dts: dts, key: au.RandomAccess})
	}
	for i := range out {
		if i+1 < len(out) {
			out[i].dur = max(out[i+1].dts-out[i].dts, 1)
		} else if i > 0 {
			out[i].dur = out[i-1].dur
		} else {
			out[i].dur = 3000 // one picture alone: 1/30 s
		}
	}
	return out
}

// clipParams returns the parameter sets of a random-access unit (VPS, SPS, PPS for H.265; SPS, PPS for
// H.264) and the picture size from its SPS.
func clipParams(au media.AccessUnit) (params [][]byte, w, h int, err error) {
	if !au.RandomAccess {
		return nil, 0, 0, fmt.Errorf("%w: the first access unit is not a random-access unit", ErrNoClip)
	}
	var sps []byte
	for _, n := range au.NALUs {
		if len(n) == 0 || !isParamSet(au.Codec, n) {
			continue
		}
		params = append(params, n)
		if sps == nil && isSPS(au.Codec, n) {
			sps = n
		}
	}
	if sps == nil {
		return nil, 0, 0, fmt.Errorf("%w: the first access unit carries no SPS", ErrNoClip)
	}
	switch au.Codec {
	case media.CodecH264:
		var s h264.SPS
		if err := s.Unmarshal(sps); err != nil {
			return nil, 0, 0, fmt.Errorf("%w: SPS: %w", ErrNoClip, err)
		}
		w, h = s.Width(), s.Height()
	case media.CodecH265:
		var s h265.SPS
		if err := s.Unmarshal(sps); err != nil {
			return nil, 0, 0, fmt.Errorf("%w: SPS: %w", ErrNoClip, err)
		}
		w, h = s.Width(), s.Height()
	default:
		return nil, 0, 0, fmt.Errorf("%w: codec %q", ErrNoClip, au.Codec)
	}
	return params, w, h, nil
}

func nalType(codec media.Codec, n []byte) int {
	if codec == media.CodecH265 {
		return int(n[0]>>1) & 0x3f
	}
	return int(n[0] & 0x1f)
}

func isParamSet(codec media.Codec, n []byte) bool {
	t := nalType(codec, n)
	if codec == media.CodecH265 {
		return t == 32 || t == 33 || t == 34 // VPS, SPS, PPS
	}
	return t == 7 || t == 8 // SPS, PPS
}

func isSPS(codec media.Codec, n []byte) bool {
	if codec == media.CodecH265 {
		return nalType(codec, n) == 33
	}
	return nalType(codec, n) == 7
}

func isDelimiter(codec media.Codec, n []byte) bool {
	if codec == media.CodecH265 {
		return nalType(codec, n) == 35
	}
	return nalType(codec, n) == 9
}

func containsNALU(set [][]byte, n []byte) bool {
	for _, s := range set {
		if string(s) == string(n) {
			return true
		}
	}
	return false
}

// annexB joins NAL units with 4-byte start codes.
func annexB(nalus [][]byte) []byte {
	n := 0
	for _, u := range nalus {
		n += 4 + len(u)
	}
	out := make([]byte, 0, n)
	for _, u := range nalus {
		out = append(out, 0, 0, 0, 1)
		out = append(out, u...)
	}
	return out
}
