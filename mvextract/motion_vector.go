package mvextract

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MotionVectorSize is the size in bytes of one packed C AVMotionVector in FFmpeg's
// AV_FRAME_DATA_MOTION_VECTORS side data (libavutil/motion_vector.h, x86-64 and arm64 layout).
const MotionVectorSize = 40

// MaxBlockSize is the largest block width or height ParseMotionVectors accepts. FFmpeg exports 8 and 16
// for H.264 and MPEG-4 Part 2; 128 leaves room for larger coding blocks of other codecs.
const MaxBlockSize = 128

// ErrSideData is wrapped by every error ParseMotionVectors returns.
var ErrSideData = errors.New("mvextract: bad motion-vector side data")

// MotionVector is FFmpeg's AVMotionVector: one motion-compensated block of a frame.
type MotionVector struct {
	// Source is negative when the block is predicted from the past, positive when from the future.
	// FFmpeg exports only this direction (-1 or +1), not the index of the reference frame.
	Source int32
	// W and H are the block's width and height in pixels.
	W, H uint8
	// SrcX and SrcY are the block centre in the reference frame: Dst + Motion/MotionScale, integer
	// division truncating toward zero. They can lie outside the frame.
	SrcX, SrcY int16
	// DstX and DstY are the block centre in the current frame. They can lie outside the frame.
	DstX, DstY int16
	// Flags is FFmpeg's (currently unused) flags field.
	Flags uint64
	// MotionX and MotionY are the motion in units of 1/MotionScale pixel (source minus destination).
	MotionX, MotionY int32
	// MotionScale is the sub-pel denominator: 4 for quarter-pel (H.264), 2 for half-pel.
	MotionScale uint16
}

// ParseMotionVectors decodes the packed AVMotionVector array side (little-endian, 40 bytes per
// vector: int32 source @0, u8 w @4, u8 h @5, int16 src_x @6, src_y @8, dst_x @10, dst_y @12,
// u64 flags @16, int32 motion_x @24, motion_y @28, u16 motion_scale @32, padding to 40). It appends
// to dst[:0] and returns the result, so it allocates nothing when cap(dst) suffices. Empty side data
// gives an empty slice. A length that is not a multiple of MotionVectorSize, a zero motion_scale, a zero
// source direction, or a block size of 0 or above MaxBlockSize gives an error wrapping ErrSideData;
// the vectors parsed before the bad one are returned with it.
func ParseMotionVectors(side []byte, dst []MotionVector) ([]MotionVector, error) {
	dst = dst[:0]
	if len(side)%MotionVectorSize != 0 {
		return dst, fmt.Errorf("%w: %d bytes is not a multiple of %d", ErrSideData, len(side), MotionVectorSize)
	}
	n := len(side) / MotionVectorSize
	if cap(dst) < n {
		dst = make([]MotionVector, 0, n)
	}
	le := binary.LittleEndian
	for i := 0; i < n; i++ {
		b := side[i*MotionVectorSize : (i+1)*MotionVectorSize]
		mv := MotionVector{
			Source:      int32(le.Uint32(b[0:])),
			W:           b[4],
			H:           b[5],
			SrcX:        int16(le.Uint16(b[6:])),
			SrcY:        int16(le.Uint16(b[8:])),
			DstX:        int16(le.Uint16(b[10:])),
			DstY:        int16(le.Uint16(b[12:])),
			Flags:       le.Uint64(b[16:]),
			MotionX:     int32(le.Uint32(b[24:])),
			MotionY:     int32(le.Uint32(b[28:])),
			MotionScale: le.Uint16(b[32:]),
		}
		switch {
		case mv.MotionScale == 0:
			return dst, fmt.Errorf("%w: vector %d has motion_scale 0", ErrSideData, i)
		case mv.Source == 0:
			return dst, fmt.Errorf("%w: vector %d has source 0 (neither past nor future)", ErrSideData, i)
		case mv.W == 0 || mv.H == 0 || mv.W > MaxBlockSize || mv.H > MaxBlockSize:
			return dst, fmt.Errorf("%w: vector %d has block size %dx%d (want 1..%d)", ErrSideData, i, mv.W, mv.H, MaxBlockSize)
		}
		dst = append(dst, mv)
	}
	return dst, nil
}

// AppendMotionVector appends the packed 40-byte little-endian C layout of mv to b. It is the inverse
// of ParseMotionVectors (padding bytes are zero) and serves tests and tools that synthesise side data.
func AppendMotionVector(b []byte, mv MotionVector) []byte {
	var s [MotionVectorSize]byte
	le := binary.LittleEndian
	le.PutUint32(s[0:], uint32(mv.Source))
	s[4], s[5] = mv.W, mv.H
	le.PutUint16(s[6:], uint16(mv.SrcX))
	le.PutUint16(s[8:], uint16(mv.SrcY))
	le.PutUint16(s[10:], uint16(mv.DstX))
	le.PutUint16(s[12:], uint16(mv.DstY))
	le.PutUint64(s[16:], mv.Flags)
	le.PutUint32(s[24:], uint32(mv.MotionX))
	le.PutUint32(s[28:], uint32(mv.MotionY))
	le.PutUint16(s[32:], mv.MotionScale)
	return append(b, s[:]...)
}
