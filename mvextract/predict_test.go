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
				w00, w01, w10, w11 := (16-fx)*(16-fy), fx*(16-fy), (16-fx)*fy, fx*fy
				lerp4(d, src[0], src[1], src[2], src[3], uint64(w00), uint64(w01), uint64(w10), uint64(w11))
				for x := range d {
					want := (int(src[0][x])*w00 + int(src[1][x])*w01 + int(src[2][x])*w10 + int(src[3][x])*w11 + 128) >> 8
					require.Equal(t, byte(want), d[x], "lerp4 n %d fx %d fy %d x %d", n, fx, fy, x)
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
	for y := 0; y < h; y++ {
		y1 := min(y+1, h-1)
		want := byte((int(ref[y*w]) + int(ref[y1*w]) + 1) / 2)
		for x := 0; x < w; x++ {
			require.Equal(t, want, pred[y*w+x], "x %d y %d", x, y)
		}
	}
}
