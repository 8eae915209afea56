package ingest

import (
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/bits"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// ErrMissingParams is returned when a slice refers to a parameter set that has not been seen.
var ErrMissingParams = errors.New("slice refers to an unknown parameter set")

// sliceHeaderBytes is how much of a slice NAL unit is unescaped to read the header fields we need.
const sliceHeaderBytes = 128

// h264Slice holds the slice header fields that identify a picture and give its picture order count.
type h264Slice struct {
	naluType    h264.NALUType
	refIdc      uint8
	firstMB     uint32
	sliceType   uint32
	ppsID       uint32
	frameNum    uint32
	fieldPic    bool
	bottomField bool
	idrPicID    uint32
	pocLsb      uint32
	deltaPOCBot int32
	deltaPOC    [2]int32
	spsID       uint32
}

// h264PPS is the part of a picture parameter set the slice header parser needs.
type h264PPS struct {
	spsID                 uint32
	bottomFieldPicOrderIn bool
}

// h264POC follows the parameter sets of an H.264 stream and computes each picture's order count
// (ITU-T H.264 8.2.1, types 0, 1 and 2). Memory management control operation 5 is not parsed; streams
// that use it get order counts relative to the previous reset only at IDR pictures.
type h264POC struct {
	sps map[uint32]*h264.SPS
	pps map[uint32]h264PPS

	prevPOCMsb         int64
	prevPOCLsb         int64
	prevFrameNum       uint32
	prevFrameNumOffset int64
}

func newH264POC() *h264POC {
	return &h264POC{sps: make(map[uint32]*h264.SPS), pps: make(map[uint32]h264PPS)}
}

// addSPS parses and stores a sequence parameter set.
func (p *h264POC) addSPS(nalu []byte) error {
	var s h264.SPS
	if err := s.Unmarshal(nalu); err != nil {
		return fmt.Errorf("parse SPS: %w", err)
	}
	if s.Log2MaxFrameNumMinus4 > 12 || s.Log2MaxPicOrderCntLsbMinus4 > 12 {
		return fmt.Errorf("parse SPS: field out of range")
	}
	if len(p.sps) > 32 {
		return fmt.Errorf("parse SPS: too many parameter sets")
	}
	p.sps[s.ID] = &s
	return nil
}

// addPPS parses and stores the fields of a picture parameter set that slice headers depend on.
func (p *h264POC) addPPS(nalu []byte) error {
	if len(nalu) < 2 {
		return fmt.Errorf("parse PPS: too short")
	}
	buf := h264.EmulationPreventionRemove(nalu[1:min(len(nalu), sliceHeaderBytes)])
	pos := 0
	id, err := bits.ReadGolombUnsigned(buf, &pos)
	if err != nil {
		return fmt.Errorf("parse PPS id: %w", err)
	}
	spsID, err := bits.ReadGolombUnsigned(buf, &pos)
	if err != nil {
		return fmt.Errorf("parse PPS sps id: %w", err)
	}
	if id > 255 || spsID > 31 {
		return fmt.Errorf("parse PPS: id out of range")
	}
	if _, err = bits.ReadFlag(buf, &pos); err != nil { // entropy_coding_mode_flag
		return fmt.Errorf("parse PPS: %w", err)
	}
	bottom, err := bits.ReadFlag(buf, &pos)
	if err != nil {
		return fmt.Errorf("parse PPS: %w", err)
	}
	p.pps[id] = h264PPS{spsID: spsID, bottomFieldPicOrderIn: bottom}
	return nil
}

// parseSlice reads the header of a coded slice NAL unit (types 1 and 5).
func (p *h264POC) parseSlice(nalu []byte) (h264Slice, error) {
	var s h264Slice
	if len(nalu) < 2 {
		return s, fmt.Errorf("slice: too short")
	}
	s.naluType = h264.NALUType(nalu[0] & 0x1F)
	s.refIdc = (nalu[0] >> 5) & 0x03
	buf := h264.EmulationPreventionRemove(nalu[1:min(len(nalu), sliceHeaderBytes)])
	pos := 0
	var err error
	ue := func() uint32 {
		if err != nil {
			return 0
		}
		var v uint32
		v, err = bits.ReadGolombUnsigned(buf, &pos)
		return v
	}
	se := func() int32 {
		if err != nil {
			return 0
		}
		var v int32
		v, err = bits.ReadGolombSigned(buf, &pos)
		return v
	}
	u := func(n int) uint32 {
		if err != nil {
			return 0
		}
		var v uint64
		v, err = bits.ReadBits(buf, &pos, n)
		return uint32(v)
	}
	s.firstMB = ue()
	s.sliceType = ue()
	s.ppsID = ue()
	if err != nil {
		return s, fmt.Errorf("slice header: %w", err)
	}
	pps, ok := p.pps[s.ppsID]
	if !ok {
		return s, fmt.Errorf("slice: PPS %d: %w", s.ppsID, ErrMissingParams)
	}
	sps, ok := p.sps[pps.spsID]
	if !ok {
		return s, fmt.Errorf("slice: SPS %d: %w", pps.spsID, ErrMissingParams)
	}
	s.spsID = pps.spsID
	if sps.SeparateColourPlaneFlag {
		u(2)
	}
	s.frameNum = u(int(sps.Log2MaxFrameNumMinus4) + 4)
	if !sps.FrameMbsOnlyFlag {
		s.fieldPic = u(1) == 1
		if s.fieldPic {
			s.bottomField = u(1) == 1
		}
	}
	if s.naluType == h264.NALUTypeIDR {
		s.idrPicID = ue()
	}
	switch sps.PicOrderCntType {
	case 0:
		s.pocLsb = u(int(sps.Log2MaxPicOrderCntLsbMinus4) + 4)
		if pps.bottomFieldPicOrderIn && !s.fieldPic {
			s.deltaPOCBot = se()
		}
	case 1:
		if !sps.DeltaPicOrderAlwaysZeroFlag {
			s.deltaPOC[0] = se()
			if pps.bottomFieldPicOrderIn && !s.fieldPic {
				s.deltaPOC[1] = se()
			}
		}
	}
	if err != nil {
		return s, fmt.Errorf("slice header: %w", err)
	}
	return s, nil
}

// newPicture reports whether slice b starts a new primary coded picture after slice a
// (ITU-T H.264 7.4.1.2.4, without redundant pictures).
func newPicture(a, b h264Slice) bool {
	return b.firstMB == 0 || a.frameNum != b.frameNum || a.ppsID != b.ppsID ||
		a.fieldPic != b.fieldPic || a.bottomField != b.bottomField ||
		(a.refIdc == 0) != (b.refIdc == 0) || a.pocLsb != b.pocLsb || a.deltaPOCBot != b.deltaPOCBot ||
		a.deltaPOC != b.deltaPOC || (a.naluType == h264.NALUTypeIDR) != (b.naluType == h264.NALUTypeIDR) ||
		a.idrPicID != b.idrPicID
}

// poc computes the picture order count of the picture that slice s (its first slice) belongs to and
// updates the decoder-side state that the next picture depends on.
func (p *h264POC) poc(s h264Slice) (int64, error) {
	sps, ok := p.sps[s.spsID]
	if !ok {
		return 0, fmt.Errorf("poc: SPS %d: %w", s.spsID, ErrMissingParams)
	}
	idr := s.naluType == h264.NALUTypeIDR
	maxFrameNum := int64(1) << (sps.Log2MaxFrameNumMinus4 + 4)

	switch sps.PicOrderCntType {
	case 0:
		if idr {
			p.prevPOCMsb, p.prevPOCLsb = 0, 0
		}
		maxLsb := int64(1) << (sps.Log2MaxPicOrderCntLsbMinus4 + 4)
		lsb := int64(s.pocLsb)
		msb := p.prevPOCMsb
		switch {
		case lsb < p.prevPOCLsb && p.prevPOCLsb-lsb >= maxLsb/2:
			msb += maxLsb
		case lsb > p.prevPOCLsb && lsb-p.prevPOCLsb > maxLsb/2:
			msb -= maxLsb
		}
		top := msb + lsb
		bottom := top + int64(s.deltaPOCBot)
		if s.refIdc != 0 {
			p.prevPOCMsb, p.prevPOCLsb = msb, lsb
		}
		if s.fieldPic || bottom > top {
			return top, nil
		}
		return bottom, nil

	case 1, 2:
		var frameNumOffset int64
		switch {
		case idr:
			frameNumOffset = 0
		case p.prevFrameNum > s.frameNum:
			frameNumOffset = p.prevFrameNumOffset + maxFrameNum
		default:
			frameNumOffset = p.prevFrameNumOffset
		}
		p.prevFrameNum, p.prevFrameNumOffset = s.frameNum, frameNumOffset
		if sps.PicOrderCntType == 2 {
			switch {
			case idr:
				return 0, nil
			case s.refIdc == 0:
				return 2*(frameNumOffset+int64(s.frameNum)) - 1, nil
			default:
				return 2 * (frameNumOffset + int64(s.frameNum)), nil
			}
		}
		return pocType1(sps, s, frameNumOffset), nil

	default:
		return 0, fmt.Errorf("poc: unsupported pic_order_cnt_type %d", sps.PicOrderCntType)
	}
}

// pocType1 is ITU-T H.264 8.2.1.2.
func pocType1(sps *h264.SPS, s h264Slice, frameNumOffset int64) int64 {
	n := int64(len(sps.OffsetForRefFrames))
	var absFrameNum int64
	if n != 0 {
		absFrameNum = frameNumOffset + int64(s.frameNum)
	}
	if s.refIdc == 0 && absFrameNum > 0 {
		absFrameNum--
	}
	var expected int64
	if absFrameNum > 0 {
		var deltaPerCycle int64
		for _, o := range sps.OffsetForRefFrames {
			deltaPerCycle += int64(o)
		}
		cycle := (absFrameNum - 1) / n
		inCycle := (absFrameNum - 1) % n
		expected = cycle * deltaPerCycle
		for i := int64(0); i <= inCycle; i++ {
			expected += int64(sps.OffsetForRefFrames[i])
		}
	}
	if s.refIdc == 0 {
		expected += int64(sps.OffsetForNonRefPic)
	}
	top := expected + int64(s.deltaPOC[0])
	if s.fieldPic {
		if s.bottomField {
			return expected + int64(sps.OffsetForTopToBottomField) + int64(s.deltaPOC[0])
		}
		return top
	}
	bottom := top + int64(sps.OffsetForTopToBottomField) + int64(s.deltaPOC[1])
	return min(top, bottom)
}
