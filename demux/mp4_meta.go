package demux

/*
#cgo pkg-config: libavformat
#include <stdlib.h>
#include <libavformat/avformat.h>

static int mvw_set_metadata(AVFormatContext *fc, const char *k, const char *v) {
	return av_dict_set(&fc->metadata, k, v, 0);
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// go-astiav v0.16.0 returns a nil Dictionary for a format context without metadata and has no setter,
// so an output's tags are set through the C pointer (FormatContext keeps it as its first field, like
// Packet; TestWriteMP4H264 reads the tags back with ffprobe).
func cFormatContext(fc *astiav.FormatContext) *C.AVFormatContext {
	return *(**C.AVFormatContext)(unsafe.Pointer(fc))
}

// setMetadata sets one container tag of an output format context.
func setMetadata(fc *astiav.FormatContext, key, value string) error {
	ck, cv := C.CString(key), C.CString(value)
	defer C.free(unsafe.Pointer(ck))
	defer C.free(unsafe.Pointer(cv))
	if ret := C.mvw_set_metadata(cFormatContext(fc), ck, cv); ret < 0 {
		return fmt.Errorf("av_dict_set: error %d", int(ret))
	}
	return nil
}
