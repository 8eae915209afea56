package demux

/*
#cgo pkg-config: libavutil
#include <libavutil/frame.h>

static int64_t mvw_best_effort_ts(const AVFrame *f) { return f->best_effort_timestamp; }

static int mvw_side_data(const AVFrame *f, int type, uint8_t **data) {
	AVFrameSideData *sd = av_frame_get_side_data(f, (enum AVFrameSideDataType)type);
	if (!sd) return 0;
	*data = sd->data;
	return (int)sd->size;
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/asticode/go-astiav"
	"github.com/mvwatch/mvwatch/internal/media"
)

// copyFrame fills dst from an AVFrame without allocating once the buffers have grown to size: the
// motion-vector side data is copied into mvBuf; with pixels set, 4:2:0 planar pictures are handed on
// in place (dst's planes alias the AVFrame, valid while the caller holds its reference) and NV12
// pictures from hardware decoders are split into yuv.
func copyFrame(dst *media.Frame, mvBuf, yuv *[]byte, src *astiav.Frame, pixels bool) error {
	cf := (*C.AVFrame)(src.UnsafePointer())
	var data *C.uint8_t
	n := C.mvw_side_data(cf, C.int(astiav.FrameSideDataTypeMotionVectors), &data)
	dst.MotionVectors = nil
	if n > 0 {
		*mvBuf = append((*mvBuf)[:0], unsafe.Slice((*byte)(unsafe.Pointer(data)), int(n))...)
		dst.MotionVectors = *mvBuf
	}
	w, h := int(cf.width), int(cf.height)
	dst.Width, dst.Height = w, h
	if !pixels {
		dst.Y, dst.Cb, dst.Cr = nil, nil, nil
		return nil
	}
	cw, ch := (w+1)/2, (h+1)/2
	plane := func(i, rows int) []byte {
		ls := int(cf.linesize[i])
		if ls <= 0 || cf.data[i] == nil {
			return nil
		}
		return unsafe.Slice((*byte)(unsafe.Pointer(cf.data[i])), ls*rows)
	}
	switch pf := astiav.PixelFormat(cf.format); pf {
	case astiav.PixelFormatYuv420P, astiav.PixelFormatYuvj420P:
		// Zero copy: the planes alias the decoder's buffers, which stay referenced until the callback
		// returns (the media.Frame contract), so the per-frame cost is nil.
		dst.Y, dst.Cb, dst.Cr = plane(0, h), plane(1, ch), plane(2, ch)
		dst.YStride, dst.CStride = int(cf.linesize[0]), int(cf.linesize[1])
		if dst.Y == nil || dst.Cb == nil || dst.Cr == nil || int(cf.linesize[2]) != dst.CStride {
			return fmt.Errorf("demux: frame %dx%d has unexpected plane layout", w, h)
		}
	case astiav.PixelFormatNv12: // what hardware decoders hand back: interleaved CbCr, copied apart
		dst.YStride, dst.CStride = w, cw
		*yuv = grow(*yuv, w*h+2*cw*ch)
		dst.Y, dst.Cb, dst.Cr = (*yuv)[:w*h], (*yuv)[w*h:w*h+cw*ch], (*yuv)[w*h+cw*ch:]
		copyPlane(dst.Y, w, plane(0, h), int(cf.linesize[0]), w, h)
		uv, ls := plane(1, ch), int(cf.linesize[1])
		for y := 0; y < ch; y++ {
			row := uv[y*ls : y*ls+2*cw]
			cb, cr := dst.Cb[y*cw:(y+1)*cw], dst.Cr[y*cw:(y+1)*cw]
			for x := range cw {
				cb[x], cr[x] = row[2*x], row[2*x+1]
			}
		}
	default:
		return fmt.Errorf("demux: pixel format %s is not supported (mvwatch reads 8-bit 4:2:0)", pf)
	}
	return nil
}

// bestEffortTimestamp is FFmpeg's guess of a frame's presentation time (from the packet DTS when the
// container has no PTS, as with raw H.264).
func bestEffortTimestamp(f *astiav.Frame) int64 {
	return int64(C.mvw_best_effort_ts((*C.AVFrame)(f.UnsafePointer())))
}

func copyPlane(dst []byte, dstStride int, src []byte, srcStride, w, h int) {
	for y := range h {
		copy(dst[y*dstStride:y*dstStride+w], src[y*srcStride:y*srcStride+w])
	}
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
