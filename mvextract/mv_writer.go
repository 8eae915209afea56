package mvextract

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/mvwatch/mvwatch/internal/media"
)

// MVWriter writes a stream's motion vectors into a directory in mv-extractor's layout (what
// `mvwatch extract` writes): mvs.csv in mv-extractor's columns, mv_counts.csv (frame,count; no header),
// frame_types.txt and, optionally, motion_vectors/mvs-N.npy (int32 [N,10] in mv-extractor's column
// order: source, w, h, src_x, src_y, dst_x, dst_y, motion_x, motion_y, motion_scale), and with tensors
// residuals/res-N.npy (int16 [H,W] luma residual) and fields/field-N.npy (float32 [3,H/4,W/4]: dx, dy
// and mask of the past motion field).
type MVWriter struct {
	dir                  string
	npy                  bool
	ex                   *Extractor // set when residual and field tensors are written
	field                []float32
	csvF, countsF, typeF *os.File
	csv, counts, types   *bufio.Writer
	mvs                  []MotionVector
	rows                 []int32
	line                 []byte
	frames               int
}

// NewMVWriter creates dir and the output files. tensors needs frames with pixels.
func NewMVWriter(dir string, npy, tensors bool) (*MVWriter, error) {
	w := &MVWriter{dir: dir, npy: npy}
	subdirs := []string{""}
	if npy {
		subdirs = append(subdirs, "motion_vectors")
	}
	if tensors {
		w.ex = NewExtractor(ExtractorConfig{})
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
		w.Close()
		return nil, err
	}
	// A bufio.Writer keeps its first error and returns it from every later call: Close reports it.
	_, _ = w.csv.WriteString("frame,source,w,h,src_x,src_y,dst_x,dst_y,motion_x,motion_y,motion_scale\n")
	return w, nil
}

// Write writes one frame's outputs.
func (w *MVWriter) Write(f *media.Frame) error {
	var err error
	w.mvs, err = ParseMotionVectors(f.MotionVectors, w.mvs)
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
		_, _ = w.csv.Write(b) // sticky, like the writes below: Close reports it
		w.rows = append(w.rows, cols[:]...)
	}
	fmt.Fprintf(w.counts, "%d,%d\n", f.Index, len(w.mvs))
	_ = w.types.WriteByte(f.PictType)
	_ = w.types.WriteByte('\n')
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
func (w *MVWriter) writeTensors(f *media.Frame) error {
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
	err = WriteNPY(bw, dtype, shape, data)
	return errors.Join(err, bw.Flush(), f.Close())
}

// Frames is the number of frames written.
func (w *MVWriter) Frames() int { return w.frames }

// Close flushes and closes the output files.
func (w *MVWriter) Close() error {
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
	if w.ex != nil {
		w.ex.Close()
		w.ex = nil
	}
	return errors.Join(errs...)
}
