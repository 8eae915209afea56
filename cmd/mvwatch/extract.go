package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
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
	w, err := newMVWriter(o.outDir, o.npy, o.tensors)
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
		if err := w.write(f); err != nil {
			return err
		}
		if prog != nil {
			prog.tick(f)
		}
		if o.frames > 0 && w.frames >= o.frames {
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
	closeErr := w.close()
	return w.frames, errors.Join(runErr, closeErr)
}

// errStop ends a decode loop early without being an error.
var errStop = errors.New("stop")

// mvWriter writes the outputs of `extract`: mvs.csv in mv-extractor's columns, mv_counts.csv (frame,count; no header),
// frame_types.txt and, optionally, motion_vectors/mvs-N.npy (int32 [N,10] in mv-extractor's column order:
// source, w, h, src_x, src_y, dst_x, dst_y, motion_x, motion_y, motion_scale).
type mvWriter struct {
	dir                  string
	npy                  bool
	ex                   *mvextract.Extractor // set when residual and field tensors are written
	field                []float32
	csvF, countsF, typeF *os.File
	csv, counts, types   *bufio.Writer
	mvs                  []mvextract.MotionVector
	rows                 []int32
	line                 []byte
	frames               int
}

func newMVWriter(dir string, npy, tensors bool) (*mvWriter, error) {
	w := &mvWriter{dir: dir, npy: npy}
	subdirs := []string{""}
	if npy {
		subdirs = append(subdirs, "motion_vectors")
	}
	if tensors {
		w.ex = mvextract.NewExtractor(mvextract.ExtractorConfig{})
		subdirs = append(subdirs, "residuals", "fields")
	}
	for _, sub := range subdirs {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	var err error
	open := func(name string) (*os.File, *bufio.Writer) {
		if err != nil {
			return nil, nil
		}
		var f *os.File
		f, err = os.Create(filepath.Join(dir, name))
		return f, bufio.NewWriterSize(f, 1<<16)
	}
	w.csvF, w.csv = open("mvs.csv")
	w.countsF, w.counts = open("mv_counts.csv")
	w.typeF, w.types = open("frame_types.txt")
	if err != nil {
		w.close()
		return nil, err
	}
	w.csv.WriteString("frame,source,w,h,src_x,src_y,dst_x,dst_y,motion_x,motion_y,motion_scale\n")
	return w, nil
}

func (w *mvWriter) write(f *media.Frame) error {
	var err error
	w.mvs, err = mvextract.ParseMotionVectors(f.MotionVectors, w.mvs)
	if err != nil {
		return fmt.Errorf("frame %d: %w", f.Index, err)
	}
	w.rows = w.rows[:0]
	for _, mv := range w.mvs {
		cols := [10]int32{mv.Source, int32(mv.W), int32(mv.H), int32(mv.SrcX), int32(mv.SrcY),
			int32(mv.DstX), int32(mv.DstY), mv.MotionX, mv.MotionY, int32(mv.MotionScale)}
		b := strconv.AppendInt(w.line[:0], int64(f.Index), 10)
		for _, c := range cols {
			b = append(b, ',')
			b = strconv.AppendInt(b, int64(c), 10)
		}
		b = append(b, '\n')
		w.line = b
		w.csv.Write(b)
		w.rows = append(w.rows, cols[:]...)
	}
	fmt.Fprintf(w.counts, "%d,%d\n", f.Index, len(w.mvs))
	w.types.WriteByte(f.PictType)
	w.types.WriteByte('\n')
	if w.npy {
		if err := writeNPYFile(filepath.Join(w.dir, "motion_vectors", fmt.Sprintf("mvs-%d.npy", f.Index)),
			"int32", []int{len(w.mvs), 10}, w.rows); err != nil {
			return err
		}
	}
	if w.ex != nil {
		if err := w.writeTensors(f); err != nil {
			return err
		}
	}
	w.frames++
	return nil
}

// writeTensors writes the frame's luma residual and past motion field (dx, dy, mask planes).
func (w *mvWriter) writeTensors(f *media.Frame) error {
	ft, err := w.ex.Process(f)
	if err != nil {
		return fmt.Errorf("frame %d: %w", f.Index, err)
	}
	if err := writeNPYFile(filepath.Join(w.dir, "residuals", fmt.Sprintf("res-%d.npy", f.Index)),
		"int16", []int{ft.Height, ft.Width}, ft.Residual); err != nil {
		return err
	}
	fd := ft.Field
	n := fd.Rows * fd.Cols
	w.field = append(w.field[:0], fd.DX...)
	w.field = append(w.field, fd.DY...)
	for _, m := range fd.Mask {
		w.field = append(w.field, float32(m))
	}
	return writeNPYFile(filepath.Join(w.dir, "fields", fmt.Sprintf("field-%d.npy", f.Index)),
		"float32", []int{3, fd.Rows, fd.Cols}, w.field[:3*n])
}

// writeNPYFile writes one .npy file.
func writeNPYFile(path, dtype string, shape []int, data any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	err = mvextract.WriteNPY(bw, dtype, shape, data)
	return errors.Join(err, bw.Flush(), f.Close())
}

func (w *mvWriter) close() error {
	var errs []error
	for _, p := range []struct {
		b *bufio.Writer
		f *os.File
	}{{w.csv, w.csvF}, {w.counts, w.countsF}, {w.types, w.typeF}} {
		if p.f == nil {
			continue
		}
		errs = append(errs, p.b.Flush(), p.f.Close())
	}
	return errors.Join(errs...)
}

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
