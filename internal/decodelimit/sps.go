package decodelimit

import (
	"errors"
	"fmt"
	"math"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/mvwatch/mvwatch/internal/media"
)

// maxSPSBytes bounds the SPS NAL units this package parses; real ones are tens of bytes, a few
// hundred with scaling lists.
const maxSPSBytes = 64 << 10

// errSPS is wrapped by the errors of ParseSPS.
var errSPS = errors.New("sps")

// SPS holds what the limits look at in a sequence parameter set.
type SPS struct {
	// Width and Height are the coded picture size in luma samples, before cropping: what the
	// decoder allocates (H.264: macroblocks x 16, doubled in height for field coding).
	Width, Height int64
	// RefFrames is H.264 max_num_ref_frames, or the largest H.265 sps_max_dec_pic_buffering_minus1+1.
	RefFrames int64
	// FPS is the frame rate the VUI timing declares, 0 when it declares none (or an absurd one).
	FPS float64
}

// ParseSPS reads an SPS NAL unit (header included) of codec.
func ParseSPS(codec media.Codec, nalu []byte) (SPS, error) {
	if len(nalu) > maxSPSBytes {
		return SPS{}, fmt.Errorf("%w: %d bytes, more than %d", errSPS, len(nalu), maxSPSBytes)
	}
	switch codec {
	case media.CodecH264:
		return parseH264SPS(nalu)
	case media.CodecH265:
		return parseH265SPS(nalu)
	}
	return SPS{}, fmt.Errorf("%w: codec %q", errSPS, codec)
}

// saneFPS keeps a declared frame rate only when it is one a camera could have.
func saneFPS(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0.1 || f > 1000 {
		return 0
	}
	return f
}

// isHighProfile reports whether an H.264 profile_idc carries chroma_format_idc and the rest.
func isHighProfile(p uint32) bool {
	switch p {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		return true
	}
	return false
}

// parseH264SPS reads ITU-T H.264 7.3.2.1.1 up to frame_mbs_only_flag.
func parseH264SPS(nalu []byte) (SPS, error) {
	if len(nalu) < 4 || h264.NALUType(nalu[0]&0x1f) != h264.NALUTypeSPS {
		return SPS{}, fmt.Errorf("%w: not an H.264 SPS", errSPS)
	}
	r := bitReader{buf: h264.EmulationPreventionRemove(nalu[1:])}
	profile := r.u(8, "profile_idc")
	r.u(16, "constraint_flags_and_level_idc")
	r.ue("seq_parameter_set_id", 31)
	if isHighProfile(profile) {
		chroma := r.ue("chroma_format_idc", 3)
		if chroma == 3 {
			r.u(1, "separate_colour_plane_flag")
		}
		r.ue("bit_depth_luma_minus8", 6)
		r.ue("bit_depth_chroma_minus8", 6)
		r.u(1, "qpprime_y_zero_transform_bypass_flag")
		if r.u(1, "seq_scaling_matrix_present_flag") == 1 {
			n := 8
			if chroma == 3 {
				n = 12
			}
			for i := 0; i < n && r.err == nil; i++ {
				if r.u(1, "seq_scaling_list_present_flag") == 1 {
					size := 16
					if i >= 6 {
						size = 64
					}
					skipScalingList(&r, size)
				}
			}
		}
	}
	r.ue("log2_max_frame_num_minus4", 12)
	switch r.ue("pic_order_cnt_type", 2) {
	case 0:
		r.ue("log2_max_pic_order_cnt_lsb_minus4", 12)
	case 1:
		r.u(1, "delta_pic_order_always_zero_flag")
		r.se("offset_for_non_ref_pic")
		r.se("offset_for_top_to_bottom_field")
		n := r.ue("num_ref_frames_in_pic_order_cnt_cycle", 255)
		for i := uint32(0); i < n && r.err == nil; i++ {
			r.se("offset_for_ref_frame")
		}
	}
	refs := r.ue("max_num_ref_frames", math.MaxUint32)
	r.u(1, "gaps_in_frame_num_value_allowed_flag")
	w := r.ue("pic_width_in_mbs_minus1", math.MaxUint32)
	h := r.ue("pic_height_in_map_units_minus1", math.MaxUint32)
	frameMbsOnly := r.u(1, "frame_mbs_only_flag")
	if r.err != nil {
		return SPS{}, fmt.Errorf("%w: H.264: %w", errSPS, r.err)
	}
	s := SPS{Width: (int64(w) + 1) * 16, Height: (int64(h) + 1) * 16 * (2 - int64(frameMbsOnly)), RefFrames: int64(refs)}
	var full h264.SPS
	if full.Unmarshal(nalu) == nil {
		s.FPS = saneFPS(full.FPS())
	}
	return s, nil
}

// skipScalingList reads scaling_list() (H.264 7.3.2.1.1.1).
func skipScalingList(r *bitReader, size int) {
	last, next := int32(8), int32(8)
	for j := 0; j < size && r.err == nil; j++ {
		if next != 0 {
			delta := r.se("delta_scale")
			if delta < -128 || delta > 127 {
				r.fail("delta_scale", errRange)
				return
			}
			next = (last + delta + 256) % 256
		}
		if next != 0 {
			last = next
		}
	}
}

// parseH265SPS reads ITU-T H.265 7.3.2.2.1 up to the sub-layer ordering info.
func parseH265SPS(nalu []byte) (SPS, error) {
	if len(nalu) < 3 || h265.NALUType((nalu[0]>>1)&0x3f) != h265.NALUType_SPS_NUT {
		return SPS{}, fmt.Errorf("%w: not an H.265 SPS", errSPS)
	}
	if nalu[1]&0x07 == 0 {
		return SPS{}, fmt.Errorf("%w: H.265 nuh_temporal_id_plus1: %w", errSPS, errRange)
	}
	r := bitReader{buf: h264.EmulationPreventionRemove(nalu[2:])}
	r.u(4, "sps_video_parameter_set_id")
	maxSub := int(r.u(3, "sps_max_sub_layers_minus1"))
	if maxSub > 6 {
		r.fail("sps_max_sub_layers_minus1", errRange)
	}
	r.u(1, "sps_temporal_id_nesting_flag")
	// profile_tier_level(1, sps_max_sub_layers_minus1)
	r.skip(88, "general_profile")
	r.u(8, "general_level_idc")
	profilePresent := make([]bool, maxSub)
	levelPresent := make([]bool, maxSub)
	for i := 0; i < maxSub; i++ {
		profilePresent[i] = r.u(1, "sub_layer_profile_present_flag") == 1
		levelPresent[i] = r.u(1, "sub_layer_level_present_flag") == 1
	}
	if maxSub > 0 {
		r.skip(2*(8-maxSub), "reserved_zero_2bits")
	}
	for i := 0; i < maxSub; i++ {
		if profilePresent[i] {
			r.skip(88, "sub_layer_profile")
		}
		if levelPresent[i] {
			r.skip(8, "sub_layer_level_idc")
		}
	}
	r.ue("sps_seq_parameter_set_id", 15)
	if r.ue("chroma_format_idc", 3) == 3 {
		r.u(1, "separate_colour_plane_flag")
	}
	w := r.ue("pic_width_in_luma_samples", math.MaxUint32)
	h := r.ue("pic_height_in_luma_samples", math.MaxUint32)
	if r.u(1, "conformance_window_flag") == 1 {
		for _, f := range []string{"conf_win_left_offset", "conf_win_right_offset", "conf_win_top_offset", "conf_win_bottom_offset"} {
			r.ue(f, math.MaxUint32)
		}
	}
	r.ue("bit_depth_luma_minus8", 8)
	r.ue("bit_depth_chroma_minus8", 8)
	r.ue("log2_max_pic_order_cnt_lsb_minus4", 12)
	first := maxSub
	if r.u(1, "sps_sub_layer_ordering_info_present_flag") == 1 {
		first = 0
	}
	var dpb int64
	for i := first; i <= maxSub && r.err == nil; i++ {
		dpb = max(dpb, int64(r.ue("sps_max_dec_pic_buffering_minus1", math.MaxUint32))+1)
		r.ue("sps_max_num_reorder_pics", math.MaxUint32)
		r.ue("sps_max_latency_increase_plus1", math.MaxUint32)
	}
	if r.err != nil {
		return SPS{}, fmt.Errorf("%w: H.265: %w", errSPS, r.err)
	}
	s := SPS{Width: int64(w), Height: int64(h), RefFrames: dpb}
	var full h265.SPS
	if full.Unmarshal(nalu) == nil {
		s.FPS = saneFPS(full.FPS())
	}
	return s, nil
}
