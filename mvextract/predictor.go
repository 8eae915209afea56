package mvextract

import (
	"encoding/binary"
	"fmt"
)

// Interpolation selects how a Predictor computes samples at sub-pel positions.
type Interpolation int

const (
	// Bilinear interpolates every sub-pel position from the four nearest pixels (see Predict). It is the
	// default: the cheapest, and exact for MPEG-4 Part 2 half-pel vectors.
	Bilinear Interpolation = iota
	// H264 uses H.264's luma interpolation (ITU-T H.264 8.4.2.2.1: the 6-tap filter (1, -5, 20, 20, -5, 1)
	// for half-pel samples, averages for quarter-pel ones) for quarter-pel vectors, so that for P-frames
	// coded with one reference frame and no sub-8x8 partitions the prediction is the decoder's own and the
	// residual is what the encoder coded (plus the deblocking filter's changes). Vectors that are not on
	// the quarter-pel grid use Bilinear. It costs about twice as much.
	H264
)

// String names the interpolation as the command-line flags do.
func (i Interpolation) String() string {
	switch i {
	case Bilinear:
		return "bilinear"
	case H264:
		return "h264"
	}
	return fmt.Sprintf("Interpolation(%d)", int(i))
}

// ParseInterpolation parses "bilinear" or "h264".
func ParseInterpolation(s string) (Interpolation, error) {
	switch s {
	case "bilinear":
		return Bilinear, nil
	case "h264":
		return H264, nil
	}
	return 0, fmt.Errorf("mvextract: unknown interpolation %q (want bilinear or h264)", s)
}

// Predictor computes motion-compensated predictions with a chosen interpolation, keeping its scratch
// buffers between calls. The zero value uses Bilinear. It is not safe for concurrent use.
type Predictor struct {
	// Interpolation defaults to Bilinear.
	Interpolation Interpolation

	win        []uint8 // reference window with a 2/3-pixel margin, borders clamped
	b1         []int32 // unrounded horizontal half-pel sums over the window's rows
	bp, hp, jp []uint8 // rounded half-pel planes b, h and j of the block
	done       []bool  // cells already predicted
}

// Predict is like the package-level Predict with p's interpolation.
func (p *Predictor) Predict(pred, ref []byte, refStride int, f *Field) error {
	if p.Interpolation != Bilinear && p.Interpolation != H264 {
		return fmt.Errorf("mvextract: unknown interpolation %d", p.Interpolation)
	}
	if err := checkPredict(pred, ref, refStride, f); err != nil {
		return err
	}
	p.predictBand(pred, ref, refStride, f, 0, f.Rows)
	return nil
}

// predictBand predicts the cell rows [r0, r1) of a checked field.
func (p *Predictor) predictBand(pred, ref []byte, refStride int, f *Field, r0, r1 int) {
	if p.Interpolation == Bilinear {
		predictRows(pred, ref, refStride, f, r0, r1)
		return
	}
	// Walk the band in rectangles of cells that share one vector (greedily: the longest run of a row,
	// extended down while the rows below match), so that the H.264 path interpolates a 16x16 macroblock
	// as one block, not four with overlapping filter margins.
	w, h, cell, cols := f.Width, f.Height, f.Cell, f.Cols
	p.done = resizeZero(p.done, cols*(r1-r0))
	done := p.done // row r of the band at (r-r0)*cols
	for r := r0; r < r1; r++ {
		row, drow := r*cols, (r-r0)*cols
		for c := 0; c < cols; {
			if done[drow+c] {
				c++
				continue
			}
			mx, my := f.mv16x[row+c], f.mv16y[row+c]
			e := c + 1
			for e < cols && !done[drow+e] && f.mv16x[row+e] == mx && f.mv16y[row+e] == my {
				e++
			}
			r2 := r + 1
		extend:
			for ; r2 < r1; r2++ {
				o, do := r2*cols, (r2-r0)*cols
				for k := c; k < e; k++ {
					if done[do+k] || f.mv16x[o+k] != mx || f.mv16y[o+k] != my {
						break extend
					}
				}
				for k := c; k < e; k++ {
					done[do+k] = true
				}
			}
			x0, y0 := c*cell, r*cell
			p.predictRect(pred, ref, refStride, w, h, x0, y0, min(e*cell, w)-x0, min(r2*cell, h)-y0, mx, my)
			c = e
		}
	}
}

// predictRows predicts the field bilinearly in runs of cells of one cell row that share a vector.
// (Merging runs vertically as the H.264 path does measured slower here: the bookkeeping costs more than
// the calls it saves.)
func predictRows(pred, ref []byte, refStride int, f *Field, r0, r1 int) {
	w, h, cell := f.Width, f.Height, f.Cell
	for r := r0; r < r1; r++ {
		y0 := r * cell
		bh := min(cell, h-y0)
		row := r * f.Cols
		for c := 0; c < f.Cols; {
			mx, my := f.mv16x[row+c], f.mv16y[row+c]
			e := c + 1
			for e < f.Cols && f.mv16x[row+e] == mx && f.mv16y[row+e] == my {
				e++
			}
			x0 := c * cell
			predictBlock(pred, w, ref, refStride, w, h, x0, y0, min(e*cell, w)-x0, bh, mx, my)
			c = e
		}
	}
}

// h264Tile bounds the block the H.264 path interpolates at once, keeping its scratch planes small.
const h264TileW, h264TileH = 64, 16

// predictRect predicts one rectangle that shares the vector (mx, my) in 1/16 pixel.
func (p *Predictor) predictRect(pred, ref []byte, rs, w, h, x0, y0, bw, bh int, mx, my int32) {
	if p.Interpolation == Bilinear || mx&3 != 0 || my&3 != 0 || (mx&15 == 0 && my&15 == 0) {
		// Bilinear, off the quarter-pel grid, or a whole-pixel copy.
		predictBlock(pred, w, ref, rs, w, h, x0, y0, bw, bh, mx, my)
		return
	}
	for ty := 0; ty < bh; ty += h264TileH {
		for tx := 0; tx < bw; tx += h264TileW {
			p.predictH264(pred, w, ref, rs, w, h, x0+tx, y0+ty, min(h264TileW, bw-tx), min(h264TileH, bh-ty), mx, my)
		}
	}
}

func tap6(a, b, c, d, e, f int32) int32 { return a - 5*b + 20*c + 20*d - 5*e + f }

func clip255(v int32) int32 { return min(max(v, 0), 255) }

// predictH264 predicts one block with H.264's luma interpolation; (mx, my) lie on the quarter-pel grid.
// It fills the half-pel planes the position needs (b: horizontal, h: vertical, j: centre; ITU-T H.264
// figure 8-4) for the block, then writes one plane or the rounded-up average of two per row.
func (p *Predictor) predictH264(pred []byte, ps int, ref []byte, rs, w, h, x0, y0, bw, bh int, mx, my int32) {
	ix, iy := x0+int(mx>>4), y0+int(my>>4)
	qx, qy := int(mx>>2)&3, int(my>>2)&3
	// Window: rows iy-2 .. iy+bh+2, columns ix-2 .. ix+bw+2 (clamped), so G(x, y) = win[(y+2)*ww+x+2].
	ww, wh := bw+5, bh+5
	p.win = resizeNoClear(p.win, ww*wh)
	win := p.win
	for r := 0; r < wh; r++ {
		sy := clampInt(iy-2+r, 0, h-1) * rs
		dst := win[r*ww : r*ww+ww]
		if ix-2 >= 0 && ix+bw+3 <= w {
			copy(dst, ref[sy+ix-2:sy+ix-2+ww])
			continue
		}
		for c := range dst {
			dst[c] = ref[sy+clampInt(ix-2+c, 0, w-1)]
		}
	}
	needJ := (qx == 2 && qy != 0) || (qy == 2 && qx != 0)
	needB := qx != 0 && (qx == 2 || qy != 2)
	needH := qy != 0 && (qy == 2 || qx != 2)
	if qx != 0 && qy != 0 && qx != 2 && qy != 2 {
		needB, needH = true, true // e, g, p, r average b and h
	}
	if qx == 2 && qy == 2 {
		needB, needH = false, false // j alone
	}
	if needB || needJ {
		// b1: unrounded horizontal sums at (x+1/2, y) for window rows y = -2 .. bh+2.
		p.b1 = resizeNoClear(p.b1, wh*bw)
		for r := 0; r < wh; r++ {
			src := win[r*ww : r*ww+ww]
			d := p.b1[r*bw : r*bw+bw]
			for x := range d {
				d[x] = tap6(int32(src[x]), int32(src[x+1]), int32(src[x+2]), int32(src[x+3]), int32(src[x+4]), int32(src[x+5]))
			}
		}
	}
	if needB {
		// b for rows 0 .. bh (row bh is s, the half-pel sample below).
		p.bp = resizeNoClear(p.bp, (bh+1)*bw)
		for y := 0; y <= bh; y++ {
			src := p.b1[(y+2)*bw : (y+3)*bw]
			d := p.bp[y*bw : y*bw+bw][:len(src)]
			for x := range src {
				d[x] = byte(clip255((src[x] + 16) >> 5))
			}
		}
	}
	if needH {
		// h at (x, y+1/2) for x = 0 .. bw (column bw is m, the half-pel sample to the right).
		hw := bw + 1
		p.hp = resizeNoClear(p.hp, bh*hw)
		for y := 0; y < bh; y++ {
			r0 := win[y*ww+2 : y*ww+2+hw]
			r1 := win[(y+1)*ww+2 : (y+1)*ww+2+hw][:len(r0)]
			r2 := win[(y+2)*ww+2 : (y+2)*ww+2+hw][:len(r0)]
			r3 := win[(y+3)*ww+2 : (y+3)*ww+2+hw][:len(r0)]
			r4 := win[(y+4)*ww+2 : (y+4)*ww+2+hw][:len(r0)]
			r5 := win[(y+5)*ww+2 : (y+5)*ww+2+hw][:len(r0)]
			d := p.hp[y*hw : y*hw+hw][:len(r0)]
			for x := range d {
				v := tap6(int32(r0[x]), int32(r1[x]), int32(r2[x]), int32(r3[x]), int32(r4[x]), int32(r5[x]))
				d[x] = byte(clip255((v + 16) >> 5))
			}
		}
	}
	if needJ {
		p.jp = resizeNoClear(p.jp, bh*bw)
		for y := 0; y < bh; y++ {
			r0 := p.b1[y*bw : y*bw+bw]
			r1 := p.b1[(y+1)*bw : (y+2)*bw][:len(r0)]
			r2 := p.b1[(y+2)*bw : (y+3)*bw][:len(r0)]
			r3 := p.b1[(y+3)*bw : (y+4)*bw][:len(r0)]
			r4 := p.b1[(y+4)*bw : (y+5)*bw][:len(r0)]
			r5 := p.b1[(y+5)*bw : (y+6)*bw][:len(r0)]
			d := p.jp[y*bw : y*bw+bw][:len(r0)]
			for x := range d {
				d[x] = byte(clip255((tap6(r0[x], r1[x], r2[x], r3[x], r4[x], r5[x]) + 512) >> 10))
			}
		}
	}
	g := func(y, dx, dy int) []byte { return win[(y+2+dy)*ww+2+dx:][:bw] }
	b := func(y, dy int) []byte { return p.bp[(y+dy)*bw:][:bw] }
	hh := func(y, dx int) []byte { return p.hp[y*(bw+1)+dx:][:bw] }
	j := func(y int) []byte { return p.jp[y*bw:][:bw] }
	for y := 0; y < bh; y++ {
		d := pred[(y0+y)*ps+x0 : (y0+y)*ps+x0+bw]
		var s1, s2 []byte
		switch qy<<2 | qx {
		case 0<<2 | 1: // a
			s1, s2 = g(y, 0, 0), b(y, 0)
		case 0<<2 | 2: // b
			s1 = b(y, 0)
		case 0<<2 | 3: // c
			s1, s2 = g(y, 1, 0), b(y, 0)
		case 1 << 2: // d (qx 0)
			s1, s2 = g(y, 0, 0), hh(y, 0)
		case 2 << 2: // h (qx 0)
			s1 = hh(y, 0)
		case 3 << 2: // n (qx 0)
			s1, s2 = g(y, 0, 1), hh(y, 0)
		case 1<<2 | 1: // e
			s1, s2 = b(y, 0), hh(y, 0)
		case 1<<2 | 3: // g
			s1, s2 = b(y, 0), hh(y, 1)
		case 3<<2 | 1: // p
			s1, s2 = hh(y, 0), b(y, 1)
		case 3<<2 | 3: // r
			s1, s2 = hh(y, 1), b(y, 1)
		case 1<<2 | 2: // f
			s1, s2 = b(y, 0), j(y)
		case 3<<2 | 2: // q
			s1, s2 = j(y), b(y, 1)
		case 2<<2 | 1: // i
			s1, s2 = hh(y, 0), j(y)
		case 2<<2 | 3: // k
			s1, s2 = j(y), hh(y, 1)
		case 2<<2 | 2: // j
			s1 = j(y)
		}
		if s2 == nil {
			copy(d, s1)
		} else {
			avgRow(d, s1, s2)
		}
	}
}

// avgRow writes d[x] = (s1[x] + s2[x] + 1) >> 1, eight bytes at a time: (a | b) - ((a ^ b) >> 1) per byte.
func avgRow(d, s1, s2 []byte) {
	s1, s2 = s1[:len(d)], s2[:len(d)]
	x := 0
	for ; x+8 <= len(d); x += 8 {
		a, b := binary.LittleEndian.Uint64(s1[x:]), binary.LittleEndian.Uint64(s2[x:])
		binary.LittleEndian.PutUint64(d[x:], (a|b)-((a^b)>>1&0x7F7F7F7F7F7F7F7F))
	}
	for ; x < len(d); x++ {
		d[x] = byte((int(s1[x]) + int(s2[x]) + 1) >> 1)
	}
}
