package demux

import (
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// h264MayReorder reports whether an H.264 stream described by the SPS in extradata (avcC or Annex-B)
// or in nalus may hold B-frames that are output out of decoding order. It answers true when unsure.
func h264MayReorder(extradata []byte, nalus [][]byte) bool {
	sps := findSPS(extradata, nalus)
	if sps == nil {
		return true
	}
	var s h264.SPS
	if err := s.Unmarshal(sps); err != nil {
		return true
	}
	if s.ProfileIdc == 66 { // Baseline: no B slices.
		return false
	}
	if s.VUI != nil && s.VUI.BitstreamRestriction != nil {
		return s.VUI.BitstreamRestriction.MaxNumReorderFrames > 0
	}
	return true
}

// findSPS returns the first H.264 SPS NAL unit in nalus, or in extradata given as avcC or Annex-B.
func findSPS(extradata []byte, nalus [][]byte) []byte {
	for _, n := range nalus {
		if len(n) > 0 && h264.NALUType(n[0]&0x1f) == h264.NALUTypeSPS {
			return n
		}
	}
	if len(extradata) == 0 {
		return nil
	}
	if extradata[0] == 1 { // avcC
		if len(extradata) > 8 && int(extradata[5]&0x1f) > 0 {
			n := int(extradata[6])<<8 | int(extradata[7])
			if 8+n <= len(extradata) {
				return extradata[8 : 8+n]
			}
		}
		return nil
	}
	var a h264.AnnexB
	if err := a.Unmarshal(extradata); err != nil {
		return nil
	}
	return findSPS(nil, a)
}
