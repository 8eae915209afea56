package mvextract

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/media"
)

func TestResidualGlobalMotion(t *testing.T) {
	const w, h, stride = 168, 100, 192 // partial macroblocks, padded rows
	for _, tc := range []struct {
		name   string
		dx, dy float64
		limit  float64 // mean |residual| allowed away from the borders
	}{
		{"integer", 3, -2, 0},
		{"quarter-pel", 1.25, 0.75, 1.0},
		{"half-pel", -2.5, 0.5, 1.0},
		{"vertical quarter", 0, -1.75, 1.0},
		{"horizontal quarter", 2.25, 0, 1.0},
		{"large", -13.5, 9.25, 1.0},
	} {
		for _, interp := range []Interpolation{Bilinear, H264} {
			t.Run(tc.name+"/"+interp.String(), func(t *testing.T) {
				ext := NewExtractor(ExtractorConfig{Interpolation: interp})
				// The scene moves by (-dx, -dy) per frame: frame n samples the texture at offset n*(dx, dy),
				// so pixel (x, y) of frame n equals pixel (x+dx, y+dy) of frame n-1.
				mvs := globalVectors(w, h, tc.dx, tc.dy)
				for n := 0; n < 3; n++ {
					y := scenePlane(w, h, stride, float64(n)*tc.dx, float64(n)*tc.dy)
					var prev []byte
					if n > 0 {
						prev = scenePlane(w, h, stride, float64(n-1)*tc.dx, float64(n-1)*tc.dy)
					}
					var side []MotionVector
					pict := byte('I')
					if n > 0 {
						side, pict = mvs, 'P'
					}
					feat, err := ext.Process(frameOf(n, pict, w, h, stride, y, side))
					require.NoError(t, err)
					require.True(t, feat.HasResidual)
					require.Equal(t, n > 0, feat.HasReference)
					got := make([]byte, w*h)
					require.NoError(t, Reconstruct(got, feat.Prediction, feat.Residual, w, h))
					require.Zero(t, meanAbsDiff(got, w, y, stride, 0, 0, w, h), "reconstruction is exact")
					if n == 0 {
						require.Zero(t, meanAbs(feat.Residual, w, 0, 0, w, h))
						continue
					}
					m := 2 + int(max(abs64(tc.dx), abs64(tc.dy))) + 1
					res := meanAbs(feat.Residual, w, m, m, w-m, h-m)
					diff := meanAbsDiff(y, stride, prev, stride, m, m, w-m, h-m)
					t.Logf("mean |residual| %.3f, mean |frame difference| %.3f", res, diff)
					require.LessOrEqual(t, res, tc.limit)
					require.Greater(t, diff, 5.0)
				}
			})
		}
	}
}

func abs64(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func TestResidualNewObject(t *testing.T) {
	const w, h = 160, 96
	ext := NewExtractor(ExtractorConfig{})
	ref := scenePlane(w, h, w, 0, 0)
	_, err := ext.Process(frameOf(0, 'I', w, h, w, ref, nil))
	require.NoError(t, err)
	cur := append([]byte(nil), ref...)
	const ox, oy, os = 64, 32, 24
	for y := oy; y < oy+os; y++ {
		for x := ox; x < ox+os; x++ {
			cur[y*w+x] = byte(255 - int(ref[y*w+x])/4)
		}
	}
	// Static background: zero vectors everywhere except the object's macroblocks, coded intra.
	var mvs []MotionVector
	for _, mv := range globalVectors(w, h, 0, 0) {
		if int(mv.DstX) > ox-8 && int(mv.DstX) < ox+os+8 && int(mv.DstY) > oy-8 && int(mv.DstY) < oy+os+8 {
			continue
		}
		mvs = append(mvs, mv)
	}
	feat, err := ext.Process(frameOf(1, 'P', w, h, w, cur, mvs))
	require.NoError(t, err)
	inside := meanAbs(feat.Residual, w, ox, oy, ox+os, oy+os)
	require.Greater(t, inside, 50.0)
	require.Zero(t, meanAbs(feat.Residual, w, 0, 0, w, oy))
	require.Zero(t, meanAbs(feat.Residual, w, 0, oy+os, w, h))
	// The intra macroblocks have no vector in the field.
	require.Zero(t, feat.Field.Mask[(oy/4+1)*feat.Field.Cols+ox/4+1])
	require.EqualValues(t, 1, feat.Field.Mask[0])
}

// TestReconstructRandomVectors checks exact reconstruction for arbitrary vectors, including ones that
// point far outside the frame.
func TestReconstructRandomVectors(t *testing.T) {
	const w, h = 72, 40
	ext := NewExtractor(ExtractorConfig{Future: true, Chroma: true})
	seed := uint32(1)
	rnd := func(n int) int {
		seed = seed*1664525 + 1013904223
		return int(seed>>8) % n
	}
	for n := 0; n < 6; n++ {
		y := make([]byte, w*h)
		for i := range y {
			y[i] = byte(rnd(256))
		}
		var mvs []MotionVector
		for i := 0; i < 20; i++ {
			mvs = append(mvs, vector(int32(rnd(2)*2-1), uint8(4+rnd(4)*4), uint8(4+rnd(4)*4),
				rnd(w+20)-10, rnd(h+20)-10, int32(rnd(2000)-1000), int32(rnd(2000)-1000), uint16(1+rnd(4))))
		}
		fr := frameOf(n, 'P', w, h, w, y, mvs)
		feat, err := ext.Process(fr)
		require.NoError(t, err)
		got := make([]byte, w*h)
		require.NoError(t, Reconstruct(got, feat.Prediction, feat.Residual, w, h))
		require.Equal(t, y, got)
		cw, ch := feat.ChromaWidth, feat.ChromaHeight
		require.Equal(t, [2]int{36, 20}, [2]int{cw, ch})
		for _, pl := range []struct {
			pred  []byte
			res   []int16
			plane []byte
		}{{feat.CbPrediction, feat.CbResidual, fr.Cb}, {feat.CrPrediction, feat.CrResidual, fr.Cr}} {
			got := make([]byte, cw*ch)
			require.NoError(t, Reconstruct(got, pl.pred, pl.res, cw, ch))
			require.Zero(t, meanAbsDiff(got, cw, pl.plane, fr.CStride, 0, 0, cw, ch))
		}
	}
}

func TestExtractorErrorsAndReset(t *testing.T) {
	ext := NewExtractor(ExtractorConfig{})
	f := frameOf(0, 'P', 32, 32, 32, make([]byte, 32*32), nil)
	f.MotionVectors = make([]byte, 41)
	_, err := ext.Process(f)
	require.True(t, errors.Is(err, ErrSideData))
	require.Contains(t, err.Error(), "frame 0")

	f = frameOf(1, 'P', 32, 32, 32, make([]byte, 100), nil)
	_, err = ext.Process(f)
	require.True(t, errors.Is(err, ErrGeometry))

	f = frameOf(2, 'P', 0, 32, 32, make([]byte, 100), nil)
	_, err = ext.Process(f)
	require.True(t, errors.Is(err, ErrGeometry))

	// Chroma planes too short for the frame.
	chroma := NewExtractor(ExtractorConfig{Chroma: true})
	f = frameOf(2, 'P', 32, 32, 32, make([]byte, 32*32), nil)
	f.Cb = f.Cb[:10]
	_, err = chroma.Process(f)
	require.True(t, errors.Is(err, ErrGeometry))

	// Motion vectors only: no residual, no reference kept.
	feat, err := ext.Process(&media.Frame{Index: 3, PictType: 'P', Width: 32, Height: 32,
		MotionVectors: packAll(globalVectors(32, 32, 1, 0))})
	require.NoError(t, err)
	require.False(t, feat.HasResidual)
	require.Len(t, feat.Vectors, 4)
	require.Equal(t, float32(1), feat.Field.DX[0])

	feat, err = ext.Process(frameOf(4, 'P', 32, 32, 32, make([]byte, 32*32), nil))
	require.NoError(t, err)
	require.False(t, feat.HasReference)
	feat, err = ext.Process(frameOf(5, 'P', 32, 32, 32, make([]byte, 32*32), nil))
	require.NoError(t, err)
	require.True(t, feat.HasReference)
	// A size change drops the reference.
	feat, err = ext.Process(frameOf(6, 'P', 48, 32, 48, make([]byte, 48*32), nil))
	require.NoError(t, err)
	require.False(t, feat.HasReference)
	ext.Reset()
	feat, err = ext.Process(frameOf(7, 'P', 48, 32, 48, make([]byte, 48*32), nil))
	require.NoError(t, err)
	require.False(t, feat.HasReference)
}

func TestExtractorSteadyStateAllocatesNothing(t *testing.T) {
	const w, h = 320, 180
	frames := []*media.Frame{
		frameOf(0, 'P', w, h, w+32, scenePlane(w, h, w+32, 0, 0), globalVectors(w, h, 1.25, -0.5)),
		frameOf(1, 'P', w, h, w+32, scenePlane(w, h, w+32, 1.25, -0.5), globalVectors(w, h, 1.25, -0.5)),
	}
	for _, interp := range []Interpolation{Bilinear, H264} {
		ext := NewExtractor(ExtractorConfig{Future: true, Interpolation: interp, Chroma: true})
		for _, f := range frames {
			_, err := ext.Process(f)
			require.NoError(t, err)
		}
		n := 0
		allocs := testing.AllocsPerRun(50, func() {
			if _, err := ext.Process(frames[n%2]); err != nil {
				t.Fatal(err)
			}
			n++
		})
		require.Zero(t, allocs, interp.String())
	}
}

// FuzzExtractor feeds arbitrary side data and frame sizes through Process (both interpolations) and
// Clipper.Push: no panic, errors wrap the package sentinels, and reconstruction stays exact.
func FuzzExtractor(f *testing.F) {
	f.Add(uint8(33), uint8(17), false, packAll(globalVectors(33, 17, 1.25, -0.5)))
	f.Add(uint8(16), uint8(16), true, packAll([]MotionVector{vector(1, 16, 16, 8, 8, -9, 3, 4), vector(-1, 8, 8, 100, -40, 30000, -30000, 1)}))
	f.Add(uint8(1), uint8(1), false, []byte{})
	f.Fuzz(func(t *testing.T, w8, h8 uint8, h264 bool, side []byte) {
		w, h := int(w8)%80+1, int(h8)%60+1
		interp := Bilinear
		if h264 {
			interp = H264
		}
		ext := NewExtractor(ExtractorConfig{Future: true, Interpolation: interp, Chroma: w8%2 == 0})
		cl, err := NewClipper(ClipConfig{Length: 2, Width: 7, Height: 5, Accumulate: true, AbsResidual: true})
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < 3; n++ {
			y := make([]byte, w*h)
			for i := range y {
				y[i] = byte(i*7 + n*31)
			}
			if _, err := ext.Process(frameOf(n, 'P', w, h, w, y, nil)); err != nil {
				t.Fatal(err)
			}
			fr := frameOf(n, 'P', w, h, w, y, nil)
			fr.MotionVectors = side
			feat, err := ext.Process(fr)
			if err != nil {
				if !errors.Is(err, ErrSideData) {
					t.Fatalf("error %v wraps no sentinel", err)
				}
				return
			}
			got := make([]byte, w*h)
			if err := Reconstruct(got, feat.Prediction, feat.Residual, w, h); err != nil {
				t.Fatal(err)
			}
			if string(got) != string(y) {
				t.Fatal("reconstruction differs")
			}
			if _, err := cl.Push(feat); err != nil {
				t.Fatal(err)
			}
		}
	})
}
