package mvextract

import "math"

// accumulator implements CoViAR-style accumulation: motion and residual traced back to the last I-frame.
// With d_t the displacement of frame t toward frame t-1 (the Field) and r_t its residual,
//
//	D_t(x) = d_t(x) + D_{t-1}(x + d_t(x)),  R_t(x) = r_t(x) + R_{t-1}(x + d_t(x)),
//
// so that frame t ≈ I-frame(x + D_t(x)) + R_t(x). D and R are zero at an I-frame (and at any frame
// without a reference). D lives on the 4x4 cell grid (source positions rounded to the nearest cell);
// R is per pixel, moved by the cell's displacement rounded to whole pixels, and saturates at the int16
// range. Cells without a past vector carry D and R over unmoved.
type accumulator struct {
	w, h, cols, rows int
	valid            bool
	dx, dy, ndx, ndy []float32
	res, nres        []int16
}

// step advances the accumulation by one frame. It returns the accumulated displacement (cell grid) and
// residual (stride w, nil when the frame has no residual).
func (a *accumulator) step(f *Features) (dx, dy []float32, res []int16) {
	fld := f.Field
	if fld.Width != a.w || fld.Height != a.h || fld.Cols != a.cols || fld.Rows != a.rows {
		a.w, a.h, a.cols, a.rows = fld.Width, fld.Height, fld.Cols, fld.Rows
		a.valid = false
	}
	n := a.cols * a.rows
	a.dx, a.dy = resizeNoClear(a.dx, n), resizeNoClear(a.dy, n)
	a.ndx, a.ndy = resizeNoClear(a.ndx, n), resizeNoClear(a.ndy, n)
	a.res, a.nres = resizeNoClear(a.res, a.w*a.h), resizeNoClear(a.nres, a.w*a.h)
	restart := !a.valid || f.PictType == 'I' || f.KeyFrame || (f.HasResidual && !f.HasReference)
	if restart {
		clear(a.dx)
		clear(a.dy)
		clear(a.res)
		a.valid = true
		return a.dx, a.dy, a.residual(f)
	}
	cell := fld.Cell
	for r := 0; r < a.rows; r++ {
		// Displacements: trace each cell's centre back to the cell it came from.
		cy := float32(r*cell + cell/2)
		for c := 0; c < a.cols; c++ {
			i := r*a.cols + c
			ddx, ddy := fld.DX[i], fld.DY[i]
			sc := clampInt(floorF(float32(c*cell+cell/2)+ddx)/cell, 0, a.cols-1)
			sr := clampInt(floorF(cy+ddy)/cell, 0, a.rows-1)
			a.ndx[i] = ddx + a.dx[sr*a.cols+sc]
			a.ndy[i] = ddy + a.dy[sr*a.cols+sc]
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
				out := a.nres[y*a.w+x0 : y*a.w+x1][:len(cur)]
				sy := clampInt(y+oy, 0, a.h-1) * a.w
				if x0+ox >= 0 && x1+ox <= a.w {
					old := a.res[sy+x0+ox : sy+x1+ox][:len(cur)]
					for x := range cur {
						out[x] = sat16(int32(cur[x]) + int32(old[x]))
					}
					continue
				}
				for x := range cur {
					out[x] = sat16(int32(cur[x]) + int32(a.res[sy+clampInt(x0+x+ox, 0, a.w-1)]))
				}
			}
			c = e
		}
	}
	a.dx, a.ndx = a.ndx, a.dx
	a.dy, a.ndy = a.ndy, a.dy
	if !f.HasResidual {
		clear(a.res)
		return a.dx, a.dy, nil
	}
	a.res, a.nres = a.nres, a.res
	return a.dx, a.dy, a.res
}

// residual returns the frame's residual after a restart (zero: the I-frame is its own reference).
func (a *accumulator) residual(f *Features) []int16 {
	if !f.HasResidual {
		return nil
	}
	return a.res
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
