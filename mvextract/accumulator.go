package mvextract

import "math"

// accumulator implements CoViAR-style accumulation: motion and residual traced back to the last I-frame.
// With d_t the displacement of frame t toward its reference frame p (the Field; p is t-1, or the last
// I/P-frame with PreviousAnchor) and r_t its residual,
//
//	D_t(x) = d_t(x) + D_p(x + d_t(x)),  R_t(x) = r_t(x) + R_p(x + d_t(x)),
//
// so that frame t ≈ I-frame(x + D_t(x)) + R_t(x). D and R are zero at an I-frame (and at any frame
// whose reference state is unknown). D lives on the 4x4 cell grid (source positions rounded to the
// nearest cell); R is per pixel, moved by the cell's displacement rounded to whole pixels, and saturates
// at the int16 range. Cells without a past vector carry D and R over unmoved. The states of the previous
// frame and of the last I/P-frame are kept, so either can be the reference.
type accumulator struct {
	w, h, cols, rows   int
	prev, anchor, next accState
}

// accState is the accumulated displacement and residual of one frame.
type accState struct {
	dx, dy []float32
	res    []int16
	index  int
	valid  bool
}

func (s *accState) size(cells, pixels int) {
	s.dx, s.dy = resizeNoClear(s.dx, cells), resizeNoClear(s.dy, cells)
	s.res = resizeNoClear(s.res, pixels)
}

// step advances the accumulation by one frame. It returns the accumulated displacement (cell grid) and
// residual (stride w, nil when the frame has no residual), valid until the next step.
func (a *accumulator) step(f *Features) (dx, dy []float32, res []int16) {
	fld := f.Field
	if fld.Width != a.w || fld.Height != a.h || fld.Cols != a.cols || fld.Rows != a.rows {
		a.w, a.h, a.cols, a.rows = fld.Width, fld.Height, fld.Cols, fld.Rows
		a.prev.valid, a.anchor.valid = false, false
	}
	n := a.cols * a.rows
	a.prev.size(n, a.w*a.h)
	a.anchor.size(n, a.w*a.h)
	a.next.size(n, a.w*a.h)
	// The state to build on: the reference frame's.
	var base *accState
	switch {
	case !f.HasResidual:
		if a.prev.valid && a.prev.index == f.Index-1 {
			base = &a.prev // motion only: the previous frame
		}
	case f.HasReference && a.prev.valid && a.prev.index == f.ReferenceIndex:
		base = &a.prev
	case f.HasReference && a.anchor.valid && a.anchor.index == f.ReferenceIndex:
		base = &a.anchor
	}
	nx := &a.next
	if base == nil || f.PictType == 'I' || f.KeyFrame {
		clear(nx.dx)
		clear(nx.dy)
		clear(nx.res)
	} else {
		a.trace(f, base, nx)
	}
	nx.index, nx.valid = f.Index, true
	if f.PictType != 'B' && f.PictType != 'b' {
		copy(a.anchor.dx, nx.dx)
		copy(a.anchor.dy, nx.dy)
		copy(a.anchor.res, nx.res)
		a.anchor.index, a.anchor.valid = nx.index, true
	}
	a.prev, a.next = a.next, a.prev
	if !f.HasResidual {
		return a.prev.dx, a.prev.dy, nil
	}
	return a.prev.dx, a.prev.dy, a.prev.res
}

// trace computes the accumulated state of frame f into nx from its reference's state base.
func (a *accumulator) trace(f *Features, base, nx *accState) {
	fld := f.Field
	cell := fld.Cell
	for r := 0; r < a.rows; r++ {
		// Displacements: trace each cell's centre back to the cell it came from.
		cy := float32(r*cell + cell/2)
		for c := 0; c < a.cols; c++ {
			i := r*a.cols + c
			ddx, ddy := fld.DX[i], fld.DY[i]
			sc := clampInt(floorF(float32(c*cell+cell/2)+ddx)/cell, 0, a.cols-1)
			sr := clampInt(floorF(cy+ddy)/cell, 0, a.rows-1)
			nx.dx[i] = ddx + base.dx[sr*a.cols+sc]
			nx.dy[i] = ddy + base.dy[sr*a.cols+sc]
		}
		if !f.HasResidual {
			continue
		}
		// Residuals: runs of cells whose displacement rounds to the same whole-pixel offset.
		y0, y1 := r*cell, min(r*cell+cell, a.h)
		row := r * a.cols
		for c := 0; c < a.cols; {
			ox, oy := roundF(fld.DX[row+c]), roundF(fld.DY[row+c])
			e := c + 1
			for e < a.cols && roundF(fld.DX[row+e]) == ox && roundF(fld.DY[row+e]) == oy {
				e++
			}
			x0, x1 := c*cell, min(e*cell, a.w)
			for y := y0; y < y1; y++ {
				cur := f.Residual[y*a.w+x0 : y*a.w+x1]
				out := nx.res[y*a.w+x0 : y*a.w+x1][:len(cur)]
				sy := clampInt(y+oy, 0, a.h-1) * a.w
				if x0+ox >= 0 && x1+ox <= a.w {
					old := base.res[sy+x0+ox : sy+x1+ox][:len(cur)]
					for x := range cur {
						out[x] = sat16(int32(cur[x]) + int32(old[x]))
					}
					continue
				}
				for x := range cur {
					out[x] = sat16(int32(cur[x]) + int32(base.res[sy+clampInt(x0+x+ox, 0, a.w-1)]))
				}
			}
			c = e
		}
	}
	if !f.HasResidual {
		clear(nx.res)
	}
}

// floorF is floor(v) as an int (v well inside the int range).
func floorF(v float32) int {
	i := int(v)
	if float32(i) > v {
		i--
	}
	return i
}

// roundF rounds half away from zero.
func roundF(v float32) int {
	if v < 0 {
		return -int(0.5 - v)
	}
	return int(v + 0.5)
}

func sat16(v int32) int16 {
	return int16(min(max(v, math.MinInt16), math.MaxInt16))
}
