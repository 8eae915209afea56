package demux

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/mvwatch/mvwatch/internal/media"
)

// StreamInfo describes the video stream a File decodes.
type StreamInfo struct {
	Codec      string  // FFmpeg decoder name, e.g. "h264"
	Width      int     // pixels
	Height     int     // pixels
	FPS        float64 // average frame rate, 0 when unknown
	Duration   time.Duration
	MayReorder bool // B-frames possible: ThreadAuto then uses slice threading
}

// File decodes the video stream of a file or URL through FFmpeg's demuxers (mp4, mkv, ts, raw .h264,
// and whatever else the linked FFmpeg reads).
type File struct {
	path   string
	fc     *astiav.FormatContext
	intr   astiav.IOInterrupter
	stream *astiav.Stream
	dec    *Decoder
	pkt    *astiav.Packet
	info   StreamInfo
	mu     sync.Mutex // guards closed against Run's interrupt goroutine
	closed bool
}

// OpenFile opens path (a file name or a URL FFmpeg understands) and its first video stream's decoder.
func OpenFile(path string, cfg DecoderConfig) (_ *File, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	quietFFmpeg()
	f := &File{path: path, dec: &Decoder{cfg: cfg}}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	if f.fc = astiav.AllocFormatContext(); f.fc == nil {
		return nil, errors.New("demux: cannot allocate format context")
	}
	f.intr = f.fc.SetInterruptCallback()
	if err := f.fc.OpenInput(path, nil, nil); err != nil {
		f.fc.Free()
		f.fc = nil
		return nil, fmt.Errorf("demux: open %s: %w", path, err)
	}
	if err := f.fc.FindStreamInfo(nil); err != nil {
		return nil, fmt.Errorf("demux: read stream info of %s: %w", path, err)
	}
	for _, s := range f.fc.Streams() {
		if s.CodecParameters().MediaType() == astiav.MediaTypeVideo {
			f.stream = s
			break
		}
	}
	if f.stream == nil {
		return nil, fmt.Errorf("demux: %s has no video stream", path)
	}
	cp := f.stream.CodecParameters()
	if astiav.FindDecoder(cp.CodecID()) == nil {
		return nil, fmt.Errorf("demux: %s: unsupported codec %s (no decoder in this FFmpeg)", path, cp.CodecID())
	}
	mayReorder := true
	if cp.CodecID() == astiav.CodecIDH264 {
		mayReorder = h264MayReorder(cp.ExtraData(), nil)
	}
	f.dec.timeBase = f.stream.TimeBase()
	if err := f.dec.openDecoder(cp.CodecID(), cp, mayReorder); err != nil {
		return nil, fmt.Errorf("demux: %s: %w", path, err)
	}
	f.pkt = astiav.AllocPacket()
	f.info = StreamInfo{
		Codec:      f.dec.codec.Name(),
		Width:      cp.Width(),
		Height:     cp.Height(),
		FPS:        f.stream.AvgFrameRate().Float64(),
		MayReorder: mayReorder,
	}
	if fps := f.info.FPS; fps > 0 && fps < 1000 {
		f.dec.frameDur = time.Duration(float64(time.Second) / fps)
	}
	if d := f.fc.Duration(); d > 0 {
		f.info.Duration = time.Duration(d) * time.Microsecond // AV_TIME_BASE
	}
	return f, nil
}

// Info describes the decoded video stream.
func (f *File) Info() StreamInfo { return f.info }

// Stats returns the decoder's counters.
func (f *File) Stats() Stats { return f.dec.Stats() }

// HW reports what the hardware-decoder choice came to.
func (f *File) HW() HWStatus { return f.dec.HW() }

// Run decodes the whole stream and calls fn for every frame in output order, flushing the decoder at the
// end. Packets the decoder refuses are counted in Stats().DecodeErrors and skipped, as the ffmpeg CLI
// does; a read error other than the end of the file ends Run with that error. Cancelling ctx interrupts a
// blocking read and ends Run with ctx.Err(). An error returned by fn ends Run and is returned.
func (f *File) Run(ctx context.Context, fn func(*media.Frame) error) error {
	stop := context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.closed {
			f.intr.Interrupt()
		}
	})
	defer stop()
	idx := f.stream.Index()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := f.fc.ReadFrame(f.pkt); err != nil {
			if errors.Is(err, astiav.ErrEof) {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("demux: read %s: %w", f.path, err)
		}
		if f.pkt.StreamIndex() != idx {
			f.pkt.Unref()
			continue
		}
		err := f.dec.send(f.pkt, fn)
		f.pkt.Unref()
		if err != nil && !errors.Is(err, ErrDecode) {
			return err
		}
	}
	if err := f.dec.send(nil, fn); err != nil && !errors.Is(err, ErrDecode) {
		return err
	}
	return nil
}

// Close frees every FFmpeg object of the file. It is safe to call more than once.
func (f *File) Close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	if f.dec != nil {
		f.dec.Close()
	}
	if f.pkt != nil {
		f.pkt.Free()
		f.pkt = nil
	}
	if f.fc != nil {
		f.fc.CloseInput()
		f.fc.Free()
		f.fc = nil
	}
}
