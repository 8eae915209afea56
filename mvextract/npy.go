package mvextract

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ErrNPY is wrapped by errors about .npy arguments.
var ErrNPY = errors.New("mvextract: bad .npy request")

// npyHeaderLen is the fixed header size NPYStream reserves, so the final shape fits when it rewrites it.
const npyHeaderLen = 128

// WriteNPY writes data as a NumPy .npy file (format 1.0, little-endian, C order) of the given shape.
// dtype is "float32", "int32", "int16" or "uint8", and data the matching slice ([]float32, []int32,
// []int16, []byte) with exactly the product of shape elements.
func WriteNPY(w io.Writer, dtype string, shape []int, data any) error {
	n, err := npyCheck(dtype, shape, data)
	if err != nil {
		return err
	}
	hdr, err := npyHeader(dtype, shape, 0)
	if err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("write .npy header: %w", err)
	}
	return npyData(w, data, n)
}

// NPYStream writes a .npy file whose first dimension grows as rows are appended, for outputs too large to
// hold in memory: it reserves a fixed-size header and rewrites it with the final shape on Close.
type NPYStream struct {
	w     io.WriteSeeker
	dtype string
	inner []int
	per   int
	rows  int
}

// NewNPYStream starts a .npy stream on w (positioned at its start) with rows of shape inner.
func NewNPYStream(w io.WriteSeeker, dtype string, inner []int) (*NPYStream, error) {
	s := &NPYStream{w: w, dtype: dtype, inner: append([]int(nil), inner...), per: 1}
	for _, d := range inner {
		if d < 0 {
			return nil, fmt.Errorf("%w: negative dimension in %v", ErrNPY, inner)
		}
		s.per *= d
	}
	hdr, err := npyHeader(dtype, append([]int{0}, inner...), npyHeaderLen)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(hdr); err != nil {
		return nil, fmt.Errorf("write .npy header: %w", err)
	}
	return s, nil
}

// Append writes whole rows: data's length must be a multiple of the row size.
func (s *NPYStream) Append(data any) error {
	n, err := npyLen(s.dtype, data)
	if err != nil {
		return err
	}
	if s.per == 0 || n%s.per != 0 {
		return fmt.Errorf("%w: %d values are not whole rows of %v", ErrNPY, n, s.inner)
	}
	if err := npyData(s.w, data, n); err != nil {
		return err
	}
	s.rows += n / s.per
	return nil
}

// Rows is the number of rows appended so far.
func (s *NPYStream) Rows() int { return s.rows }

// Close rewrites the header with the final number of rows. It does not close the underlying writer.
func (s *NPYStream) Close() error {
	hdr, err := npyHeader(s.dtype, append([]int{s.rows}, s.inner...), npyHeaderLen)
	if err != nil {
		return err
	}
	if _, err := s.w.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewrite .npy header: %w", err)
	}
	if _, err := s.w.Write(hdr); err != nil {
		return fmt.Errorf("rewrite .npy header: %w", err)
	}
	_, err = s.w.Seek(0, io.SeekEnd)
	return err
}

func npyDescr(dtype string) (string, error) {
	switch dtype {
	case "float32":
		return "<f4", nil
	case "int32":
		return "<i4", nil
	case "int16":
		return "<i2", nil
	case "uint8":
		return "|u1", nil
	}
	return "", fmt.Errorf("%w: dtype %q (want float32, int32, int16 or uint8)", ErrNPY, dtype)
}

// npyHeader returns the magic, version, header length and header dict, padded with spaces to size bytes
// in all when size > 0, else to a multiple of 64.
func npyHeader(dtype string, shape []int, size int) ([]byte, error) {
	descr, err := npyDescr(dtype)
	if err != nil {
		return nil, err
	}
	dims := make([]string, len(shape))
	for i, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("%w: negative dimension in %v", ErrNPY, shape)
		}
		dims[i] = strconv.Itoa(d)
	}
	tuple := "(" + strings.Join(dims, ", ") + ")"
	if len(shape) == 1 {
		tuple = "(" + dims[0] + ",)"
	}
	dict := "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + tuple + ", }"
	const pre = 10 // magic (6), version (2), header length (2)
	total := size
	if total == 0 {
		// As NumPy does: room for the first dimension to grow to 21 digits, then 64-byte alignment.
		grow := 0
		if len(shape) > 0 {
			grow = max(21-len(dims[0]), 0)
		}
		total = (pre + len(dict) + grow + 1 + 63) / 64 * 64
	}
	if pre+len(dict)+1 > total {
		return nil, fmt.Errorf("%w: shape %v does not fit a %d-byte header", ErrNPY, shape, total)
	}
	b := make([]byte, 0, total)
	b = append(b, "\x93NUMPY\x01\x00"...)
	b = binary.LittleEndian.AppendUint16(b, uint16(total-pre))
	b = append(b, dict...)
	for len(b) < total-1 {
		b = append(b, ' ')
	}
	return append(b, '\n'), nil
}

func npyLen(dtype string, data any) (int, error) {
	n := -1
	switch d := data.(type) {
	case []float32:
		if dtype == "float32" {
			n = len(d)
		}
	case []int32:
		if dtype == "int32" {
			n = len(d)
		}
	case []int16:
		if dtype == "int16" {
			n = len(d)
		}
	case []byte:
		if dtype == "uint8" {
			n = len(d)
		}
	}
	if n < 0 {
		if _, err := npyDescr(dtype); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("%w: data of type %T for dtype %s", ErrNPY, data, dtype)
	}
	return n, nil
}

func npyCheck(dtype string, shape []int, data any) (int, error) {
	n, err := npyLen(dtype, data)
	if err != nil {
		return 0, err
	}
	want := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("%w: negative dimension in %v", ErrNPY, shape)
		}
		want *= d
	}
	if n != want {
		return 0, fmt.Errorf("%w: %d values for shape %v (%d)", ErrNPY, n, shape, want)
	}
	return n, nil
}

// npyData writes the n values of data little-endian through a small buffer.
func npyData(w io.Writer, data any, n int) error {
	if b, ok := data.([]byte); ok {
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("write .npy data: %w", err)
		}
		return nil
	}
	var buf [32 << 10]byte
	for i := 0; i < n; {
		k := 0
		for ; i < n && k+4 <= len(buf); i++ {
			switch d := data.(type) {
			case []float32:
				binary.LittleEndian.PutUint32(buf[k:], math.Float32bits(d[i]))
				k += 4
			case []int32:
				binary.LittleEndian.PutUint32(buf[k:], uint32(d[i]))
				k += 4
			case []int16:
				binary.LittleEndian.PutUint16(buf[k:], uint16(d[i]))
				k += 2
			}
		}
		if _, err := w.Write(buf[:k]); err != nil {
			return fmt.Errorf("write .npy data: %w", err)
		}
	}
	return nil
}
