package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/source"
	"github.com/mvwatch/mvwatch/mvextract"
)

// extractOptions configures `mvwatch extract`.
type extractOptions struct {
	outDir    string
	threads   int
	threadTy  string
	hwaccel   string
	npy       bool
	progress  bool
	tensors   bool          // also write residual and motion-field tensors per frame
	maxTime   time.Duration // RTSP: stop after this long (0: until the stream ends or a signal)
	idle      time.Duration // RTSP: the stream has ended once no access unit came for this long
	frames    int           // stop after this many frames (0: all)
	transport string
	queue     int // RTSP: access units buffered between network and decoder
}

func runExtract(args []string) int {
	fs := flag.NewFlagSet("extract", flag.ContinueOnError)
	var o extractOptions
	fs.StringVar(&o.outDir, "out", "mvs-out", "output directory")
	fs.IntVar(&o.threads, "threads", 0, "decoder threads (0: number of CPUs)")
	fs.StringVar(&o.threadTy, "thread-type", "auto", "auto, frame or slice (auto: frame threading unless the stream has B-frames)")
	fs.StringVar(&o.hwaccel, "hwaccel", "none", "hardware decoder: auto, none, qsv, vaapi, cuda (motion vectors always need the software decoder)")
	fs.BoolVar(&o.npy, "npy", true, "also write per-frame .npy files (motion_vectors/mvs-N.npy, int32 [N,10]) like mv-extractor")
	fs.BoolVar(&o.progress, "progress", isTerminal(os.Stderr), "print progress to stderr")
	fs.BoolVar(&o.tensors, "tensors", false, "also write residuals/res-N.npy (int16 [H,W] luma residual) and fields/field-N.npy (float32 [3,H/4,W/4]: dx, dy, mask of the past motion field)")
	fs.DurationVar(&o.maxTime, "duration", 0, "for RTSP inputs: stop after this long (0: until the stream ends or Ctrl-C)")
	fs.DurationVar(&o.idle, "idle", 3*time.Second, "for RTSP inputs: the stream has ended once no access unit came for this long (0: wait forever)")
	fs.StringVar(&o.transport, "transport", "tcp", "for RTSP inputs: tcp, udp or auto")
	fs.IntVar(&o.queue, "queue", 1024, "for RTSP inputs: access units buffered between network and decoder (full: dropped and counted)")
	fs.IntVar(&o.frames, "frames", 0, "stop after this many frames (0: all)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mvwatch extract [flags] INPUT\n\nINPUT is a video file (mp4, mkv, ts, raw .h264, ...) or an rtsp:// URL.\nWrites mvs.csv (mv-extractor columns), mv_counts.csv, frame_types.txt and motion_vectors/mvs-N.npy into -out.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := extract(ctx, fs.Arg(0), o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch extract: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "mvwatch extract: %d frames written to %s\n", n, o.outDir)
	return 0
}

// extract decodes input and writes its motion vectors into o.outDir. It returns the number of frames.
func extract(ctx context.Context, input string, o extractOptions) (int, error) {
	w, err := mvextract.NewMVWriter(o.outDir, o.npy, o.tensors)
	if err != nil {
		return 0, err
	}
	cfg := demux.DecoderConfig{
		MotionVectors: true,
		Pixels:        o.tensors,
		Threads:       o.threads,
		ThreadType:    demux.ThreadType(o.threadTy),
		HWAccel:       demux.HWAccel(o.hwaccel),
	}
	var prog *progress
	if o.progress {
		prog = &progress{out: os.Stderr}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	onFrame := func(f *media.Frame) error {
		if err := w.Write(f); err != nil {
			return err
		}
		if prog != nil {
			prog.tick(f)
		}
		if o.frames > 0 && w.Frames() >= o.frames {
			cancel()
			return errStop
		}
		return nil
	}
	src := source.New(source.Config{Input: input, Camera: "extract", Decoder: cfg,
		Transport: o.transport, QueueSize: o.queue, MaxTime: o.maxTime, Idle: o.idle})
	runErr := src.Run(ctx, onFrame)
	if st := src.Stats(); st.DecodeErrors > 0 && !source.IsURL(input) {
		fmt.Fprintf(os.Stderr, "mvwatch extract: %s: %d packets could not be decoded and were skipped\n", input, st.DecodeErrors)
	}
	if prog != nil {
		prog.done()
	}
	if errors.Is(runErr, errStop) || (runErr != nil && errors.Is(runErr, context.Canceled) && o.frames > 0) {
		runErr = nil
	}
	closeErr := w.Close()
	return w.Frames(), errors.Join(runErr, closeErr)
}

// errStop ends a decode loop early without being an error.
var errStop = errors.New("stop")

// progress prints a frame counter to a terminal once a second.
type progress struct {
	out   io.Writer
	last  time.Time
	start time.Time
	n     int
}

func (p *progress) tick(f *media.Frame) {
	now := time.Now()
	if p.start.IsZero() {
		p.start, p.last = now, now
	}
	p.n++
	if now.Sub(p.last) >= time.Second {
		p.last = now
		fmt.Fprintf(p.out, "\r%d frames, %.0f frames/s, at %s   ", p.n, float64(p.n)/now.Sub(p.start).Seconds(), f.PTS.Round(time.Millisecond))
	}
}

func (p *progress) done() {
	if !p.start.IsZero() {
		fmt.Fprintln(p.out)
	}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
