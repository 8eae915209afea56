package mvextract

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAreaResizer(t *testing.T) {
	var r areaResizer
	// 8x4 -> 4x2: plain 2x2 block means.
	src := []int16{
		0, 2, 4, 6, 8, 10, 12, 14,
		2, 4, 6, 8, 10, 12, 14, 16,
		-4, -4, 0, 0, 4, 4, 8, 8,
		-4, -4, 0, 0, 4, 4, 8, 8,
	}
	dst := make([]float32, 8)
	r.set(8, 4, 4, 2)
	r.int16(dst, src, 8, 1, false)
	require.Equal(t, []float32{2, 6, 10, 14, -4, 0, 4, 8}, dst)
	r.int16(dst, src, 8, 0.5, true)
	require.Equal(t, []float32{1, 3, 5, 7, 2, 0, 2, 4}, dst)

	// Non-integer ratios keep the mean and constants; upsampling repeats samples.
	for _, sz := range [][4]int{{10, 7, 4, 3}, {13, 5, 64, 64}, {3, 2, 7, 5}, {1280, 720, 64, 64}, {320, 180, 112, 112}} {
		sw, sh, dw, dh := sz[0], sz[1], sz[2], sz[3]
		r.set(sw, sh, dw, dh)
		plane := make([]float32, sw*sh)
		for i := range plane {
			plane[i] = 3.5
		}
		out := make([]float32, dw*dh)
		r.float32(out, plane, sw, 2)
		for _, v := range out {
			require.InDelta(t, 7, v, 1e-4, "%v", sz)
		}
		if sw%dw != 0 && sw > dw {
			// A ramp: the output mean equals the input mean.
			var in float64
			for y := 0; y < sh; y++ {
				for x := 0; x < sw; x++ {
					plane[y*sw+x] = float32(x + 3*y)
					in += float64(x + 3*y)
				}
			}
			r.float32(out, plane, sw, 1)
			var o float64
			for _, v := range out {
				o += float64(v)
			}
			require.InDelta(t, in/float64(sw*sh), o/float64(dw*dh), 1e-3, "%v", sz)
		}
	}
}

// synthFeatures builds Features for a w x h frame with global motion (dx, dy) and a constant residual.
func synthFeatures(t testing.TB, index int, pict byte, w, h int, dx, dy float64, residual int16) *Features {
	fld := &Field{}
	require.NoError(t, fld.Reset(w, h, GridCell))
	if pict != 'I' {
		require.NoError(t, fld.Fill(globalVectors(w, h, dx, dy), false))
	}
	res := make([]int16, w*h)
	for i := range res {
		res[i] = residual
	}
	return &Features{Index: index, PictType: pict, KeyFrame: pict == 'I', Width: w, Height: h, Field: fld,
		HasResidual: true, HasReference: index > 0, ReferenceIndex: index - 1, Residual: res}
}

func TestClipperLayoutAndScaling(t *testing.T) {
	cl, err := NewClipper(ClipConfig{Length: 3, Stride: 2, Step: 2, Width: 16, Height: 8, AbsResidual: true})
	require.NoError(t, err)
	require.Equal(t, 4, cl.Config().Channels())
	var clips []Clip
	for n := 0; n < 9; n++ {
		// Frame n: displacement (-2, 1) px, residual -8n.
		clip, err := cl.Push(synthFeatures(t, n, 'P', 320, 180, -2, 1, int16(-8*n)))
		require.NoError(t, err)
		if clip != nil {
			c := *clip
			c.Data = append([]float32(nil), clip.Data...)
			c.Frames = append([]FrameInfo(nil), clip.Frames...)
			clips = append(clips, c)
		}
	}
	require.Len(t, clips, 3) // frames 0,2,4  2,4,6  4,6,8
	for i, c := range clips {
		require.Equal(t, 4, c.Channels)
		require.Len(t, c.Data, 4*3*8*16)
		for tt := 0; tt < 3; tt++ {
			n := 2*i + 2*tt
			require.Equal(t, n, c.Frames[tt].Index)
			plane := func(ch int) []float32 { return c.Data[(ch*3+tt)*128 : (ch*3+tt+1)*128] }
			for _, v := range plane(ChannelDX) {
				require.InDelta(t, -2*16.0/320/0.5, v, 1e-5)
			}
			for _, v := range plane(ChannelDY) {
				require.InDelta(t, 1*8.0/180/0.5, v, 1e-5)
			}
			for _, v := range plane(ChannelResidual) {
				require.InDelta(t, float64(-8*n)/128, v, 1e-5)
			}
			for _, v := range plane(ChannelAbsResidual) {
				require.InDelta(t, float64(8*n)/128, v, 1e-5)
			}
		}
	}
}

func TestClipperAccumulate(t *testing.T) {
	const w, h = 128, 64
	cl, err := NewClipper(ClipConfig{Length: 4, Width: 32, Height: 16, Accumulate: true})
	require.NoError(t, err)
	var got []Clip
	for n := 0; n < 8; n++ {
		pict := byte('P')
		if n == 0 || n == 5 {
			pict = 'I'
		}
		clip, err := cl.Push(synthFeatures(t, n, pict, w, h, -1, 0, 3))
		require.NoError(t, err)
		if clip != nil {
			c := *clip
			c.Data = append([]float32(nil), clip.Data...)
			got = append(got, c)
		}
	}
	require.Len(t, got, 2)
	// Frames since the last I-frame: 0 1 2 3 | 4 0 1 2 (frame 5 is an I-frame).
	since := []int{0, 1, 2, 3, 4, 0, 1, 2}
	for ci, c := range got {
		for tt := 0; tt < 4; tt++ {
			k := since[ci*4+tt]
			p := 32 * 16
			dx := c.Data[(ChannelDX*4+tt)*p : (ChannelDX*4+tt+1)*p]
			res := c.Data[(ChannelResidual*4+tt)*p : (ChannelResidual*4+tt+1)*p]
			// Away from the left border (the trace is clamped there) values grow by one step per frame.
			for y := 0; y < 16; y++ {
				for x := 4; x < 32; x++ {
					require.InDelta(t, -float64(k)*32/w/0.5, dx[y*32+x], 1e-5, "clip %d t %d", ci, tt)
					require.InDelta(t, float64(3*k)/128, res[y*32+x], 1e-5, "clip %d t %d", ci, tt)
				}
			}
		}
	}
}

func TestClipperErrorsAndAllocs(t *testing.T) {
	_, err := NewClipper(ClipConfig{Length: -1})
	require.True(t, errors.Is(err, ErrGeometry))
	_, err = NewClipper(ClipConfig{MVNorm: float32(math.NaN())})
	require.True(t, errors.Is(err, ErrGeometry))
	cl, err := NewClipper(ClipConfig{Accumulate: true, AbsResidual: true, Width: 112, Height: 112})
	require.NoError(t, err)
	_, err = cl.Push(&Features{Index: 3})
	require.True(t, errors.Is(err, ErrGeometry))

	frames := []*Features{
		synthFeatures(t, 0, 'P', 320, 180, 1.5, -0.25, 5),
		synthFeatures(t, 1, 'P', 320, 180, -3, 2, -7),
	}
	for i := 0; i < 8; i++ {
		_, err := cl.Push(frames[i%2])
		require.NoError(t, err)
	}
	n, clips := 0, 0
	allocs := testing.AllocsPerRun(40, func() {
		c, err := cl.Push(frames[n%2])
		if err != nil {
			t.Fatal(err)
		}
		if c != nil {
			clips++
		}
		n++
	})
	require.Zero(t, allocs)
	require.Positive(t, clips)
}

// TestClipperOverlapAndGaps checks frame selection for overlapping clips (Stride < span) and for gaps
// between clips (Stride > span): every clip holds the right frames, with the right data.
func TestClipperOverlapAndGaps(t *testing.T) {
	for _, tc := range []struct {
		length, stride, step int
		firsts               []int
	}{
		{3, 1, 3, []int{0, 1, 2, 3, 4, 5, 6}}, // span 7: clips end at frames 6..12
		{2, 5, 2, []int{0, 5, 10}},            // span 3, gaps of two frames
		{4, 4, 1, []int{0, 4, 8}},
	} {
		cl, err := NewClipper(ClipConfig{Length: tc.length, Stride: tc.stride, Step: tc.step, Width: 4, Height: 4})
		require.NoError(t, err)
		var firsts []int
		for n := 0; n < 13; n++ {
			clip, err := cl.Push(synthFeatures(t, n, 'P', 32, 16, 0, 0, int16(n)))
			require.NoError(t, err)
			if clip == nil {
				continue
			}
			firsts = append(firsts, clip.Frames[0].Index)
			for tt, fi := range clip.Frames {
				require.Equal(t, clip.Frames[0].Index+tt*tc.step, fi.Index)
				v := clip.Data[(ChannelResidual*tc.length+tt)*16]
				require.InDelta(t, float64(fi.Index)/128, v, 1e-6, "%+v frame %d", tc, fi.Index)
			}
		}
		require.Equal(t, tc.firsts, firsts, "%+v", tc)
	}
}

// TestClipperAccumulateAnchors follows accumulation through B-frames that reference the last I/P-frame:
// a pan of one pixel per frame, so each frame's displacement to its reference is the frame distance
// and the accumulated one equals the frame number; residuals add up along the reference chain.
func TestClipperAccumulateAnchors(t *testing.T) {
	const w, h = 128, 64
	cl, err := NewClipper(ClipConfig{Length: 7, Width: 32, Height: 16, Accumulate: true})
	require.NoError(t, err)
	types := "IBBPBBP"
	refs := []int{-1, 0, 0, 0, 3, 3, 3}
	chain := []int{0, 1, 1, 1, 2, 2, 2} // references back to the I-frame
	var clip *Clip
	for n := 0; n < 7; n++ {
		dist := float64(n - refs[n])
		ft := synthFeatures(t, n, types[n], w, h, -dist, 0, 3)
		ft.ReferenceIndex = refs[n]
		clip, err = cl.Push(ft)
		require.NoError(t, err)
	}
	require.NotNil(t, clip)
	p := 32 * 16
	for tt := 0; tt < 7; tt++ {
		dx := clip.Data[(ChannelDX*7+tt)*p : (ChannelDX*7+tt+1)*p]
		res := clip.Data[(ChannelResidual*7+tt)*p : (ChannelResidual*7+tt+1)*p]
		for y := 0; y < 16; y++ {
			for x := 8; x < 32; x++ {
				require.InDelta(t, -float64(tt)*32/w/0.5, dx[y*32+x], 1e-5, "frame %d", tt)
				require.InDelta(t, float64(3*chain[tt])/128, res[y*32+x], 1e-5, "frame %d", tt)
			}
		}
	}
}

func TestClipperChroma(t *testing.T) {
	for _, abs := range []bool{false, true} {
		cfg := ClipConfig{Length: 2, Width: 8, Height: 4, AbsResidual: abs, Chroma: true}
		cl, err := NewClipper(cfg)
		require.NoError(t, err)
		names := cl.Config().ChannelNames()
		require.Equal(t, "cr_residual", names[len(names)-1])
		require.Equal(t, len(names), cl.Config().Channels())
		var clip *Clip
		for n := 0; n < 2; n++ {
			ft := synthFeatures(t, n, 'P', 64, 32, 1, 0, 8)
			ft.ChromaWidth, ft.ChromaHeight = 32, 16
			ft.CbResidual, ft.CrResidual = make([]int16, 32*16), make([]int16, 32*16)
			for i := range ft.CbResidual {
				ft.CbResidual[i], ft.CrResidual[i] = 16, int16(-32*n)
			}
			clip, err = cl.Push(ft)
			require.NoError(t, err)
		}
		require.NotNil(t, clip)
		c, p := clip.Channels, 8*4
		for tt := 0; tt < 2; tt++ {
			cb := clip.Data[((c-2)*2+tt)*p : ((c-2)*2+tt+1)*p]
			cr := clip.Data[((c-1)*2+tt)*p : ((c-1)*2+tt+1)*p]
			res := clip.Data[(ChannelResidual*2+tt)*p : (ChannelResidual*2+tt+1)*p]
			for i := 0; i < p; i++ {
				require.InDelta(t, 16.0/128, cb[i], 1e-6)
				require.InDelta(t, float64(-32*tt)/128, cr[i], 1e-6)
				require.InDelta(t, 8.0/128, res[i], 1e-6)
			}
		}
	}
}

// TestClipperSkipKeepsTheGrid checks that frames skipped undecoded keep the clip grid of a stream
// decoded in full: clips start where they would have, skipped frames sampled by a clip are zero and
// named Index -1 at their would-be PTS, and clips that would end inside the skipped frames are not cut.
func TestClipperSkipKeepsTheGrid(t *testing.T) {
	const period = 100 * time.Millisecond
	for _, tc := range []struct {
		length, stride, step int
		skipAfter, skip      int // frames 0..skipAfter-1 decoded, then skip frames not, then the rest to 24
	}{
		{4, 4, 1, 6, 3},  // the gap inside one clip
		{4, 4, 1, 5, 11}, // longer than two clips
		{3, 1, 2, 4, 2},  // overlapping clips with a step
		{2, 5, 2, 3, 1},  // a gap between clips
	} {
		full, err := NewClipper(ClipConfig{Length: tc.length, Stride: tc.stride, Step: tc.step, Width: 4, Height: 4})
		require.NoError(t, err)
		gapped, err := NewClipper(full.Config())
		require.NoError(t, err)
		type cut struct {
			first   int
			indices []int
			res     []float32
		}
		collect := func(cl *Clipper, n int) *cut {
			f := synthFeatures(t, n, 'P', 32, 16, 0, 0, int16(n+1))
			f.PTS = time.Duration(n) * period
			clip, err := cl.Push(f)
			require.NoError(t, err)
			if clip == nil {
				return nil
			}
			c := &cut{first: int(clip.Frames[0].PTS / period)}
			for tt, fi := range clip.Frames {
				c.indices = append(c.indices, fi.Index)
				c.res = append(c.res, clip.Data[(ChannelResidual*tc.length+tt)*16])
			}
			return c
		}
		var want, got []*cut
		for n := 0; n < 24; n++ {
			if c := collect(full, n); c != nil {
				want = append(want, c)
			}
			if n >= tc.skipAfter && n < tc.skipAfter+tc.skip {
				continue
			}
			if n == tc.skipAfter+tc.skip {
				gapped.Skip(tc.skip, time.Duration(tc.skipAfter-1)*period, period)
			}
			if c := collect(gapped, n); c != nil {
				got = append(got, c)
			}
		}
		// Every clip of the gapped run is one of the full run's, at the same place.
		byFirst := map[int]*cut{}
		for _, c := range want {
			byFirst[c.first] = c
		}
		for _, c := range got {
			w, ok := byFirst[c.first]
			require.True(t, ok, "%+v: a clip at frame %d that the full run does not cut", tc, c.first)
			for tt := range c.indices {
				n := c.first + tt*tc.step
				if n >= tc.skipAfter && n < tc.skipAfter+tc.skip {
					require.Equal(t, -1, c.indices[tt], "%+v: skipped frame %d", tc, n)
					require.Zero(t, c.res[tt], "%+v: skipped frame %d is still", tc, n)
					continue
				}
				require.Equal(t, w.indices[tt], c.indices[tt], "%+v", tc)
				require.Equal(t, w.res[tt], c.res[tt], "%+v", tc)
			}
		}
		// The gapped run cuts every full-run clip that does not end inside the gap.
		end := func(c *cut) int { return c.first + (tc.length-1)*tc.step }
		var wantFirsts, gotFirsts []int
		for _, c := range want {
			if e := end(c); e < tc.skipAfter || e >= tc.skipAfter+tc.skip {
				wantFirsts = append(wantFirsts, c.first)
			}
		}
		for _, c := range got {
			gotFirsts = append(gotFirsts, c.first)
		}
		require.Equal(t, wantFirsts, gotFirsts, "%+v", tc)
	}
}
