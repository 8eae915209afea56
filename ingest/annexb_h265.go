package ingest

import (
	"fmt"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/mvwatch/mvwatch/internal/media"
)

// parseAnnexBH265 groups H.265 NAL units into access units (ITU-T H.265 7.4.2.4.4) with PTS in decoding
// order.
func parseAnnexBH265(data []byte, fps float64) ([]media.AccessUnit, time.Duration, error) {
	nalus, err := SplitAnnexB(data)
	if err != nil {
		return nil, 0, err
	}
	var (
		aus     []media.AccessUnit
		cur     media.AccessUnit
		pending [][]byte
		hasVCL  bool
	)
	flush := func() {
		if hasVCL {
			aus = append(aus, cur)
		}
		cur, hasVCL = media.AccessUnit{}, false
	}
	for i, nalu := range nalus {
		if len(nalu) < 2 || nalu[0]&0x80 != 0 || nalu[1]&0x07 == 0 {
			return nil, 0, fmt.Errorf("NAL unit %d: malformed H.265 NAL unit header", i)
		}
		typ := h265.NALUType((nalu[0] >> 1) & 0x3F)
		if typ == h265.NALUType_SPS_NUT {
			var sps h265.SPS
			if err := sps.Unmarshal(nalu); err != nil {
				return nil, 0, fmt.Errorf("NAL unit %d: parse SPS: %w", i, err)
			}
			if f := sps.FPS(); f >= 1 && f <= 1000 {
				fps = f
			}
		}
		switch {
		case typ < 32: // coded slice segment
			if len(nalu) < 3 {
				return nil, 0, fmt.Errorf("NAL unit %d: slice segment too short", i)
			}
			firstSlice := nalu[2]&0x80 != 0
			if hasVCL && firstSlice {
				flush()
			}
			if !hasVCL {
				cur = media.AccessUnit{Codec: media.CodecH265, RandomAccess: typ >= h265.NALUType_BLA_W_LP && typ <= h265.NALUType_RSV_IRAP_VCL23}
				cur.NALUs = append(cur.NALUs, pending...)
				pending = pending[:0]
				hasVCL = true
			}
			cur.NALUs = append(cur.NALUs, nalu)
		case typ >= h265.NALUType_VPS_NUT && typ <= h265.NALUType_AUD_NUT, typ == h265.NALUType_PREFIX_SEI_NUT,
			typ >= 41 && typ <= 44, typ >= 48 && typ <= 55:
			flush()
			pending = append(pending, nalu)
		case hasVCL:
			cur.NALUs = append(cur.NALUs, nalu)
		default:
			pending = append(pending, nalu)
		}
	}
	flush()
	frameDur := time.Duration(float64(time.Second) / fps)
	for i := range aus {
		aus[i].PTS = time.Duration(i) * frameDur
	}
	return aus, frameDur, nil
}
