package mvextract

// Suppress removes the motion inside masked cells from the frame's features, as if nothing moved
// there: cells[r*Cols+c] true (on the Field's grid, f.Field.Cols x f.Field.Rows) zeroes the cell's
// past and future displacements and mask, the luma residual of its pixels (and the chroma residual of
// the matching chroma pixels), and drops the vectors whose block centre lies in a masked cell. A cells
// slice of another size, or nil, leaves f unchanged. Call it after Extractor.Process and before the
// Clipper or anything else reads f; the prediction and the reference frames are not affected.
func (f *Features) Suppress(cells []bool) {
	fld := f.Field
	if fld == nil || len(cells) == 0 || len(cells) != fld.Cols*fld.Rows || len(fld.DX) != len(cells) {
		return
	}
	for i, m := range cells {
		if !m {
			continue
		}
		fld.DX[i], fld.DY[i], fld.Mask[i] = 0, 0, 0
		if len(fld.FutureDX) == len(cells) {
			fld.FutureDX[i], fld.FutureDY[i], fld.FutureMask[i] = 0, 0, 0
		}
	}
	kept := f.Vectors[:0]
	for _, v := range f.Vectors {
		c, r := int(v.DstX)/fld.Cell, int(v.DstY)/fld.Cell
		if v.DstX >= 0 && v.DstY >= 0 && c < fld.Cols && r < fld.Rows && cells[r*fld.Cols+c] {
			continue
		}
		kept = append(kept, v)
	}
	f.Vectors = kept
	if f.HasResidual && len(f.Residual) >= f.Width*f.Height {
		suppressPlane(f.Residual, f.Width, f.Height, fld.Cell, fld.Cols, cells)
	}
	if f.HasResidual && f.ChromaWidth > 0 && len(f.CbResidual) >= f.ChromaWidth*f.ChromaHeight && len(f.CrResidual) >= f.ChromaWidth*f.ChromaHeight {
		suppressPlane(f.CbResidual, f.ChromaWidth, f.ChromaHeight, fld.Cell/2, fld.Cols, cells)
		suppressPlane(f.CrResidual, f.ChromaWidth, f.ChromaHeight, fld.Cell/2, fld.Cols, cells)
	}
}

// suppressPlane zeroes the pixels of a w x h plane (stride w) that fall in masked cells of cell x cell
// plane pixels.
func suppressPlane(plane []int16, w, h, cell, cols int, cells []bool) {
	if cell <= 0 {
		return
	}
	rows := len(cells) / cols
	for y := 0; y < h; y++ {
		r := y / cell
		if r >= rows {
			break
		}
		row := plane[y*w : (y+1)*w]
		mrow := cells[r*cols : (r+1)*cols]
		for c, m := range mrow {
			if !m {
				continue
			}
			x0, x1 := c*cell, min((c+1)*cell, w)
			if x0 < x1 {
				clear(row[x0:x1])
			}
		}
	}
}
