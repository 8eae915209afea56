package mvextract

import (
	"errors"
	"fmt"
	"math/bits"
)

// ErrGeometry is wrapped by errors about frame, grid or buffer sizes that do not fit together.
var ErrGeometry = errors.New("mvextract: bad geometry")

// maxMotion16 bounds a displacement in 1/16 pixel (±8192 pixels); larger vectors only ever reach the
// clamped border, and the bound keeps the integer arithmetic far from overflow.
const maxMotion16 = 8192 * 16

// Field is a dense motion field on a grid of square cells (4x4 pixels for the grid Fill builds, 16x16 for
// the macroblock view). Cell (c, r) covers pixels [c*Cell, (c+1)*Cell) x [r*Cell, (r+1)*Cell), clipped to
// the frame, and its values sit at index r*Cols+c.
//
// DX and DY are displacements in pixels toward the reference, as FFmpeg defines them:
// src = dst + (DX, DY), so the pixel at (x, y) of the current frame is predicted from (x+DX, y+DY) of the
// reference. A scene moving right by 2 pixels per frame gives DX = -2. Cells that no vector covers
// (intra blocks, I-frames, future-only blocks for the past field) hold 0 and have Mask 0.
type Field struct {
	// Width and Height are the frame size in pixels.
	Width, Height int
	// Cell is the cell size in pixels.
	Cell int
	// Cols and Rows are the grid size: ceil(Width/Cell) x ceil(Height/Cell).
	Cols, Rows int
	// DX, DY and Mask describe the past reference (vectors with Source < 0).
	DX, DY []float32
	Mask   []uint8
	// FutureDX, FutureDY and FutureMask describe the future reference (Source > 0). Fill sets them
	// only when asked to; otherwise they are all zero.
	FutureDX, FutureDY []float32
	FutureMask         []uint8

	// mv16x and mv16y hold the past displacement in 1/16 pixel (floor), for motion compensation.
	mv16x, mv16y []int32
	// dirty reports that DX, DY or Mask may hold non-zero values, mv16Dirty the same of mv16x/mv16y,
	// futureDirty of the future part; noMV16 that the last fill skipped mv16x/mv16y.
	dirty, mv16Dirty, futureDirty, noMV16 bool
}

// Reset sizes the field for a width x height frame with the given cell size and zeroes it, reusing its
// buffers when they are large enough.
func (f *Field) Reset(width, height, cell int) error {
	if width <= 0 || height <= 0 || cell <= 0 || width > 1<<15 || height > 1<<15 {
		return fmt.Errorf("%w: field of %dx%d pixels with %d-pixel cells", ErrGeometry, width, height, cell)
	}
	f.Width, f.Height, f.Cell = width, height, cell
	f.Cols, f.Rows = (width+cell-1)/cell, (height+cell-1)/cell
	n := f.Cols * f.Rows
	f.dirty, f.mv16Dirty, f.futureDirty, f.noMV16 = false, false, false, false
	f.DX, f.DY = resizeZero(f.DX, n), resizeZero(f.DY, n)
	f.FutureDX, f.FutureDY = resizeZero(f.FutureDX, n), resizeZero(f.FutureDY, n)
	f.Mask, f.FutureMask = resizeZero(f.Mask, n), resizeZero(f.FutureMask, n)
	f.mv16x, f.mv16y = resizeZero(f.mv16x, n), resizeZero(f.mv16y, n)
	return nil
}

// prepare sizes the field like Reset but clears it only when its geometry changes: Fill clears what
// earlier calls wrote.
func (f *Field) prepare(width, height, cell int) error {
	if width == f.Width && height == f.Height && cell == f.Cell && len(f.DX) == f.Cols*f.Rows && f.Cols*f.Rows > 0 {
		return nil
	}
	return f.Reset(width, height, cell)
}

// Fill zeroes the field (keeping its size) and paints every vector's block onto it: a block of W x H
// pixels centred at (DstX, DstY) covers the cells whose centres lie inside it; later vectors overwrite
// earlier ones. Vectors with Source < 0 go to the past field; those with Source > 0 go to the future field
// when future is true and are ignored otherwise. Blocks partly or wholly outside the frame are clipped.
// Call Reset first to size the field. Fill clears only what earlier Fill and SetPast calls wrote, so code
// that writes the exported slices directly must call Reset before the next Fill.
func (f *Field) Fill(mvs []MotionVector, future bool) error {
	return f.fill(mvs, future, true)
}

// fill is Fill; without forPrediction it skips the 1/16-pixel vectors that only Predict reads (the
// field then refuses Predict until the next full Fill).
func (f *Field) fill(mvs []MotionVector, future, forPrediction bool) error {
	if f.Cell <= 0 || f.Cols*f.Rows != len(f.DX) {
		return fmt.Errorf("%w: Fill on a field that was not Reset", ErrGeometry)
	}
	if f.dirty {
		clear(f.DX)
		clear(f.DY)
		clear(f.Mask)
	}
	if f.mv16Dirty && forPrediction {
		clear(f.mv16x)
		clear(f.mv16y)
		f.mv16Dirty = false
	}
	f.noMV16 = !forPrediction
	if f.futureDirty {
		clear(f.FutureDX)
		clear(f.FutureDY)
		clear(f.FutureMask)
	}
	f.dirty, f.futureDirty = len(mvs) > 0, false
	half := f.Cell / 2
	// Cell indices by shifts when the cell size is a power of two (always, in practice): an integer
	// division per block edge would cost more than painting the block.
	shift := -1
	if f.Cell&(f.Cell-1) == 0 {
		shift = bits.TrailingZeros(uint(f.Cell))
	}
	for i := range mvs {
		mv := &mvs[i]
		if mv.MotionScale == 0 || (mv.Source > 0 && !future) || mv.Source == 0 {
			continue
		}
		x0 := int(mv.DstX) - int(mv.W)/2
		y0 := int(mv.DstY) - int(mv.H)/2
		var c0, c1, r0, r1 int
		if shift >= 0 {
			c0, c1 = -((half - x0) >> shift), (x0+int(mv.W)-1-half)>>shift
			r0, r1 = -((half - y0) >> shift), (y0+int(mv.H)-1-half)>>shift
		} else {
			c0, c1 = ceilDiv(x0-half, f.Cell), floorDiv(x0+int(mv.W)-1-half, f.Cell)
			r0, r1 = ceilDiv(y0-half, f.Cell), floorDiv(y0+int(mv.H)-1-half, f.Cell)
		}
		c0, c1 = max(c0, 0), min(c1, f.Cols-1)
		r0, r1 = max(r0, 0), min(r1, f.Rows-1)
		if c0 > c1 || r0 > r1 {
			continue
		}
		scale := float32(mv.MotionScale)
		dx, dy := float32(mv.MotionX)/scale, float32(mv.MotionY)/scale
		n := c1 - c0 + 1
		if mv.Source > 0 {
			f.futureDirty = true
			for r := r0; r <= r1; r++ {
				o := r*f.Cols + c0
				ddx, ddy, mask := f.FutureDX[o:o+n], f.FutureDY[o:o+n:o+n], f.FutureMask[o:o+n:o+n]
				ddy, mask = ddy[:len(ddx)], mask[:len(ddx)]
				for k := range ddx {
					ddx[k], ddy[k], mask[k] = dx, dy, 1
				}
			}
			continue
		}
		if !forPrediction {
			for r := r0; r <= r1; r++ {
				o := r*f.Cols + c0
				ddx, ddy, mask := f.DX[o:o+n], f.DY[o:o+n:o+n], f.Mask[o:o+n:o+n]
				ddy, mask = ddy[:len(ddx)], mask[:len(ddx)]
				for k := range ddx {
					ddx[k], ddy[k], mask[k] = dx, dy, 1
				}
			}
			continue
		}
		f.mv16Dirty = true
		m16x := to16(mv.MotionX, mv.MotionScale)
		m16y := to16(mv.MotionY, mv.MotionScale)
		for r := r0; r <= r1; r++ {
			o := r*f.Cols + c0
			ddx, ddy, mask := f.DX[o:o+n], f.DY[o:o+n:o+n], f.Mask[o:o+n:o+n]
			mvx, mvy := f.mv16x[o:o+n:o+n], f.mv16y[o:o+n:o+n]
			ddy, mask, mvx, mvy = ddy[:len(ddx)], mask[:len(ddx)], mvx[:len(ddx)], mvy[:len(ddx)]
			for k := range ddx {
				ddx[k], ddy[k], mask[k], mvx[k], mvy[k] = dx, dy, 1, m16x, m16y
			}
		}
	}
	return nil
}

// Coarsen writes into dst a view of f with cells factor times larger (Macroblocks uses factor 4 on the
// 4x4 grid): each coarse cell holds the mean displacement of the fine cells inside it that have a vector,
// and Mask 1 when at least one has. dst's buffers are reused.
func (f *Field) Coarsen(dst *Field, factor int) error {
	if factor <= 0 || f.Cell <= 0 {
		return fmt.Errorf("%w: coarsen by %d a field with %d-pixel cells", ErrGeometry, factor, f.Cell)
	}
	if err := dst.Reset(f.Width, f.Height, f.Cell*factor); err != nil {
		return err
	}
	dst.noMV16 = f.noMV16
	for r := 0; r < dst.Rows; r++ {
		for c := 0; c < dst.Cols; c++ {
			var sx, sy, fx, fy float32
			var n, fn int
			var s16x, s16y int64
			for rr := r * factor; rr < min((r+1)*factor, f.Rows); rr++ {
				for cc := c * factor; cc < min((c+1)*factor, f.Cols); cc++ {
					i := rr*f.Cols + cc
					if f.Mask[i] != 0 {
						sx += f.DX[i]
						sy += f.DY[i]
						s16x += int64(f.mv16x[i])
						s16y += int64(f.mv16y[i])
						n++
					}
					if f.FutureMask[i] != 0 {
						fx += f.FutureDX[i]
						fy += f.FutureDY[i]
						fn++
					}
				}
			}
			o := r*dst.Cols + c
			dst.dirty = dst.dirty || n > 0
			dst.mv16Dirty = dst.mv16Dirty || n > 0
			dst.futureDirty = dst.futureDirty || fn > 0
			if n > 0 {
				dst.DX[o], dst.DY[o], dst.Mask[o] = sx/float32(n), sy/float32(n), 1
				dst.mv16x[o], dst.mv16y[o] = int32(floorDiv64(s16x, int64(n))), int32(floorDiv64(s16y, int64(n)))
			}
			if fn > 0 {
				dst.FutureDX[o], dst.FutureDY[o], dst.FutureMask[o] = fx/float32(fn), fy/float32(fn), 1
			}
		}
	}
	return nil
}

// Macroblocks writes the 16x16 macroblock view of a 4x4-cell field into dst (see Coarsen).
func (f *Field) Macroblocks(dst *Field) error {
	if f.Cell != 4 {
		return fmt.Errorf("%w: macroblock view needs a 4x4 grid, field has %d-pixel cells", ErrGeometry, f.Cell)
	}
	return f.Coarsen(dst, 4)
}

// SetPast sets the past displacement of cell i (in pixels) and marks it; tests and synthetic sources use
// it to build fields without side data. The displacement is rounded down to 1/16 pixel for prediction.
func (f *Field) SetPast(i int, dx, dy float32) {
	f.dirty, f.mv16Dirty = true, true
	f.DX[i], f.DY[i], f.Mask[i] = dx, dy, 1
	f.mv16x[i] = float16ths(dx)
	f.mv16y[i] = float16ths(dy)
}

// to16 converts motion/scale pixels to 1/16 pixel, rounding toward minus infinity.
func to16(motion int32, scale uint16) int32 {
	return clampMotion16(floorDiv64(int64(motion)*16, int64(scale)))
}

func clampMotion16(v int64) int32 {
	return int32(min(max(v, -maxMotion16), maxMotion16))
}

// float16ths converts pixels to 1/16 pixel, rounding toward minus infinity and clamping.
func float16ths(v float32) int32 {
	v *= 16
	if !(v > -maxMotion16) { // also catches NaN
		return -maxMotion16
	}
	if v > maxMotion16 {
		return maxMotion16
	}
	t := int32(v)
	if float32(t) > v {
		t--
	}
	return t
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorDiv64(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv(a, b int) int {
	return -floorDiv(-a, b)
}

// resizeZero returns s with length n and all elements zero, reallocating only when cap(s) < n.
func resizeZero[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}
