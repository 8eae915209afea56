package media

import "time"

// Frame is one decoded picture in plain Go memory. A Frame passed to a callback is owned by the
// decoder: its slices are valid only until the callback returns, and are reused for the next frame.
type Frame struct {
	// Index counts frames in decoder output order from 0, every frame included.
	Index int
	// PTS is the presentation time, or -1 when the source gave none.
	PTS time.Duration
	// PictType is 'I', 'P', 'B', or another AVPictureType letter ('S', 'i', 'p', 'b'), '?' if unknown.
	PictType byte
	// KeyFrame reports a decoder key frame.
	KeyFrame bool
	// Width and Height are the luma dimensions in pixels.
	Width, Height int
	// Y, Cb and Cr are the 8-bit 4:2:0 planes, nil when the decoder was asked for motion vectors only.
	// They may alias FFmpeg's own frame buffers: never keep them past the callback.
	Y, Cb, Cr []byte
	// YStride and CStride are the line sizes of the luma and chroma planes in bytes.
	YStride, CStride int
	// MotionVectors is the raw AV_FRAME_DATA_MOTION_VECTORS side data: a packed array of C
	// AVMotionVector structs (40 bytes each, host byte order), nil when the frame has none.
	// Package mvextract parses it.
	MotionVectors []byte
}
