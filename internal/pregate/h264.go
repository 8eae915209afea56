package pregate

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// sliceHeaderPrefix is how many bytes of a slice NAL unit get emulation prevention removed before
// the header parse; a header that needs more (long reference list modifications or weight tables)
// is parsed again from the whole NAL unit.
const sliceHeaderPrefix = 512

// H264PPS holds the fields of an H.264 picture parameter set that a slice header parse up to
// slice_qp_delta needs (ITU-T H.264 7.3.2.2, up to redundant_pic_cnt_present_flag).
//
// mediacommon parses the H.264 SPS (used here) but has no H.264 PPS parser, hence this one.
type H264PPS struct {
	ID                                    uint32
	SPSID                                 uint32
	EntropyCodingModeFlag                 bool
	BottomFieldPicOrderInFramePresentFlag bool
	NumSliceGroupsMinus1                  uint32
	NumRefIdxL0DefaultActiveMinus1        uint32
	NumRefIdxL1DefaultActiveMinus1        uint32
	WeightedPredFlag                      bool
	WeightedBipredIdc                     uint32
	PicInitQPMinus26                      int32
	PicInitQSMinus26                      int32
	ChromaQPIndexOffset                   int32
	DeblockingFilterControlPresentFlag    bool
	ConstrainedIntraPredFlag              bool
	RedundantPicCntPresentFlag            bool
}

// Unmarshal parses a PPS NAL unit (header byte included).
func (p *H264PPS) Unmarshal(nalu []byte) error {
	if len(nalu) < 2 {
		return fmt.Errorf("%w: H.264 PPS of %d bytes", ErrCorrupt, len(nalu))
	}
	if h264.NALUType(nalu[0]&0x1f) != h264.NALUTypePPS {
		return fmt.Errorf("%w: NAL unit type %d is not an H.264 PPS", ErrCorrupt, nalu[0]&0x1f)
	}
	r := bitReader{buf: h264.EmulationPreventionRemove(nalu[1:])}
	*p = H264PPS{}
	p.ID = r.ue("pic_parameter_set_id", 255)
	p.SPSID = r.ue("seq_parameter_set_id", 31)
	p.EntropyCodingModeFlag = r.flag("entropy_coding_mode_flag")
	p.BottomFieldPicOrderInFramePresentFlag = r.flag("bottom_field_pic_order_in_frame_present_flag")
	p.NumSliceGroupsMinus1 = r.ue("num_slice_groups_minus1", 7)
	if p.NumSliceGroupsMinus1 > 0 {
		mapType := r.ue("slice_group_map_type", 6)
		switch mapType {
		case 0:
			for i := uint32(0); i <= p.NumSliceGroupsMinus1 && r.err == nil; i++ {
				r.ue("run_length_minus1", 1<<20)
			}
		case 2:
			for i := uint32(0); i < p.NumSliceGroupsMinus1 && r.err == nil; i++ {
				r.ue("top_left", 1<<20)
				r.ue("bottom_right", 1<<20)
			}
		case 3, 4, 5:
			r.flag("slice_group_change_direction_flag")
			r.ue("slice_group_change_rate_minus1", 1<<20)
		case 6:
			n := r.ue("pic_size_in_map_units_minus1", 1<<20)
			w := ceilLog2(p.NumSliceGroupsMinus1 + 1)
			for i := uint32(0); i <= n && r.err == nil; i++ {
				r.skip(w, "slice_group_id")
			}
		}
	}
	p.NumRefIdxL0DefaultActiveMinus1 = r.ue("num_ref_idx_l0_default_active_minus1", 31)
	p.NumRefIdxL1DefaultActiveMinus1 = r.ue("num_ref_idx_l1_default_active_minus1", 31)
	p.WeightedPredFlag = r.flag("weighted_pred_flag")
	p.WeightedBipredIdc = r.u(2, "weighted_bipred_idc")
	// The lower bound depends on the SPS bit depth (-(26 + QpBdOffsetY)); the slice QP check
	// applies the exact one.
	p.PicInitQPMinus26 = r.se("pic_init_qp_minus26", -26-6*8, 25)
	p.PicInitQSMinus26 = r.se("pic_init_qs_minus26", -26, 25)
	p.ChromaQPIndexOffset = r.se("chroma_qp_index_offset", -12, 12)
	p.DeblockingFilterControlPresentFlag = r.flag("deblocking_filter_control_present_flag")
	p.ConstrainedIntraPredFlag = r.flag("constrained_intra_pred_flag")
	p.RedundantPicCntPresentFlag = r.flag("redundant_pic_cnt_present_flag")
	if r.err == nil && p.WeightedBipredIdc > 2 {
		return fmt.Errorf("%w: H.264 PPS weighted_bipred_idc %d", ErrCorrupt, p.WeightedBipredIdc)
	}
	if r.err != nil {
		return fmt.Errorf("H.264 PPS: %w", r.err)
	}
	return nil
}

// H264SliceHeader holds an H.264 slice header up to slice_qp_delta (ITU-T H.264 7.3.3).
type H264SliceHeader struct {
	NALRefIdc      uint8
	IDR            bool
	FirstMBInSlice uint32
	// SliceType is slice_type modulo 5: 0 P, 1 B, 2 I, 3 SP, 4 SI.
	SliceType             uint32
	PPSID                 uint32
	FrameNum              uint32
	FieldPic              bool
	BottomField           bool
	IDRPicID              uint32
	PicOrderCntLsb        uint32
	NumRefIdxL0ActiveMin1 uint32
	NumRefIdxL1ActiveMin1 uint32
	SliceQPDelta          int32
	// SliceQP is SliceQPY = 26 + pic_init_qp_minus26 + slice_qp_delta.
	SliceQP int

	lumaSamples int
}

// PictureType maps the slice type to I, P (SP counts as P) or B (SI counts as I).
func (h *H264SliceHeader) PictureType() PictureType {
	switch h.SliceType {
	case 0, 3:
		return PictureP
	case 1:
		return PictureB
	default:
		return PictureI
	}
}

// H264Parser keeps the parameter sets of one H.264 stream and parses its access units. It is not
// safe for concurrent use; each camera owns one.
type H264Parser struct {
	sps map[uint32]*h264.SPS
	pps map[uint32]*H264PPS
}

// NewH264Parser returns a parser with no parameter sets.
func NewH264Parser() *H264Parser {
	return &H264Parser{sps: map[uint32]*h264.SPS{}, pps: map[uint32]*H264PPS{}}
}

// mediacommonErr classifies an error of a mediacommon parser: its "not supported" errors become
// ErrUnsupported, everything else ErrCorrupt.
func mediacommonErr(what string, err error) error {
	if strings.Contains(err.Error(), "not supported") {
		return fmt.Errorf("%w: %s: %w", ErrUnsupported, what, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrCorrupt, what, err)
}

// AccessUnit parses the NAL units (without start codes) of one access unit: parameter sets update
// the parser's state, slices are parsed up to slice_qp_delta and merged into the Picture.
func (p *H264Parser) AccessUnit(nalus [][]byte) (Picture, error) {
	pic := Picture{Codec: CodecH264}
	for _, nalu := range nalus {
		if len(nalu) == 0 {
			continue
		}
		switch typ := h264.NALUType(nalu[0] & 0x1f); typ {
		case h264.NALUTypeSPS:
			var sps h264.SPS
			if err := sps.Unmarshal(nalu); err != nil {
				return pic, mediacommonErr("H.264 SPS", err)
			}
			p.sps[sps.ID] = &sps
		case h264.NALUTypePPS:
			var pps H264PPS
			if err := pps.Unmarshal(nalu); err != nil {
				return pic, err
			}
			p.pps[pps.ID] = &pps
		case h264.NALUTypeNonIDR, h264.NALUTypeIDR:
			h, err := p.SliceHeader(nalu)
			if err != nil {
				return pic, err
			}
			if pic.Slices == 0 {
				pic.FrameNum = h.FrameNum
				pic.IDRPicID = h.IDRPicID
				pic.POCLsb = h.PicOrderCntLsb
			}
			pic.LumaSamples = h.lumaSamples
			pic.IDR = pic.IDR || h.IDR
			pic.Reference = pic.Reference || h.NALRefIdc != 0
			pic.addSlice(h.PictureType(), h.SliceQP, len(nalu))
		case h264.NALUTypeDataPartitionA, h264.NALUTypeDataPartitionB, h264.NALUTypeDataPartitionC:
			return pic, fmt.Errorf("%w: H.264 data partitioning (NAL unit type %d)", ErrUnsupported, typ)
		}
		// Other types (SEI, AUD, end of sequence, prefix and extension NAL units of SVC/MVC,
		// which a base-layer decoder ignores) carry nothing for the gate.
	}
	if pic.Slices == 0 {
		return pic, ErrNoSlice
	}
	return pic, nil
}

// SliceHeader parses the header of a slice NAL unit (type 1 or 5) against the stored parameter
// sets.
func (p *H264Parser) SliceHeader(nalu []byte) (H264SliceHeader, error) {
	h, err := p.sliceHeader(nalu, sliceHeaderPrefix)
	if err != nil && len(nalu) > sliceHeaderPrefix+1 && errors.Is(err, ErrCorrupt) {
		h, err = p.sliceHeader(nalu, len(nalu))
	}
	return h, err
}

func (p *H264Parser) sliceHeader(nalu []byte, prefix int) (H264SliceHeader, error) {
	var h H264SliceHeader
	if len(nalu) < 2 {
		return h, fmt.Errorf("%w: H.264 slice of %d bytes", ErrCorrupt, len(nalu))
	}
	h.NALRefIdc = (nalu[0] >> 5) & 0x03
	typ := h264.NALUType(nalu[0] & 0x1f)
	h.IDR = typ == h264.NALUTypeIDR
	end := min(len(nalu), prefix+1)
	r := bitReader{buf: h264.EmulationPreventionRemove(nalu[1:end])}

	h.FirstMBInSlice = r.ue("first_mb_in_slice", 1<<22)
	sliceType := r.ue("slice_type", 9)
	h.SliceType = sliceType % 5
	h.PPSID = r.ue("pic_parameter_set_id", 255)
	if r.err != nil {
		return h, fmt.Errorf("H.264 slice header: %w", r.err)
	}
	pps, ok := p.pps[h.PPSID]
	if !ok {
		return h, fmt.Errorf("%w: H.264 PPS %d", ErrMissingParameterSet, h.PPSID)
	}
	sps, ok := p.sps[pps.SPSID]
	if !ok {
		return h, fmt.Errorf("%w: H.264 SPS %d", ErrMissingParameterSet, pps.SPSID)
	}
	if h.IDR && h.SliceType != 2 && h.SliceType != 4 {
		return h, fmt.Errorf("%w: H.264 IDR slice of type %d", ErrCorrupt, sliceType)
	}
	h.lumaSamples = int(sps.PicWidthInMbsMinus1+1) * 16 * int(sps.PicHeightInMapUnitsMinus1+1) * 16
	if !sps.FrameMbsOnlyFlag {
		h.lumaSamples *= 2
	}
	isP := h.SliceType == 0 || h.SliceType == 3
	isB := h.SliceType == 1
	isIntra := h.SliceType == 2 || h.SliceType == 4

	if sps.SeparateColourPlaneFlag {
		r.skip(2, "colour_plane_id")
	}
	h.FrameNum = r.u(int(sps.Log2MaxFrameNumMinus4)+4, "frame_num")
	if !sps.FrameMbsOnlyFlag {
		h.FieldPic = r.flag("field_pic_flag")
		if h.FieldPic {
			h.BottomField = r.flag("bottom_field_flag")
		}
	}
	if h.IDR {
		h.IDRPicID = r.ue("idr_pic_id", 65535)
	}
	switch sps.PicOrderCntType {
	case 0:
		h.PicOrderCntLsb = r.u(int(sps.Log2MaxPicOrderCntLsbMinus4)+4, "pic_order_cnt_lsb")
		if pps.BottomFieldPicOrderInFramePresentFlag && !h.FieldPic {
			r.se("delta_pic_order_cnt_bottom", math.MinInt32+1, math.MaxInt32)
		}
	case 1:
		if !sps.DeltaPicOrderAlwaysZeroFlag {
			r.se("delta_pic_order_cnt[0]", math.MinInt32+1, math.MaxInt32)
			if pps.BottomFieldPicOrderInFramePresentFlag && !h.FieldPic {
				r.se("delta_pic_order_cnt[1]", math.MinInt32+1, math.MaxInt32)
			}
		}
	}
	if pps.RedundantPicCntPresentFlag {
		r.ue("redundant_pic_cnt", 127)
	}
	if isB {
		r.flag("direct_spatial_mv_pred_flag")
	}
	h.NumRefIdxL0ActiveMin1 = pps.NumRefIdxL0DefaultActiveMinus1
	h.NumRefIdxL1ActiveMin1 = pps.NumRefIdxL1DefaultActiveMinus1
	if isP || isB {
		if r.flag("num_ref_idx_active_override_flag") {
			h.NumRefIdxL0ActiveMin1 = r.ue("num_ref_idx_l0_active_minus1", 31)
			if isB {
				h.NumRefIdxL1ActiveMin1 = r.ue("num_ref_idx_l1_active_minus1", 31)
			}
		}
	}
	// ref_pic_list_modification (7.3.3.1); types 20/21 (MVC) never reach here.
	if !isIntra {
		h264RefPicListModification(&r)
		if isB {
			h264RefPicListModification(&r)
		}
	}
	if (pps.WeightedPredFlag && isP) || (pps.WeightedBipredIdc == 1 && isB) {
		h264PredWeightTable(&r, h264ChromaArrayType(sps), h.NumRefIdxL0ActiveMin1,
			h.NumRefIdxL1ActiveMin1, isB)
	}
	if h.NALRefIdc != 0 {
		h264DecRefPicMarking(&r, h.IDR)
	}
	if pps.EntropyCodingModeFlag && !isIntra {
		r.ue("cabac_init_idc", 2)
	}
	h.SliceQPDelta = r.se("slice_qp_delta", -87, 77)
	if r.err != nil {
		return h, fmt.Errorf("H.264 slice header: %w", r.err)
	}
	h.SliceQP = 26 + int(pps.PicInitQPMinus26) + int(h.SliceQPDelta)
	qpBdOffset := 6 * int(sps.BitDepthLumaMinus8)
	if h.SliceQP < -qpBdOffset || h.SliceQP > 51 {
		return h, fmt.Errorf("%w: H.264 slice QP %d outside [%d, 51]", ErrCorrupt, h.SliceQP, -qpBdOffset)
	}
	return h, nil
}

// maxListOps bounds the do-while loops of reference list modification and memory management
// control operations; a real stream needs at most a few dozen.
const maxListOps = 100

func h264RefPicListModification(r *bitReader) {
	if !r.flag("ref_pic_list_modification_flag") {
		return
	}
	for i := 0; r.err == nil; i++ {
		if i >= maxListOps {
			r.fail("ref_pic_list_modification", fmt.Errorf("more than %d operations", maxListOps))
			return
		}
		idc := r.ue("modification_of_pic_nums_idc", 5)
		switch idc {
		case 0, 1:
			r.ue("abs_diff_pic_num_minus1", 1<<17)
		case 2:
			r.ue("long_term_pic_num", 1<<17)
		case 3:
			return
		default:
			// 4 and 5 belong to the MVC extension.
			r.fail("modification_of_pic_nums_idc", fmt.Errorf("value %d outside a base-layer slice", idc))
			return
		}
	}
}

func h264PredWeightTable(r *bitReader, chromaArrayType uint32, l0, l1 uint32, isB bool) {
	r.ue("luma_log2_weight_denom", 7)
	if chromaArrayType != 0 {
		r.ue("chroma_log2_weight_denom", 7)
	}
	lists := []uint32{l0}
	if isB {
		lists = append(lists, l1)
	}
	for _, n := range lists {
		for i := uint32(0); i <= n && r.err == nil; i++ {
			if r.flag("luma_weight_flag") {
				r.se("luma_weight", -128, 127)
				r.se("luma_offset", -128, 127)
			}
			if chromaArrayType != 0 && r.flag("chroma_weight_flag") {
				for j := 0; j < 2; j++ {
					r.se("chroma_weight", -128, 127)
					r.se("chroma_offset", -128, 127)
				}
			}
		}
	}
}

func h264DecRefPicMarking(r *bitReader, idr bool) {
	if idr {
		r.flag("no_output_of_prior_pics_flag")
		r.flag("long_term_reference_flag")
		return
	}
	if !r.flag("adaptive_ref_pic_marking_mode_flag") {
		return
	}
	for i := 0; r.err == nil; i++ {
		if i >= maxListOps {
			r.fail("dec_ref_pic_marking", fmt.Errorf("more than %d operations", maxListOps))
			return
		}
		mmco := r.ue("memory_management_control_operation", 6)
		if mmco == 0 {
			return
		}
		if mmco == 1 || mmco == 3 {
			r.ue("difference_of_pic_nums_minus1", 1<<17)
		}
		if mmco == 2 {
			r.ue("long_term_pic_num", 1<<17)
		}
		if mmco == 3 || mmco == 6 {
			r.ue("long_term_frame_idx", 1<<16)
		}
		if mmco == 4 {
			r.ue("max_long_term_frame_idx_plus1", 1<<16)
		}
	}
}

// h264ChromaArrayType returns ChromaArrayType. mediacommon leaves ChromaFormatIdc at zero for
// profiles that do not code it, where the standard infers 1 (4:2:0).
func h264ChromaArrayType(sps *h264.SPS) uint32 {
	if sps.SeparateColourPlaneFlag {
		return 0
	}
	switch sps.ProfileIdc {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		return sps.ChromaFormatIdc
	default:
		return 1
	}
}
