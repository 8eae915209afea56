package pregate

import "fmt"

// Codec names the coding format of a stream. The values match the ingest/media Codec strings.
type Codec string

// Codecs the pre-gate parses.
const (
	CodecH264 Codec = "h264"
	CodecH265 Codec = "h265"
)

// PictureType is the coding type of a picture: the least restrictive slice type among its slices.
type PictureType uint8

// Picture types. A picture with any B slice is B, else one with any P slice is P, else I.
const (
	PictureUnknown PictureType = iota
	PictureI
	PictureP
	PictureB
)

// numPictureTypes sizes per-type tables indexed by PictureType.
const numPictureTypes = 4

// String returns "I", "P", "B" or "?".
func (t PictureType) String() string {
	switch t {
	case PictureI:
		return "I"
	case PictureP:
		return "P"
	case PictureB:
		return "B"
	default:
		return "?"
	}
}

// Picture holds the signals of one access unit that a slice-header parse gives, without decoding.
type Picture struct {
	Codec Codec
	// Type is the picture coding type.
	Type PictureType
	// IDR is true for an H.264 IDR picture or an H.265 IRAP picture (IDR, CRA, BLA): a decoder can
	// start here.
	IDR bool
	// Reference is true when other pictures may predict from this one (H.264 nal_ref_idc != 0,
	// H.265 not a sub-layer non-reference picture).
	Reference bool
	// Bytes is the coded size: the sum of the sizes of the picture's slice NAL units (parameter
	// sets and SEI excluded).
	Bytes int
	// LumaSamples is the coded picture area (width x height in luma samples) from the SPS.
	LumaSamples int
	// Slices is the number of slices (H.265: independent slice segments) parsed.
	Slices int
	// QP is the mean slice QP weighted by slice size: SliceQPY = 26 + init_qp_minus26 +
	// slice_qp_delta.
	QP float64
	// MinQP and MaxQP are the smallest and largest slice QP of the picture.
	MinQP, MaxQP int
	// FrameNum is the first slice's frame_num (H.264 only).
	FrameNum uint32
	// IDRPicID is the first slice's idr_pic_id (H.264 IDR pictures only).
	IDRPicID uint32
	// POCLsb is the first slice's picture order count LSB (0 for H.265 IDR pictures, which carry
	// none, and for H.264 streams with pic_order_cnt_type != 0).
	POCLsb uint32
}

// String formats the picture for logs and test timelines.
func (p Picture) String() string {
	idr := ""
	if p.IDR {
		idr = " idr"
	}
	return fmt.Sprintf("%s%s %dB qp=%.1f", p.Type, idr, p.Bytes, p.QP)
}

// addSlice merges one slice into the picture's aggregates.
func (p *Picture) addSlice(t PictureType, qp int, size int) {
	if p.Slices == 0 || qp < p.MinQP {
		p.MinQP = qp
	}
	if p.Slices == 0 || qp > p.MaxQP {
		p.MaxQP = qp
	}
	// Running size-weighted mean; p.Bytes already counts earlier slices.
	total := p.Bytes + size
	if total > 0 {
		p.QP = (p.QP*float64(p.Bytes) + float64(qp)*float64(size)) / float64(total)
	}
	p.Bytes = total
	p.Slices++
	if t > p.Type {
		p.Type = t
	}
}
