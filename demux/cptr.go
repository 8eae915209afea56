package demux

/*
#cgo pkg-config: libavcodec
#include <libavcodec/avcodec.h>
#include <string.h>

static int mvw_fill_packet(AVPacket *p, const uint8_t *data, int size) {
	int ret = av_new_packet(p, size); // zeroes AV_INPUT_BUFFER_PADDING_SIZE bytes after the payload
	if (ret < 0) return ret;
	memcpy(p->data, data, size);
	return 0;
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// go-astiav v0.16.0 keeps the C pointer as the first field of Packet and CodecContext and exposes neither
// avcodec_flush_buffers nor a padded copy into a packet; these helpers reach the pointer directly.
// TestCPointers checks the layout against the library's own accessors.

func cPacket(p *astiav.Packet) *C.AVPacket { return *(**C.AVPacket)(unsafe.Pointer(p)) }

func cCodecContext(cc *astiav.CodecContext) *C.AVCodecContext {
	return *(**C.AVCodecContext)(unsafe.Pointer(cc))
}

// fillPacket makes p hold a copy of data in a buffer with FFmpeg's zeroed input padding, which the
// bitstream readers may read past the end (astiav's FromData allocates none).
func fillPacket(p *astiav.Packet, data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("demux: empty packet")
	}
	if ret := C.mvw_fill_packet(cPacket(p), (*C.uint8_t)(unsafe.Pointer(&data[0])), C.int(len(data))); ret < 0 {
		return fmt.Errorf("demux: allocate packet: %w", astiav.Error(ret))
	}
	return nil
}

// flushBuffers resets a drained decoder so it accepts packets again.
func flushBuffers(cc *astiav.CodecContext) { C.avcodec_flush_buffers(cCodecContext(cc)) }

// codecContextWidth reads the width through the raw pointer; only TestCPointers uses it.
func codecContextWidth(cc *astiav.CodecContext) int { return int(cCodecContext(cc).width) }
