package pregate

import (
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// H265PPS holds the fields of an H.265 picture parameter set that a slice segment header parse up
// to slice_qp_delta needs (ITU-T H.265 7.3.2.3.1, up to slice_segment_header_extension_present_flag).
//
// mediacommon's h265.PPS stops after num_extra_slice_header_bits; the slice QP needs init_qp_minus26
// and the header walk needs cabac_init_present_flag, the reference index defaults, the weighted
// prediction flags and lists_modification_present_flag, which come later (after the tile and
// scaling list syntax), hence this parser.
type H265PPS struct {
	ID                                uint32
	SPSID                             uint32
	DependentSliceSegmentsEnabledFlag bool
	OutputFlagPresentFlag             bool
	NumExtraSliceHeaderBits           uint32
	SignDataHidingEnabledFlag         bool
	CabacInitPresentFlag              bool
	NumRefIdxL0DefaultActiveMinus1    uint32
	NumRefIdxL1DefaultActiveMinus1    uint32
	InitQPMinus26                     int32
	CuQPDeltaEnabledFlag              bool
	WeightedPredFlag                  bool
	WeightedBipredFlag                bool
	TilesEnabledFlag                  bool
	EntropyCodingSyncEnabledFlag      bool
	DeblockingFilterOverrideEnabled   bool
	ListsModificationPresentFlag      bool
	Log2ParallelMergeLevelMinus2      uint32
	SliceSegmentHeaderExtensionFlag   bool
}

// Unmarshal parses a PPS NAL unit (both header bytes included).
func (p *H265PPS) Unmarshal(nalu []byte) error {
	if len(nalu) < 3 {
		return fmt.Errorf("%w: H.265 PPS of %d bytes", ErrCorrupt, len(nalu))
	}
	if h265.NALUType((nalu[0]>>1)&0x3f) != h265.NALUType_PPS_NUT {
		return fmt.Errorf("%w: NAL unit type %d is not an H.265 PPS", ErrCorrupt, (nalu[0]>>1)&0x3f)
	}
	r := bitReader{buf: h264.EmulationPreventionRemove(nalu[2:])}
	*p = H265PPS{}
	p.ID = r.ue("pps_pic_parameter_set_id", 63)
	p.SPSID = r.ue("pps_seq_parameter_set_id", 15)
	p.DependentSliceSegmentsEnabledFlag = r.flag("dependent_slice_segments_enabled_flag")
	p.OutputFlagPresentFlag = r.flag("output_flag_present_flag")
	p.NumExtraSliceHeaderBits = r.u(3, "num_extra_slice_header_bits")
	p.SignDataHidingEnabledFlag = r.flag("sign_data_hiding_enabled_flag")
	p.CabacInitPresentFlag = r.flag("cabac_init_present_flag")
	p.NumRefIdxL0DefaultActiveMinus1 = r.ue("num_ref_idx_l0_default_active_minus1", 14)
	p.NumRefIdxL1DefaultActiveMinus1 = r.ue("num_ref_idx_l1_default_active_minus1", 14)
	p.InitQPMinus26 = r.se("init_qp_minus26", -26-6*8, 25)
	r.flag("constrained_intra_pred_flag")
	r.flag("transform_skip_enabled_flag")
	p.CuQPDeltaEnabledFlag = r.flag("cu_qp_delta_enabled_flag")
	if p.CuQPDeltaEnabledFlag {
		r.ue("diff_cu_qp_delta_depth", 6)
	}
	r.se("pps_cb_qp_offset", -12, 12)
	r.se("pps_cr_qp_offset", -12, 12)
	r.flag("pps_slice_chroma_qp_offsets_present_flag")
	p.WeightedPredFlag = r.flag("weighted_pred_flag")
	p.WeightedBipredFlag = r.flag("weighted_bipred_flag")
	r.flag("transquant_bypass_enabled_flag")
	p.TilesEnabledFlag = r.flag("tiles_enabled_flag")
	p.EntropyCodingSyncEnabledFlag = r.flag("entropy_coding_sync_enabled_flag")
	if p.TilesEnabledFlag {
		cols := r.ue("num_tile_columns_minus1", 1<<10)
		rows := r.ue("num_tile_rows_minus1", 1<<10)
		if !r.flag("uniform_spacing_flag") {
			for i := uint32(0); i < cols && r.err == nil; i++ {
				r.ue("column_width_minus1", 1<<16)
			}
			for i := uint32(0); i < rows && r.err == nil; i++ {
				r.ue("row_height_minus1", 1<<16)
			}
		}
		r.flag("loop_filter_across_tiles_enabled_flag")
	}
	r.flag("pps_loop_filter_across_slices_enabled_flag")
	if r.flag("deblocking_filter_control_present_flag") {
		p.DeblockingFilterOverrideEnabled = r.flag("deblocking_filter_override_enabled_flag")
		if !r.flag("pps_deblocking_filter_disabled_flag") {
			r.se("pps_beta_offset_div2", -6, 6)
			r.se("pps_tc_offset_div2", -6, 6)
		}
	}
	if r.flag("pps_scaling_list_data_present_flag") {
		h265SkipScalingListData(&r)
	}
	p.ListsModificationPresentFlag = r.flag("lists_modification_present_flag")
	p.Log2ParallelMergeLevelMinus2 = r.ue("log2_parallel_merge_level_minus2", 4)
	p.SliceSegmentHeaderExtensionFlag = r.flag("slice_segment_header_extension_present_flag")
	if r.err != nil {
		return fmt.Errorf("H.265 PPS: %w", r.err)
	}
	return nil
}

// h265SkipScalingListData walks scaling_list_data() (7.3.4); mediacommon's SPS parser has one but
// does not export it.
func h265SkipScalingListData(r *bitReader) {
	for sizeID := 0; sizeID < 4; sizeID++ {
		step := 1
		if sizeID == 3 {
			step = 3
		}
		for matrixID := 0; matrixID < 6 && r.err == nil; matrixID += step {
			if !r.flag("scaling_list_pred_mode_flag") {
				r.ue("scaling_list_pred_matrix_id_delta", 5)
				continue
			}
			coefNum := min(64, 1<<(4+(sizeID<<1)))
			if sizeID > 1 {
				r.se("scaling_list_dc_coef_minus8", -7, 247)
			}
			for i := 0; i < coefNum && r.err == nil; i++ {
				r.se("scaling_list_delta_coef", -128, 127)
			}
		}
	}
}

// H265SliceHeader holds an H.265 slice segment header up to slice_qp_delta (ITU-T H.265 7.3.6.1).
type H265SliceHeader struct {
	NALType                   h265.NALUType
	FirstSliceSegmentInPic    bool
	PPSID                     uint32
	DependentSliceSegment     bool
	SliceSegmentAddress       uint32
	SliceType                 uint32 // 0 B, 1 P, 2 I
	PicOrderCntLsb            uint32
	NumPicTotalCurr           int
	NumRefIdxL0ActiveMinus1   uint32
	NumRefIdxL1ActiveMinus1   uint32
	SliceTemporalMvpEnabled   bool
	SliceQPDelta              int32
	SliceQP                   int
	shortTermRefPicSetSPSUsed bool
	lumaSamples               int
}

// PictureType maps slice_type to I, P or B.
func (h *H265SliceHeader) PictureType() PictureType {
	switch h.SliceType {
	case 0:
		return PictureB
	case 1:
		return PictureP
	default:
		return PictureI
	}
}

// H265Parser keeps the parameter sets of one H.265 stream and parses its access units. It is not
// safe for concurrent use; each camera owns one.
type H265Parser struct {
	sps map[uint32]*h265.SPS
	pps map[uint32]*H265PPS
}

// NewH265Parser returns a parser with no parameter sets.
func NewH265Parser() *H265Parser {
	return &H265Parser{sps: map[uint32]*h265.SPS{}, pps: map[uint32]*H265PPS{}}
}

// AccessUnit parses the NAL units (without start codes) of one access unit. NAL units of layers
// above the base layer are ignored. Dependent slice segments inherit the QP of their independent
// segment and add their size to it.
func (p *H265Parser) AccessUnit(nalus [][]byte) (Picture, error) {
	pic := Picture{Codec: CodecH265}
	lastQP, lastType := 0, PictureUnknown
	for _, nalu := range nalus {
		if len(nalu) < 2 {
			if len(nalu) == 1 {
				return pic, fmt.Errorf("%w: H.265 NAL unit of 1 byte", ErrCorrupt)
			}
			continue
		}
		if layer := (nalu[0]&1)<<5 | nalu[1]>>3; layer != 0 {
			continue
		}
		typ := h265.NALUType((nalu[0] >> 1) & 0x3f)
		switch {
		case typ == h265.NALUType_SPS_NUT:
			var sps h265.SPS
			if err := sps.Unmarshal(nalu); err != nil {
				return pic, mediacommonErr("H.265 SPS", err)
			}
			p.sps[uint32(sps.ID)] = &sps
		case typ == h265.NALUType_PPS_NUT:
			var pps H265PPS
			if err := pps.Unmarshal(nalu); err != nil {
				return pic, err
			}
			p.pps[pps.ID] = &pps
		case typ <= h265.NALUType_RASL_R || (typ >= h265.NALUType_BLA_W_LP && typ <= h265.NALUType_CRA_NUT):
			h, err := p.SliceHeader(nalu)
			if err != nil {
				return pic, err
			}
			if h.DependentSliceSegment {
				if pic.Slices == 0 {
					return pic, fmt.Errorf("%w: H.265 dependent slice segment first in the picture", ErrCorrupt)
				}
				pic.addSlice(lastType, lastQP, len(nalu))
				pic.Slices--
				continue
			}
			if pic.Slices == 0 {
				pic.POCLsb = h.PicOrderCntLsb
			}
			pic.LumaSamples = h.lumaSamples
			pic.IDR = pic.IDR || typ >= h265.NALUType_BLA_W_LP
			pic.Reference = pic.Reference || typ >= 16 || typ%2 != 0
			lastQP, lastType = h.SliceQP, h.PictureType()
			pic.addSlice(lastType, lastQP, len(nalu))
		case typ <= 31:
			return pic, fmt.Errorf("%w: reserved H.265 VCL NAL unit type %d", ErrUnsupported, typ)
		}
	}
	if pic.Slices == 0 {
		return pic, ErrNoSlice
	}
	return pic, nil
}

// SliceHeader parses the header of a slice segment NAL unit against the stored parameter sets.
func (p *H265Parser) SliceHeader(nalu []byte) (H265SliceHeader, error) {
	h, err := p.sliceHeader(nalu, sliceHeaderPrefix)
	if err != nil && len(nalu) > sliceHeaderPrefix+2 && errors.Is(err, ErrCorrupt) {
		h, err = p.sliceHeader(nalu, len(nalu))
	}
	return h, err
}

func (p *H265Parser) sliceHeader(nalu []byte, prefix int) (H265SliceHeader, error) {
	var h H265SliceHeader
	if len(nalu) < 3 {
		return h, fmt.Errorf("%w: H.265 slice of %d bytes", ErrCorrupt, len(nalu))
	}
	h.NALType = h265.NALUType((nalu[0] >> 1) & 0x3f)
	end := min(len(nalu), prefix+2)
	r := bitReader{buf: h264.EmulationPreventionRemove(nalu[2:end])}
	irap := h.NALType >= h265.NALUType_BLA_W_LP && h.NALType <= h265.NALUType_RSV_IRAP_VCL23
	idr := h.NALType == h265.NALUType_IDR_W_RADL || h.NALType == h265.NALUType_IDR_N_LP

	h.FirstSliceSegmentInPic = r.flag("first_slice_segment_in_pic_flag")
	if irap {
		r.flag("no_output_of_prior_pics_flag")
	}
	h.PPSID = r.ue("slice_pic_parameter_set_id", 63)
	if r.err != nil {
		return h, fmt.Errorf("H.265 slice header: %w", r.err)
	}
	pps, ok := p.pps[h.PPSID]
	if !ok {
		return h, fmt.Errorf("%w: H.265 PPS %d", ErrMissingParameterSet, h.PPSID)
	}
	sps, ok := p.sps[pps.SPSID]
	if !ok {
		return h, fmt.Errorf("%w: H.265 SPS %d", ErrMissingParameterSet, pps.SPSID)
	}
	h.lumaSamples = int(sps.PicWidthInLumaSamples) * int(sps.PicHeightInLumaSamples)
	if !h.FirstSliceSegmentInPic {
		if pps.DependentSliceSegmentsEnabledFlag {
			h.DependentSliceSegment = r.flag("dependent_slice_segment_flag")
		}
		ctbLog2 := sps.Log2MinLumaCodingBlockSizeMinus3 + 3 + sps.Log2DiffMaxMinLumaCodingBlockSize
		if ctbLog2 > 6 {
			return h, fmt.Errorf("%w: H.265 CTB size 2^%d", ErrCorrupt, ctbLog2)
		}
		ctb := uint32(1) << ctbLog2
		w := (sps.PicWidthInLumaSamples + ctb - 1) / ctb
		hgt := (sps.PicHeightInLumaSamples + ctb - 1) / ctb
		h.SliceSegmentAddress = r.u(ceilLog2(w*hgt), "slice_segment_address")
	}
	if h.DependentSliceSegment {
		if r.err != nil {
			return h, fmt.Errorf("H.265 slice header: %w", r.err)
		}
		return h, nil
	}
	r.skip(int(pps.NumExtraSliceHeaderBits), "slice_reserved_flag")
	h.SliceType = r.ue("slice_type", 2)
	if pps.OutputFlagPresentFlag {
		r.flag("pic_output_flag")
	}
	if sps.SeparateColourPlaneFlag {
		r.skip(2, "colour_plane_id")
	}
	if !idr {
		h.PicOrderCntLsb = r.u(int(sps.Log2MaxPicOrderCntLsbMinus4)+4, "slice_pic_order_cnt_lsb")
		var rps *h265.SPS_ShortTermRefPicSet
		numSets := uint32(len(sps.ShortTermRefPicSets))
		if !r.flag("short_term_ref_pic_set_sps_flag") {
			rps = h265SliceShortTermRefPicSet(&r, numSets, sps.ShortTermRefPicSets)
		} else {
			h.shortTermRefPicSetSPSUsed = true
			if numSets == 0 {
				return h, fmt.Errorf("%w: H.265 slice uses an SPS short-term RPS but the SPS has none", ErrCorrupt)
			}
			idx := r.u(ceilLog2(numSets), "short_term_ref_pic_set_idx")
			if idx >= numSets {
				return h, fmt.Errorf("%w: H.265 short_term_ref_pic_set_idx %d of %d", ErrCorrupt, idx, numSets)
			}
			rps = sps.ShortTermRefPicSets[idx]
		}
		if rps != nil {
			for _, used := range rps.UsedByCurrPicS0Flag {
				if used {
					h.NumPicTotalCurr++
				}
			}
			for _, used := range rps.UsedByCurrPicS1Flag {
				if used {
					h.NumPicTotalCurr++
				}
			}
		}
		if sps.LongTermRefPicsPresentFlag {
			// mediacommon rejects an SPS with num_long_term_ref_pics_sps > 0, so num_long_term_sps
			// is absent and every long-term picture is coded in the slice.
			n := r.ue("num_long_term_pics", 32)
			for i := uint32(0); i < n && r.err == nil; i++ {
				r.skip(int(sps.Log2MaxPicOrderCntLsbMinus4)+4, "poc_lsb_lt")
				if r.flag("used_by_curr_pic_lt_flag") {
					h.NumPicTotalCurr++
				}
				if r.flag("delta_poc_msb_present_flag") {
					r.ue("delta_poc_msb_cycle_lt", 1<<24)
				}
			}
		}
		if sps.TemporalMvpEnabledFlag {
			h.SliceTemporalMvpEnabled = r.flag("slice_temporal_mvp_enabled_flag")
		}
	}
	chromaArrayType := sps.ChromaFormatIdc
	if sps.SeparateColourPlaneFlag {
		chromaArrayType = 0
	}
	if sps.SampleAdaptiveOffsetEnabledFlag {
		r.flag("slice_sao_luma_flag")
		if chromaArrayType != 0 {
			r.flag("slice_sao_chroma_flag")
		}
	}
	isB := h.SliceType == 0
	if h.SliceType != 2 {
		if r.err == nil && h.NumPicTotalCurr == 0 {
			return h, fmt.Errorf("%w: H.265 inter slice without reference pictures", ErrCorrupt)
		}
		h.NumRefIdxL0ActiveMinus1 = pps.NumRefIdxL0DefaultActiveMinus1
		h.NumRefIdxL1ActiveMinus1 = pps.NumRefIdxL1DefaultActiveMinus1
		if r.flag("num_ref_idx_active_override_flag") {
			h.NumRefIdxL0ActiveMinus1 = r.ue("num_ref_idx_l0_active_minus1", 14)
			if isB {
				h.NumRefIdxL1ActiveMinus1 = r.ue("num_ref_idx_l1_active_minus1", 14)
			}
		}
		if pps.ListsModificationPresentFlag && h.NumPicTotalCurr > 1 {
			w := ceilLog2(uint32(h.NumPicTotalCurr))
			if r.flag("ref_pic_list_modification_flag_l0") {
				r.skip(w*int(h.NumRefIdxL0ActiveMinus1+1), "list_entry_l0")
			}
			if isB && r.flag("ref_pic_list_modification_flag_l1") {
				r.skip(w*int(h.NumRefIdxL1ActiveMinus1+1), "list_entry_l1")
			}
		}
		if isB {
			r.flag("mvd_l1_zero_flag")
		}
		if pps.CabacInitPresentFlag {
			r.flag("cabac_init_flag")
		}
		if h.SliceTemporalMvpEnabled {
			collocatedFromL0 := true
			if isB {
				collocatedFromL0 = r.flag("collocated_from_l0_flag")
			}
			if (collocatedFromL0 && h.NumRefIdxL0ActiveMinus1 > 0) ||
				(!collocatedFromL0 && h.NumRefIdxL1ActiveMinus1 > 0) {
				r.ue("collocated_ref_idx", 14)
			}
		}
		if (pps.WeightedPredFlag && h.SliceType == 1) || (pps.WeightedBipredFlag && isB) {
			h265PredWeightTable(&r, chromaArrayType, h.NumRefIdxL0ActiveMinus1, h.NumRefIdxL1ActiveMinus1, isB)
		}
		r.ue("five_minus_max_num_merge_cand", 4)
	}
	h.SliceQPDelta = r.se("slice_qp_delta", -87, 77)
	if r.err != nil {
		return h, fmt.Errorf("H.265 slice header: %w", r.err)
	}
	h.SliceQP = 26 + int(pps.InitQPMinus26) + int(h.SliceQPDelta)
	qpBdOffset := 6 * int(sps.BitDepthLumaMinus8)
	if h.SliceQP < -qpBdOffset || h.SliceQP > 51 {
		return h, fmt.Errorf("%w: H.265 slice QP %d outside [%d, 51]", ErrCorrupt, h.SliceQP, -qpBdOffset)
	}
	return h, nil
}

// h265SliceShortTermRefPicSet parses st_ref_pic_set(num_short_term_ref_pic_sets) in a slice header
// (7.3.7, derivation 7.4.8). mediacommon implements the same syntax for the SPS but does not export
// it. Only the used-by-current-picture flags matter here (NumPicTotalCurr).
func h265SliceShortTermRefPicSet(r *bitReader, numSets uint32, sets []*h265.SPS_ShortTermRefPicSet) *h265.SPS_ShortTermRefPicSet {
	rps := &h265.SPS_ShortTermRefPicSet{}
	if numSets != 0 {
		rps.InterRefPicSetPredictionFlag = r.flag("inter_ref_pic_set_prediction_flag")
	}
	if !rps.InterRefPicSetPredictionFlag {
		neg := r.ue("num_negative_pics", 16)
		pos := r.ue("num_positive_pics", 16)
		for i := uint32(0); i < neg && r.err == nil; i++ {
			r.ue("delta_poc_s0_minus1", 1<<15)
			rps.UsedByCurrPicS0Flag = append(rps.UsedByCurrPicS0Flag, r.flag("used_by_curr_pic_s0_flag"))
		}
		for i := uint32(0); i < pos && r.err == nil; i++ {
			r.ue("delta_poc_s1_minus1", 1<<15)
			rps.UsedByCurrPicS1Flag = append(rps.UsedByCurrPicS1Flag, r.flag("used_by_curr_pic_s1_flag"))
		}
		return rps
	}
	deltaIdxMinus1 := r.ue("delta_idx_minus1", numSets-1)
	deltaRpsSign := r.flag("delta_rps_sign")
	absDeltaRpsMinus1 := r.ue("abs_delta_rps_minus1", 1<<15-1)
	if r.err != nil {
		return rps
	}
	deltaRps := int32(absDeltaRpsMinus1) + 1
	if deltaRpsSign {
		deltaRps = -deltaRps
	}
	ref := sets[numSets-(deltaIdxMinus1+1)]
	nNeg, nPos := len(ref.DeltaPocS0), len(ref.DeltaPocS1)
	if len(ref.UsedByCurrPicS0Flag) != nNeg || len(ref.UsedByCurrPicS1Flag) != nPos {
		r.fail("st_ref_pic_set", errors.New("inconsistent reference RPS"))
		return rps
	}
	numDeltaPocs := nNeg + nPos
	used := make([]bool, numDeltaPocs+1)
	useDelta := make([]bool, numDeltaPocs+1)
	for j := 0; j <= numDeltaPocs && r.err == nil; j++ {
		used[j] = r.flag("used_by_curr_pic_flag")
		useDelta[j] = true
		if !used[j] {
			useDelta[j] = r.flag("use_delta_flag")
		}
	}
	if r.err != nil {
		return rps
	}
	// (7-61): negative pictures.
	for j := nPos - 1; j >= 0; j-- {
		if d := ref.DeltaPocS1[j] + deltaRps; d < 0 && useDelta[nNeg+j] {
			rps.DeltaPocS0 = append(rps.DeltaPocS0, d)
			rps.UsedByCurrPicS0Flag = append(rps.UsedByCurrPicS0Flag, used[nNeg+j])
		}
	}
	if deltaRps < 0 && useDelta[numDeltaPocs] {
		rps.DeltaPocS0 = append(rps.DeltaPocS0, deltaRps)
		rps.UsedByCurrPicS0Flag = append(rps.UsedByCurrPicS0Flag, used[numDeltaPocs])
	}
	for j := 0; j < nNeg; j++ {
		if d := ref.DeltaPocS0[j] + deltaRps; d < 0 && useDelta[j] {
			rps.DeltaPocS0 = append(rps.DeltaPocS0, d)
			rps.UsedByCurrPicS0Flag = append(rps.UsedByCurrPicS0Flag, used[j])
		}
	}
	// (7-62): positive pictures.
	for j := nNeg - 1; j >= 0; j-- {
		if d := ref.DeltaPocS0[j] + deltaRps; d > 0 && useDelta[j] {
			rps.DeltaPocS1 = append(rps.DeltaPocS1, d)
			rps.UsedByCurrPicS1Flag = append(rps.UsedByCurrPicS1Flag, used[j])
		}
	}
	if deltaRps > 0 && useDelta[numDeltaPocs] {
		rps.DeltaPocS1 = append(rps.DeltaPocS1, deltaRps)
		rps.UsedByCurrPicS1Flag = append(rps.UsedByCurrPicS1Flag, used[numDeltaPocs])
	}
	for j := 0; j < nPos; j++ {
		if d := ref.DeltaPocS1[j] + deltaRps; d > 0 && useDelta[nNeg+j] {
			rps.DeltaPocS1 = append(rps.DeltaPocS1, d)
			rps.UsedByCurrPicS1Flag = append(rps.UsedByCurrPicS1Flag, used[nNeg+j])
		}
	}
	return rps
}

// h265PredWeightTable walks pred_weight_table() (7.3.6.3) for a single-layer stream, where a
// reference picture never has the current picture's POC, so every weight flag is present.
func h265PredWeightTable(r *bitReader, chromaArrayType uint32, l0, l1 uint32, isB bool) {
	r.ue("luma_log2_weight_denom", 7)
	if chromaArrayType != 0 {
		r.se("delta_chroma_log2_weight_denom", -7, 7)
	}
	lists := []uint32{l0}
	if isB {
		lists = append(lists, l1)
	}
	for _, n := range lists {
		luma := make([]bool, n+1)
		chroma := make([]bool, n+1)
		for i := range luma {
			luma[i] = r.flag("luma_weight_flag")
		}
		if chromaArrayType != 0 {
			for i := range chroma {
				chroma[i] = r.flag("chroma_weight_flag")
			}
		}
		for i := uint32(0); i <= n && r.err == nil; i++ {
			if luma[i] {
				r.se("delta_luma_weight", -128, 127)
				r.se("luma_offset", -(1 << 15), 1<<15)
			}
			if chroma[i] {
				for j := 0; j < 2; j++ {
					r.se("delta_chroma_weight", -128, 127)
					r.se("delta_chroma_offset", -(1 << 17), 1<<17)
				}
			}
		}
	}
}
