package testcam

import (
	"context"
	"fmt"
	"strconv"
)

// The frame stamp of StampClip: two rows of StampBits blocks across the top of each picture, each
// block StampBlockWidth x StampRowHeight pixels. Block i of the first row is white when bit i of the
// picture's number in the clip (0 first) is set, black when not; the second row is its inverse, so a
// reader can tell a stamp it read right from one it did not.
const (
	StampBits       = 16
	StampBlockWidth = 40
	StampRowHeight  = 24
)

// StampClipOptions describes a StampClip.
type StampClipOptions struct {
	// Seconds is the clip's length. It defaults to 20.
	Seconds int
	// FrameRate is the clip's frame rate. It defaults to 15.
	FrameRate int
	// FFmpeg is the path of the ffmpeg binary. It defaults to "ffmpeg".
	FFmpeg string
}

// StampClip renders (ffmpeg CLI, x264) a 640x360 test picture with each picture's number burnt into
// its top rows before encoding (see StampBits), for measuring glass-to-glass latency: a reader of the
// decoded picture knows which one it shows, and so when the camera sent it (Camera.Epoch plus the
// picture's number over the frame rate, modulo the clip's length when the camera loops it). It returns
// the raw H.264 Annex-B stream (IDR every 2 s, no B-frames).
func StampClip(ctx context.Context, opts StampClipOptions) ([]byte, error) {
	if opts.Seconds <= 0 {
		opts.Seconds = 20
	}
	if opts.FrameRate <= 0 {
		opts.FrameRate = 15
	}
	if frames := opts.Seconds * opts.FrameRate; frames >= 1<<StampBits {
		return nil, fmt.Errorf("stamp clip: %d pictures do not fit a %d-bit stamp", frames, StampBits)
	}
	r, d := strconv.Itoa(opts.FrameRate), strconv.Itoa(opts.Seconds)
	w, h := strconv.Itoa(StampBits*StampBlockWidth), strconv.Itoa(2*StampRowHeight)
	// lum: bit floor(X/width) of the picture number N, inverted on the second row (Y >= row height).
	lum := "255*mod(floor(N/pow(2,floor(X/" + strconv.Itoa(StampBlockWidth) + ")))+gte(Y," + strconv.Itoa(StampRowHeight) + "),2)"
	graph := "testsrc2=s=640x360:r=" + r + ":d=" + d + "[bg];" +
		"color=c=black:s=" + w + "x" + h + ":r=" + r + ":d=" + d + ",format=yuv420p,geq=lum='" + lum + "':cb=128:cr=128[st];" +
		"[bg][st]overlay=0:0:shortest=1"
	return Generate(ctx, GenerateOptions{Graph: graph, Keyint: 2 * opts.FrameRate, FFmpeg: opts.FFmpeg})
}
