package mvextract

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFieldFillPartitions(t *testing.T) {
	var f Field
	require.NoError(t, f.Reset(50, 34, GridCell)) // partial cells and macroblocks on both axes
	require.Equal(t, 13, f.Cols)
	require.Equal(t, 9, f.Rows)
	mvs := []MotionVector{
		vector(-1, 16, 16, 8, 8, -8, 4, 4), // MB (0,0): 16x16, (-2, +1) px
		// MB (1,0): four 8x8 partitions, centres +4 / +12 as FFmpeg exports them.
		vector(-1, 8, 8, 16+4, 4, 1, 0, 4),
		vector(-1, 8, 8, 16+12, 4, 2, 0, 4),
		vector(-1, 8, 8, 16+4, 12, 3, 0, 4),
		vector(-1, 8, 8, 16+12, 12, 4, 0, 4),
		// MB (2,0): 16x8 halves; the block reaches past the 50-pixel frame edge.
		vector(-1, 16, 8, 32+8, 4, 0, -6, 4),
		vector(-1, 16, 8, 32+8, 12, 0, 6, 4),
		// MB (0,1): 8x16 halves, past and future.
		vector(-1, 8, 16, 4, 16+8, 10, 0, 4),
		vector(1, 8, 16, 12, 16+8, -10, 0, 4),
		// MB (1,1) has no vector: intra.
		// A block wholly outside the frame is ignored.
		vector(-1, 16, 16, 200, 200, 4, 4, 4),
	}
	require.NoError(t, f.Fill(mvs, false))
	at := func(c, r int) (float32, float32, uint8) {
		i := r*f.Cols + c
		return f.DX[i], f.DY[i], f.Mask[i]
	}
	for r := 0; r < 4; r++ {
		for c := 0; c < 4; c++ {
			dx, dy, m := at(c, r)
			require.Equal(t, [3]float32{-2, 1, 1}, [3]float32{dx, dy, float32(m)}, "cell %d,%d", c, r)
		}
	}
	for i, want := range []float32{0.25, 0.5, 0.75, 1} {
		c0, r0 := 4+2*(i%2), 2*(i/2)
		for _, cr := range [][2]int{{c0, r0}, {c0 + 1, r0}, {c0, r0 + 1}, {c0 + 1, r0 + 1}} {
			dx, _, m := at(cr[0], cr[1])
			require.Equal(t, want, dx, "partition %d cell %v", i, cr)
			require.EqualValues(t, 1, m)
		}
	}
	for c := 8; c < 12; c++ {
		_, dy, _ := at(c, 1)
		require.Equal(t, float32(-1.5), dy)
		_, dy, _ = at(c, 3)
		require.Equal(t, float32(1.5), dy)
	}
	dx, _, m := at(0, 5)
	require.Equal(t, float32(2.5), dx)
	require.EqualValues(t, 1, m)
	_, _, m = at(2, 5) // future-only half, future disabled
	require.Zero(t, m)
	_, _, m = at(5, 5) // intra macroblock
	require.Zero(t, m)
	require.Zero(t, f.FutureMask[5*f.Cols+2])

	require.NoError(t, f.Fill(mvs, true))
	i := 5*f.Cols + 2
	require.EqualValues(t, 1, f.FutureMask[i])
	require.Equal(t, float32(-2.5), f.FutureDX[i])
	require.Zero(t, f.Mask[i])

	// A later Fill leaves nothing of the earlier one behind.
	var again Field
	require.NoError(t, again.Reset(50, 34, GridCell))
	require.NoError(t, again.Fill(mvs, true))
	require.NoError(t, again.Fill(mvs[1:2], false))
	var marked int
	for i := range again.Mask {
		marked += int(again.Mask[i]) + int(again.FutureMask[i])
		if again.Mask[i] == 0 {
			require.Zero(t, again.DX[i])
			require.Zero(t, again.mv16x[i])
		}
		require.Zero(t, again.FutureDX[i])
	}
	require.Equal(t, 4, marked)

	var mb Field
	require.NoError(t, f.Macroblocks(&mb))
	require.Equal(t, 4, mb.Cols)
	require.Equal(t, 3, mb.Rows)
	require.Equal(t, float32(-2), mb.DX[0])
	require.Equal(t, float32(0.625), mb.DX[1]) // mean of the four partitions
	require.Equal(t, float32(2.5), mb.DX[mb.Cols])
	require.EqualValues(t, 1, mb.FutureMask[mb.Cols])
	require.Zero(t, mb.Mask[mb.Cols+1])
}

// TestFieldMotionOnly checks the motion-only fill the Extractor uses without pixels: same displacements,
// Predict refused until a full Fill, and no stale prediction vectors afterwards.
func TestFieldMotionOnly(t *testing.T) {
	var f, g Field
	require.NoError(t, f.Reset(32, 32, GridCell))
	require.NoError(t, g.Reset(32, 32, GridCell))
	all := globalVectors(32, 32, 2.25, -1)
	require.NoError(t, f.Fill(all, false))
	require.NoError(t, f.fill(all[:1], false, false))
	require.NoError(t, g.Fill(all[:1], false))
	require.Equal(t, g.DX, f.DX)
	require.Equal(t, g.Mask, f.Mask)
	pred, ref := make([]byte, 32*32), make([]byte, 32*32)
	require.True(t, errors.Is(Predict(pred, ref, 32, &f), ErrGeometry))
	require.NoError(t, f.Fill(all[1:2], false))
	require.NoError(t, g.Fill(all[1:2], false))
	require.Equal(t, g.mv16x, f.mv16x)
	require.Equal(t, g.mv16y, f.mv16y)
	require.NoError(t, Predict(pred, ref, 32, &f))
}

func TestFieldErrors(t *testing.T) {
	var f Field
	require.True(t, errors.Is(f.Fill(nil, false), ErrGeometry))
	require.True(t, errors.Is(f.Reset(0, 10, 4), ErrGeometry))
	require.True(t, errors.Is(f.Reset(10, 10, 0), ErrGeometry))
	require.NoError(t, f.Reset(10, 10, 8))
	var mb Field
	require.True(t, errors.Is(f.Macroblocks(&mb), ErrGeometry))
	require.True(t, errors.Is(Predict(make([]byte, 10), make([]byte, 100), 10, &f), ErrGeometry))
	require.True(t, errors.Is(Residual(make([]int16, 100), make([]byte, 99), 10, make([]byte, 100), 10, 10), ErrGeometry))
	require.True(t, errors.Is(Reconstruct(make([]byte, 100), make([]byte, 100), make([]int16, 9), 10, 10), ErrGeometry))
}

// TestFieldFillCoverage checks, for random blocks and two cell sizes (a power of two and not), that Fill
// paints exactly the cells whose centres lie inside the block.
func TestFieldFillCoverage(t *testing.T) {
	seed := uint32(3)
	rnd := func(n int) int {
		seed = seed*1664525 + 1013904223
		return int(seed>>8) % n
	}
	for _, cell := range []int{4, 6} {
		var f Field
		require.NoError(t, f.Reset(70, 50, cell))
		for i := 0; i < 300; i++ {
			mv := vector(-1, uint8(1+rnd(24)), uint8(1+rnd(24)), rnd(100)-15, rnd(80)-15, 4, 0, 4)
			require.NoError(t, f.Fill([]MotionVector{mv}, false))
			x0, y0 := int(mv.DstX)-int(mv.W)/2, int(mv.DstY)-int(mv.H)/2
			for r := 0; r < f.Rows; r++ {
				for c := 0; c < f.Cols; c++ {
					cx, cy := c*cell+cell/2, r*cell+cell/2
					in := cx >= x0 && cx < x0+int(mv.W) && cy >= y0 && cy < y0+int(mv.H)
					require.Equal(t, in, f.Mask[r*f.Cols+c] == 1, "cell %d block %+v at %d,%d", cell, mv, c, r)
				}
			}
		}
	}
}
