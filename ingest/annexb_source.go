package ingest

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/mvwatch/mvwatch/internal/media"
)

// ErrNoStartCode is returned when data meant to be an Annex-B byte stream does not begin with a start code.
var ErrNoStartCode = errors.New("no Annex-B start code")

// maxAnnexBFile bounds what OpenAnnexB reads into memory.
const maxAnnexBFile = 512 << 20

// defaultFrameRate is used when neither the SPS nor the caller gives a frame rate.
const defaultFrameRate = 25

// AnnexBOptions configures an AnnexBSource.
type AnnexBOptions struct {
	// FrameRate in frames per second, used when the SPS carries no VUI timing information.
	// It defaults to 25.
	FrameRate float64
	// Loop restarts the stream at its end; timestamps keep increasing across loops.
	// It defaults to false (Next returns io.EOF at the end).
	Loop bool
	// Codec of the stream. It defaults to media.CodecH264. H.265 streams get PTS in decoding order (their
	// picture order counts are not parsed), which is right for streams without B-frames.
	Codec media.Codec
	// Start is the index of the access unit the stream begins at, moved back to the random-access
	// unit at or before it (so a decoder can start there); timestamps start at that unit's. Several
	// cameras looping one file at different Starts show it at different phases. It defaults to 0.
	Start int
}

// AnnexBSource is an AUSource over a raw H.264 (or H.265) Annex-B byte stream held in memory. Access units come in
// decoding order; their PTS follows the pictures' order counts (types 0, 1 and 2), so streams with
// B-frames get presentation times in display order.
type AnnexBSource struct {
	aus      []media.AccessUnit
	frameDur time.Duration
	loop     bool
	next     int
	offset   time.Duration
}

// OpenAnnexB reads a raw H.264 file (.264/.h264), or H.265 with opts.Codec, into an AnnexBSource.
func OpenAnnexB(path string, opts AnnexBOptions) (*AnnexBSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open annex-b file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxAnnexBFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxAnnexBFile {
		return nil, fmt.Errorf("read %s: larger than %d bytes", path, maxAnnexBFile)
	}
	s, err := NewAnnexBSource(data, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// NewAnnexBSource parses an H.264 (or H.265) Annex-B byte stream. The access units it returns share data's memory;
// neither data nor the returned NAL units may be modified.
func NewAnnexBSource(data []byte, opts AnnexBOptions) (*AnnexBSource, error) {
	fps := opts.FrameRate
	if fps <= 0 {
		fps = defaultFrameRate
	}
	var (
		aus []media.AccessUnit
		dur time.Duration
		err error
	)
	switch opts.Codec {
	case media.CodecH264, "":
		aus, dur, err = parseAnnexB(data, fps)
	case media.CodecH265:
		aus, dur, err = parseAnnexBH265(data, fps)
	default:
		return nil, fmt.Errorf("annex-b source: unsupported codec %q", opts.Codec)
	}
	if err != nil {
		return nil, err
	}
	if len(aus) == 0 {
		return nil, fmt.Errorf("annex-b stream has no coded pictures")
	}
	next := min(max(opts.Start, 0), len(aus)-1)
	for next > 0 && !aus[next].RandomAccess {
		next--
	}
	return &AnnexBSource{aus: aus, frameDur: dur, loop: opts.Loop, next: next}, nil
}

// ParseAnnexB splits an H.264 Annex-B byte stream into access units in decoding order, with PTS in
// display order derived from the picture order counts. defaultFPS is used when the SPS has no timing
// information (25 when it is not positive). The NAL units share data's memory.
func ParseAnnexB(data []byte, defaultFPS float64) ([]media.AccessUnit, error) {
	if defaultFPS <= 0 {
		defaultFPS = defaultFrameRate
	}
	aus, _, err := parseAnnexB(data, defaultFPS)
	return aus, err
}

// Next returns the next access unit, or io.EOF at the end of a stream that does not loop.
func (s *AnnexBSource) Next() (media.AccessUnit, error) {
	if s.next == len(s.aus) {
		if !s.loop {
			return media.AccessUnit{}, io.EOF
		}
		s.next = 0
		s.offset += time.Duration(len(s.aus)) * s.frameDur
	}
	au := s.aus[s.next]
	s.next++
	au.PTS += s.offset
	return au, nil
}

// Len is the number of access units in one pass over the stream.
func (s *AnnexBSource) Len() int { return len(s.aus) }

// FrameDuration is the time between two pictures in display order.
func (s *AnnexBSource) FrameDuration() time.Duration { return s.frameDur }

// SplitAnnexB splits an Annex-B byte stream into NAL units without their start codes. Trailing zero
// bytes before a start code (4-byte start codes, trailing_zero_8bits) are not part of a NAL unit.
// The NAL units share data's memory.
func SplitAnnexB(data []byte) ([][]byte, error) {
	i := startCodeAt(data, 0)
	if i < 0 || !allZero(data[:i]) {
		return nil, ErrNoStartCode
	}
	var nalus [][]byte
	for i >= 0 {
		start := i + 3
		next := startCodeAt(data, start)
		end := len(data)
		if next >= 0 {
			end = next
		}
		nalu := data[start:end]
		for len(nalu) > 0 && nalu[len(nalu)-1] == 0 {
			nalu = nalu[:len(nalu)-1]
		}
		if len(nalu) > 0 {
			nalus = append(nalus, nalu)
		}
		i = next
	}
	return nalus, nil
}

// startCodeAt returns the index of the next 00 00 01 at or after from, or -1.
func startCodeAt(data []byte, from int) int {
	for i := from; i+2 < len(data); i++ {
		if data[i+2] > 1 {
			i += 2
			continue
		}
		if data[i] == 0 && data[i+1] == 0 && data[i+2] == 1 {
			return i
		}
	}
	return -1
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// annexBPicture is an access unit under construction with what its PTS depends on.
type annexBPicture struct {
	au    media.AccessUnit
	poc   int64
	epoch int
}

// parseAnnexB groups NAL units into access units (ITU-T H.264 7.4.1.2.3) and gives each its PTS.
func parseAnnexB(data []byte, fps float64) ([]media.AccessUnit, time.Duration, error) {
	nalus, err := SplitAnnexB(data)
	if err != nil {
		return nil, 0, err
	}
	p := newH264POC()
	var (
		pics      []annexBPicture
		cur       annexBPicture
		pending   [][]byte // non-VCL NAL units waiting for the next picture
		hasVCL    bool
		lastSlice h264Slice
		epoch     = -1
		timingFPS float64
	)
	flush := func() {
		if hasVCL {
			pics = append(pics, cur)
		}
		cur = annexBPicture{}
		hasVCL = false
	}
	for i, nalu := range nalus {
		if nalu[0]&0x80 != 0 {
			return nil, 0, fmt.Errorf("NAL unit %d: forbidden_zero_bit set (not H.264?)", i)
		}
		typ := h264.NALUType(nalu[0] & 0x1F)
		switch typ {
		case h264.NALUTypeSPS:
			if err := p.addSPS(nalu); err != nil {
				return nil, 0, fmt.Errorf("NAL unit %d: %w", i, err)
			}
			if timingFPS == 0 {
				for _, s := range p.sps {
					if f := s.FPS(); f >= 1 && f <= 1000 {
						timingFPS = f
					}
				}
			}
		case h264.NALUTypePPS:
			if err := p.addPPS(nalu); err != nil {
				return nil, 0, fmt.Errorf("NAL unit %d: %w", i, err)
			}
		}
		switch {
		case typ == h264.NALUTypeNonIDR || typ == h264.NALUTypeIDR:
			sl, err := p.parseSlice(nalu)
			if err != nil {
				return nil, 0, fmt.Errorf("NAL unit %d: %w", i, err)
			}
			if hasVCL && newPicture(lastSlice, sl) {
				flush()
			}
			if !hasVCL {
				poc, err := p.poc(sl)
				if err != nil {
					return nil, 0, fmt.Errorf("NAL unit %d: %w", i, err)
				}
				if typ == h264.NALUTypeIDR || epoch < 0 {
					epoch++
				}
				cur.au = media.AccessUnit{Codec: media.CodecH264, RandomAccess: typ == h264.NALUTypeIDR}
				cur.au.NALUs = append(cur.au.NALUs, pending...)
				cur.poc, cur.epoch = poc, epoch
				pending = pending[:0]
				hasVCL = true
			}
			cur.au.NALUs = append(cur.au.NALUs, nalu)
			lastSlice = sl
		case startsAccessUnit(typ):
			flush()
			pending = append(pending, nalu)
		case hasVCL:
			cur.au.NALUs = append(cur.au.NALUs, nalu)
		default:
			pending = append(pending, nalu)
		}
	}
	flush()

	if timingFPS > 0 {
		fps = timingFPS
	}
	frameDur := time.Duration(float64(time.Second) / fps)
	return assignPTS(pics, frameDur), frameDur, nil
}

// startsAccessUnit reports whether a non-VCL NAL unit type begins a new access unit when it follows
// a picture's slices.
func startsAccessUnit(typ h264.NALUType) bool {
	switch {
	case typ == h264.NALUTypeAccessUnitDelimiter, typ == h264.NALUTypeSPS, typ == h264.NALUTypePPS,
		typ == h264.NALUTypeSEI:
		return true
	case typ >= 14 && typ <= 18:
		return true
	}
	return false
}

// assignPTS numbers pictures in display order: within each run of pictures between IDRs (one order
// count epoch), pictures are ranked by order count and follow all pictures of earlier epochs.
func assignPTS(pics []annexBPicture, frameDur time.Duration) []media.AccessUnit {
	aus := make([]media.AccessUnit, len(pics))
	for start := 0; start < len(pics); {
		end := start + 1
		for end < len(pics) && pics[end].epoch == pics[start].epoch {
			end++
		}
		order := make([]int, end-start)
		for i := range order {
			order[i] = start + i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case pics[a].poc < pics[b].poc:
				return -1
			case pics[a].poc > pics[b].poc:
				return 1
			}
			return 0
		})
		for rank, idx := range order {
			aus[idx] = pics[idx].au
			aus[idx].PTS = time.Duration(start+rank) * frameDur
		}
		start = end
	}
	return aus
}

// PhasedSources returns a function that parses data into a new looping AnnexBSource on each call,
// each one starting at a random access unit drawn with seed (moved back to its keyframe, see
// AnnexBOptions.Start): many test cameras playing one clip at different phases. With seed 0 every
// source starts at opts.Start. Not safe for concurrent use.
func PhasedSources(data []byte, opts AnnexBOptions, seed uint64) func() (*AnnexBSource, error) {
	rng := rand.New(rand.NewPCG(seed, 1))
	opts.Loop = true
	return func() (*AnnexBSource, error) {
		src, err := NewAnnexBSource(data, opts)
		if err != nil || seed == 0 {
			return src, err
		}
		// One pass over the clip costs little next to serving it, so the length comes from a parse.
		o := opts
		o.Start = rng.IntN(src.Len())
		return NewAnnexBSource(data, o)
	}
}
