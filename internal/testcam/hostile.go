package testcam

import (
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/mvwatch/mvwatch/internal/media"
)

// Hostile cameras: sources and helpers that the hostile-camera tests serve beside healthy cameras, to
// show that a camera lying about its stream cannot take the process.

// RewriteSPS wraps src so that every H.264 SPS in its access units is parsed, changed by edit and
// encoded again (MarshalH264SPS): a camera whose SPS declares 16000x16000, or absurd reference
// counts, while its slices stay those of the real clip. The SDP that the camera serves carries the
// rewritten SPS too, since it is built from the first access unit.
func RewriteSPS(src Source, edit func(*h264.SPS)) Source {
	return RewriteSPSAfter(src, 0, edit)
}

// RewriteSPSAfter is RewriteSPS from the n-th access unit on: the SDP and the first n units carry
// the real SPS, and the stream changes its SPS in-band at the next random-access unit.
func RewriteSPSAfter(src Source, n int, edit func(*h264.SPS)) Source {
	return &spsRewriter{src: src, edit: edit, after: n}
}

type spsRewriter struct {
	src   Source
	edit  func(*h264.SPS)
	after int
	seen  int
}

func (r *spsRewriter) Next() (media.AccessUnit, error) {
	au, err := r.src.Next()
	r.seen++
	if err != nil || au.Codec == media.CodecH265 || r.seen <= r.after {
		return au, err
	}
	out := make([][]byte, len(au.NALUs))
	for i, n := range au.NALUs {
		out[i] = n
		if len(n) == 0 || h264.NALUType(n[0]&0x1f) != h264.NALUTypeSPS {
			continue
		}
		var sps h264.SPS
		if err := sps.Unmarshal(n); err != nil {
			return au, fmt.Errorf("rewrite SPS: %w", err)
		}
		r.edit(&sps)
		b, err := MarshalH264SPS(&sps)
		if err != nil {
			return au, fmt.Errorf("rewrite SPS: %w", err)
		}
		out[i] = b
	}
	au.NALUs = out
	return au, nil
}

// bitWriter writes the Exp-Golomb and fixed-width fields of a parameter set.
type bitWriter struct {
	buf  []byte
	nbit int
}

func (w *bitWriter) bit(b bool) {
	if w.nbit%8 == 0 {
		w.buf = append(w.buf, 0)
	}
	if b {
		w.buf[len(w.buf)-1] |= 0x80 >> (w.nbit % 8)
	}
	w.nbit++
}

func (w *bitWriter) u(n int, v uint64) {
	for i := n - 1; i >= 0; i-- {
		w.bit(v>>i&1 == 1)
	}
}

func (w *bitWriter) ue(v uint32) {
	x := uint64(v) + 1
	n := 0
	for t := x; t > 1; t >>= 1 {
		n++
	}
	w.u(n, 0)
	w.u(n+1, x)
}

func (w *bitWriter) se(v int32) {
	if v > 0 {
		w.ue(uint32(2*int64(v) - 1))
	} else {
		w.ue(uint32(-2 * int64(v)))
	}
}

// trailing writes rbsp_trailing_bits.
func (w *bitWriter) trailing() {
	w.bit(true)
	for w.nbit%8 != 0 {
		w.bit(false)
	}
}

// addEmulationPrevention inserts emulation_prevention_three_byte where the RBSP needs it.
func addEmulationPrevention(rbsp []byte) []byte {
	out := make([]byte, 0, len(rbsp)+len(rbsp)/64+1)
	zeros := 0
	for _, b := range rbsp {
		if zeros >= 2 && b <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		out = append(out, b)
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// MarshalH264SPS encodes s as an SPS NAL unit (header byte included; nal_ref_idc 3). Scaling lists
// are not supported; of the VUI only the timing information is kept.
func MarshalH264SPS(s *h264.SPS) ([]byte, error) {
	if len(s.ScalingList4x4) > 0 || len(s.ScalingList8x8) > 0 {
		return nil, errors.New("marshal SPS: scaling lists are not supported")
	}
	var w bitWriter
	w.u(8, uint64(s.ProfileIdc))
	for _, f := range []bool{s.ConstraintSet0Flag, s.ConstraintSet1Flag, s.ConstraintSet2Flag,
		s.ConstraintSet3Flag, s.ConstraintSet4Flag, s.ConstraintSet5Flag} {
		w.bit(f)
	}
	w.u(2, 0)
	w.u(8, uint64(s.LevelIdc))
	w.ue(s.ID)
	switch s.ProfileIdc {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		w.ue(s.ChromaFormatIdc)
		if s.ChromaFormatIdc == 3 {
			w.bit(s.SeparateColourPlaneFlag)
		}
		w.ue(s.BitDepthLumaMinus8)
		w.ue(s.BitDepthChromaMinus8)
		w.bit(s.QpprimeYZeroTransformBypassFlag)
		w.bit(false) // seq_scaling_matrix_present_flag
	}
	w.ue(s.Log2MaxFrameNumMinus4)
	w.ue(s.PicOrderCntType)
	switch s.PicOrderCntType {
	case 0:
		w.ue(s.Log2MaxPicOrderCntLsbMinus4)
	case 1:
		w.bit(s.DeltaPicOrderAlwaysZeroFlag)
		w.se(s.OffsetForNonRefPic)
		w.se(s.OffsetForTopToBottomField)
		w.ue(uint32(len(s.OffsetForRefFrames)))
		for _, o := range s.OffsetForRefFrames {
			w.se(o)
		}
	}
	w.ue(s.MaxNumRefFrames)
	w.bit(s.GapsInFrameNumValueAllowedFlag)
	w.ue(s.PicWidthInMbsMinus1)
	w.ue(s.PicHeightInMapUnitsMinus1)
	w.bit(s.FrameMbsOnlyFlag)
	if !s.FrameMbsOnlyFlag {
		w.bit(s.MbAdaptiveFrameFieldFlag)
	}
	w.bit(s.Direct8x8InferenceFlag)
	w.bit(s.FrameCropping != nil)
	if c := s.FrameCropping; c != nil {
		w.ue(c.LeftOffset)
		w.ue(c.RightOffset)
		w.ue(c.TopOffset)
		w.ue(c.BottomOffset)
	}
	ti := (*h264.SPS_TimingInfo)(nil)
	if s.VUI != nil {
		ti = s.VUI.TimingInfo
	}
	w.bit(ti != nil) // vui_parameters_present_flag
	if ti != nil {
		w.u(4, 0) // aspect_ratio_info, overscan_info, video_signal_type, chroma_loc_info present: no
		w.bit(true)
		w.u(32, uint64(ti.NumUnitsInTick))
		w.u(32, uint64(ti.TimeScale))
		w.bit(ti.FixedFrameRateFlag)
		w.u(4, 0) // nal_hrd, vcl_hrd, pic_struct_present, bitstream_restriction: no
	}
	w.trailing()
	return append([]byte{0x67}, addEmulationPrevention(w.buf)...), nil
}

// bitReader reads the fields that RewriteH265Size walks over.
type bitReader struct {
	buf []byte
	pos int
	err error
}

func (r *bitReader) u(n int) uint32 {
	var v uint32
	for i := 0; i < n; i++ {
		if r.pos >= len(r.buf)*8 {
			r.err = errors.New("not enough bits")
			return 0
		}
		v = v<<1 | uint32(r.buf[r.pos/8]>>(7-r.pos%8)&1)
		r.pos++
	}
	return v
}

func (r *bitReader) ue() uint32 {
	zeros := 0
	for r.err == nil && r.u(1) == 0 {
		zeros++
		if zeros > 31 {
			r.err = errors.New("Exp-Golomb code too long")
		}
	}
	return uint32(uint64(1)<<zeros - 1 + uint64(r.u(zeros)))
}

// RewriteH265Size returns an H.265 SPS NAL unit equal to sps but for pic_width_in_luma_samples and
// pic_height_in_luma_samples: the fields before them are copied bit for bit, the new sizes
// written, and the rest copied up to the RBSP stop bit. Sub-layer profiles are not supported.
func RewriteH265Size(sps []byte, width, height uint32) ([]byte, error) {
	if len(sps) < 3 {
		return nil, errors.New("rewrite H.265 SPS: too short")
	}
	r := bitReader{buf: h264.EmulationPreventionRemove(sps[2:])}
	r.u(4)
	maxSub := int(r.u(3))
	r.u(1)
	// profile_tier_level: general profile space, tier and idc (8 bits), compatibility flags (32),
	// constraint flags (48), general_level_idc (8).
	r.u(32)
	r.u(32)
	r.u(32)
	for i := 0; i < maxSub; i++ {
		if r.u(2) != 0 {
			return nil, errors.New("rewrite H.265 SPS: sub-layer profiles are not supported")
		}
	}
	if maxSub > 0 {
		r.u(2 * (8 - maxSub))
	}
	r.ue()
	if r.ue() == 3 {
		r.u(1)
	}
	start := r.pos
	r.ue()
	r.ue()
	end := r.pos
	if r.err != nil {
		return nil, fmt.Errorf("rewrite H.265 SPS: %w", r.err)
	}
	stop := len(r.buf)*8 - 1 // the RBSP stop bit: the last bit set
	for stop > end && r.buf[stop/8]>>(7-stop%8)&1 == 0 {
		stop--
	}
	var w bitWriter
	copyBits := func(from, to int) {
		for i := from; i < to; i++ {
			w.bit(r.buf[i/8]>>(7-i%8)&1 == 1)
		}
	}
	copyBits(0, start)
	w.ue(width)
	w.ue(height)
	copyBits(end, stop)
	w.trailing()
	return append([]byte{sps[0], sps[1]}, addEmulationPrevention(w.buf)...), nil
}

// RewriteH265SPSSize wraps an H.265 src so that every SPS declares width x height (RewriteH265Size).
func RewriteH265SPSSize(src Source, width, height uint32) Source {
	return &h265Resizer{src: src, w: width, h: height}
}

type h265Resizer struct {
	src  Source
	w, h uint32
}

func (r *h265Resizer) Next() (media.AccessUnit, error) {
	au, err := r.src.Next()
	if err != nil || au.Codec != media.CodecH265 {
		return au, err
	}
	out := make([][]byte, len(au.NALUs))
	for i, n := range au.NALUs {
		out[i] = n
		if len(n) > 1 && (n[0]>>1)&0x3f == 33 { // SPS_NUT
			b, err := RewriteH265Size(n, r.w, r.h)
			if err != nil {
				return au, err
			}
			out[i] = b
		}
	}
	au.NALUs = out
	return au, nil
}
