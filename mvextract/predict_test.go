package mvextract

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInterpolationMatchesScalar checks the eight-pixels-at-once interpolation against the plain formula
// for every weight, extreme pixel values and lengths that leave scalar tails.
func TestInterpolationMatchesScalar(t *testing.T) {
	seed := uint32(7)
	src := make([][]byte, 4)
	for i := range src {
		src[i] = make([]byte, 40)
		for j := range src[i] {
			seed = seed*1664525 + 1013904223
			src[i][j] = byte(seed >> 24)
			if j%7 == 0 {
				src[i][j] = 255
			}
		}
	}
	for _, n := range []int{1, 7, 8, 9, 16, 23, 40} {
		d := make([]byte, n)
		for fx := 0; fx < 16; fx++ {
			lerp2(d, src[0], src[1], uint64(16-fx), uint64(fx))
			for x := range d {
				require.Equal(t, byte((int(src[0][x])*(16-fx)+int(src[1][x])*fx+8)>>4), d[x], "lerp2 n %d fx %d x %d", n, fx, x)
			}
			for fy := 0; fy < 16; fy++ {
				// Two output rows from three source rows of stride 40 (src[0..2] back to back).
				plane := append(append(append([]byte(nil), src[0]...), src[1]...), src[2]...)
				out := make([]byte, 2*n)
				w00, w01, w10, w11 := (16-fx)*(16-fy), fx*(16-fy), (16-fx)*fy, fx*fy
				lerp4Block(out, n, plane, 40, min(n, 39), 2, uint64(w00), uint64(w01), uint64(w10), uint64(w11))
				for y := 0; y < 2; y++ {
					for x := 0; x < min(n, 39); x++ {
						a, b := src[y], src[y+1]
						want := (int(a[x])*w00 + int(a[x+1])*w01 + int(b[x])*w10 + int(b[x+1])*w11 + 128) >> 8
						require.Equal(t, byte(want), out[y*n+x], "lerp4Block n %d fx %d fy %d x %d y %d", n, fx, fy, x, y)
					}
				}
			}
		}
	}
}

// TestPredictBorderClamp checks prediction from far outside the frame: every pixel comes from the
// nearest border pixel.
func TestPredictBorderClamp(t *testing.T) {
	const w, h = 24, 16
	ref := make([]byte, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			ref[y*w+x] = byte(10*x + y)
		}
	}
	var f Field
	require.NoError(t, f.Reset(w, h, GridCell))
	for i := range f.DX {
		f.SetPast(i, -100, 0.5) // far left, half a pixel down
	}
	pred := make([]byte, w*h)
	require.NoError(t, Predict(pred, ref, w, &f))
	require.Zero(t, testing.AllocsPerRun(10, func() { _ = Predict(pred, ref, w, &f) }))
	for y := 0; y < h; y++ {
		y1 := min(y+1, h-1)
		want := byte((int(ref[y*w]) + int(ref[y1*w]) + 1) / 2)
		for x := 0; x < w; x++ {
			require.Equal(t, want, pred[y*w+x], "x %d y %d", x, y)
		}
	}
}

// refH264 computes the H.264 luma sample at quarter-pel position (4*xi+qx, 4*yi+qy) straight from the
// standard's equations (8-241 to 8-261), with clamped integer samples.
func refH264(ref []byte, w, h, xi, yi, qx, qy int) byte {
	G := func(x, y int) int { return int(ref[clampInt(yi+y, 0, h-1)*w+clampInt(xi+x, 0, w-1)]) }
	tap := func(a, b, c, d, e, f int) int { return a - 5*b + 20*c + 20*d - 5*e + f }
	clip := func(v int) int { return min(max(v, 0), 255) }
	b1 := func(x, y int) int { return tap(G(x-2, y), G(x-1, y), G(x, y), G(x+1, y), G(x+2, y), G(x+3, y)) }
	h1 := func(x, y int) int { return tap(G(x, y-2), G(x, y-1), G(x, y), G(x, y+1), G(x, y+2), G(x, y+3)) }
	b := func(x, y int) int { return clip((b1(x, y) + 16) >> 5) }
	hh := func(x, y int) int { return clip((h1(x, y) + 16) >> 5) }
	j := clip((tap(b1(0, -2), b1(0, -1), b1(0, 0), b1(0, 1), b1(0, 2), b1(0, 3)) + 512) >> 10)
	avg := func(a, b int) byte { return byte((a + b + 1) >> 1) }
	table := [4][4]byte{
		{byte(G(0, 0)), avg(G(0, 0), b(0, 0)), byte(b(0, 0)), avg(G(1, 0), b(0, 0))},
		{avg(G(0, 0), hh(0, 0)), avg(b(0, 0), hh(0, 0)), avg(b(0, 0), j), avg(b(0, 0), hh(1, 0))},
		{byte(hh(0, 0)), avg(hh(0, 0), j), byte(j), avg(j, hh(1, 0))},
		{avg(G(0, 1), hh(0, 0)), avg(hh(0, 0), b(0, 1)), avg(j, b(0, 1)), avg(hh(1, 0), b(0, 1))},
	}
	return table[qy][qx]
}

// TestPredictorH264MatchesStandard compares the H264 Predictor with refH264 for every quarter-pel
// position, on random pixels, with vectors near and past the frame borders.
func TestPredictorH264MatchesStandard(t *testing.T) {
	const w, h = 40, 24
	seed := uint32(11)
	rnd := func(n int) int {
		seed = seed*1664525 + 1013904223
		return int(seed>>8) % n
	}
	ref := make([]byte, w*h)
	for i := range ref {
		ref[i] = byte(rnd(256))
		if rnd(5) == 0 {
			ref[i] = 255 * byte(rnd(2)) // extremes exercise the clipping
		}
	}
	p := Predictor{Interpolation: H264}
	var f Field
	require.NoError(t, f.Reset(w, h, GridCell))
	pred := make([]byte, w*h)
	for trial := 0; trial < 40; trial++ {
		for i := range f.DX {
			// Quarter-pel vectors; neighbouring cells often share one, so runs of several cells occur.
			if i == 0 || rnd(3) == 0 {
				f.SetPast(i, float32(rnd(60)-30)/4, float32(rnd(60)-30)/4)
			} else {
				f.SetPast(i, f.DX[i-1], f.DY[i-1])
			}
		}
		require.NoError(t, p.Predict(pred, ref, w, &f))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				i := (y/GridCell)*f.Cols + x/GridCell
				qx4, qy4 := int(f.mv16x[i]>>2), int(f.mv16y[i]>>2) // quarter-pel units
				want := refH264(ref, w, h, x+(qx4>>2), y+(qy4>>2), qx4&3, qy4&3)
				require.Equal(t, want, pred[y*w+x], "trial %d pixel %d,%d vector %d/4,%d/4", trial, x, y, qx4, qy4)
			}
		}
	}
}
