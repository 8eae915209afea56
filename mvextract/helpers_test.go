package mvextract

import (
	"math"

	"github.com/mvwatch/mvwatch/internal/media"
)

// texture is a smooth test scene: a sum of low-frequency waves, so bilinear interpolation of its samples
// stays close to the scene itself.
func texture(x, y float64) float64 {
	return 128 + 40*math.Sin(x*0.21+y*0.07) + 30*math.Cos(y*0.17-x*0.05) + 20*math.Sin((x+y)*0.11)
}

// scenePlane samples texture shifted by (sx, sy) into a w x h plane with the given stride:
// plane(x, y) = texture(x+sx, y+sy).
func scenePlane(w, h, stride int, sx, sy float64) []byte {
	p := make([]byte, stride*h)
	for i := range p {
		p[i] = 0xEE // padding that must never be read as pixels
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p[y*stride+x] = byte(math.Round(texture(float64(x)+sx, float64(y)+sy)))
		}
	}
	return p
}

// globalVectors describes a whole-frame motion: every 16x16 macroblock of a w x h frame predicted
// from (dx, dy) pixels away in the past reference, in quarter-pel as H.264 exports it.
func globalVectors(w, h int, dx, dy float64) []MotionVector {
	var mvs []MotionVector
	for my := 0; my < (h+15)/16; my++ {
		for mx := 0; mx < (w+15)/16; mx++ {
			mvs = append(mvs, vector(-1, 16, 16, mx*16+8, my*16+8, int32(math.Round(dx*4)), int32(math.Round(dy*4)), 4))
		}
	}
	return mvs
}

// vector builds an AVMotionVector the way FFmpeg's add_mb does.
func vector(source int32, w, h uint8, dstX, dstY int, motionX, motionY int32, scale uint16) MotionVector {
	return MotionVector{
		Source: source, W: w, H: h,
		DstX: int16(dstX), DstY: int16(dstY),
		SrcX: int16(int32(dstX) + motionX/int32(scale)), SrcY: int16(int32(dstY) + motionY/int32(scale)),
		MotionX: motionX, MotionY: motionY, MotionScale: scale,
	}
}

// frameOf wraps a luma plane and vectors into a media.Frame, with chroma planes (padded stride) that
// are the luma plane subsampled and inverted.
func frameOf(index int, pict byte, w, h, stride int, y []byte, mvs []MotionVector) *media.Frame {
	cw, ch := (w+1)/2, (h+1)/2
	cs := cw + 3
	cb, cr := make([]byte, cs*ch), make([]byte, cs*ch)
	for cy := 0; cy < ch; cy++ {
		for cx := 0; cx < cw; cx++ {
			var v byte
			if i := min(2*cy, h-1)*stride + min(2*cx, w-1); i < len(y) { // some tests pass short planes
				v = y[i]
			}
			cb[cy*cs+cx], cr[cy*cs+cx] = v, 255-v
		}
	}
	return &media.Frame{
		Index: index, PictType: pict, KeyFrame: pict == 'I', Width: w, Height: h,
		Y: y, YStride: stride, Cb: cb, Cr: cr, CStride: cs, MotionVectors: packAll(mvs),
	}
}

// meanAbs is the mean absolute residual over the rectangle [x0, x1) x [y0, y1) of a plane with stride w.
func meanAbs(res []int16, w, x0, y0, x1, y1 int) float64 {
	var s float64
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			s += math.Abs(float64(res[y*w+x]))
		}
	}
	return s / float64((x1-x0)*(y1-y0))
}

// meanAbsDiff is the mean absolute difference of two planes over a rectangle.
func meanAbsDiff(a []byte, as int, b []byte, bs int, x0, y0, x1, y1 int) float64 {
	var s float64
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			s += math.Abs(float64(a[y*as+x]) - float64(b[y*bs+x]))
		}
	}
	return s / float64((x1-x0)*(y1-y0))
}
