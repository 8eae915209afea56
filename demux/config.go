package demux

import (
	"fmt"
	"log/slog"
	"runtime"
)

// HWAccel names a hardware decoder choice.
type HWAccel string

// Hardware decoder choices. HWAuto tries each hardware kind in turn and settles on the first that opens.
const (
	HWNone  HWAccel = "none"
	HWAuto  HWAccel = "auto"
	HWQSV   HWAccel = "qsv"
	HWVAAPI HWAccel = "vaapi"
	HWCUDA  HWAccel = "cuda"
)

// ThreadType names how the decoder spreads work over threads.
type ThreadType string

// Thread types. ThreadAuto picks frame threading for streams without B-frames and slice threading
// otherwise: with FFmpeg 5.1's frame threading the motion vectors exported for B-frames change from run to
// run, while slice threading (and frame threading on P-only streams) gives the same output as one thread.
const (
	ThreadAuto  ThreadType = "auto"
	ThreadFrame ThreadType = "frame"
	ThreadSlice ThreadType = "slice"
)

// DecoderConfig configures a Decoder or a File.
type DecoderConfig struct {
	// MotionVectors turns on FFmpeg's export_mvs so frames carry motion-vector side data.
	MotionVectors bool
	// Pixels copies each frame's 8-bit 4:2:0 planes into media.Frame.Y/Cb/Cr. Off, frames carry no pixels.
	Pixels bool
	// Threads is the decoder thread count. It defaults to the number of CPUs.
	Threads int
	// ThreadType defaults to ThreadAuto.
	ThreadType ThreadType
	// HWAccel defaults to HWNone. Hardware decoders export no motion vectors, so a hardware choice is used
	// only when MotionVectors is off (pixels only); otherwise the software decoder runs and the choice is
	// reported as such. A hardware kind that does not open falls back to software with a log line.
	HWAccel HWAccel
	// SkipLoopFilter skips H.264/H.265's in-loop deblocking filter (FFmpeg's skip_loop_filter=all):
	// pictures come out slightly blockier and decode about a sixth cheaper. Only for pictures that are
	// looked at and not predicted from later (the pre-gate's keyframe check); later pictures of a
	// stream decoded this way drift. It defaults to false.
	SkipLoopFilter bool
	// Logger receives fallbacks and decode errors. It defaults to slog.Default().
	Logger *slog.Logger
}

func (c DecoderConfig) withDefaults() (DecoderConfig, error) {
	if c.Threads <= 0 {
		c.Threads = runtime.NumCPU()
	}
	if c.ThreadType == "" {
		c.ThreadType = ThreadAuto
	}
	if c.HWAccel == "" {
		c.HWAccel = HWNone
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch c.ThreadType {
	case ThreadAuto, ThreadFrame, ThreadSlice:
	default:
		return c, fmt.Errorf("demux: unknown thread type %q (want auto, frame or slice)", c.ThreadType)
	}
	switch c.HWAccel {
	case HWNone, HWAuto, HWQSV, HWVAAPI, HWCUDA:
	default:
		return c, fmt.Errorf("demux: unknown hardware decoder %q (want auto, none, qsv, vaapi or cuda)", c.HWAccel)
	}
	return c, nil
}

// Stats counts what a decoder did.
type Stats struct {
	Packets      int64 // packets sent to the decoder
	Frames       int64 // frames received from the decoder
	DecodeErrors int64 // packets the decoder refused as invalid (skipped, decoding goes on)
	Skipped      int64 // access units dropped while waiting for the first random-access unit
}
