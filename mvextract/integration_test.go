package mvextract

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/peer"
)

// encode makes an H.264 clip (x264, no B-frames, one reference) with the ffmpeg CLI from a lavfi graph.
func encode(t *testing.T, graph string, frames int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clip.mp4")
	out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", graph,
		"-frames:v", itoa(frames), "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-refs", "1",
		"-g", "250", "-crf", "18", "-pix_fmt", "yuv420p", path).CombinedOutput()
	require.NoError(t, err, "ffmpeg: %s", out)
	return path
}

func itoa(n int) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

// decodeEach runs every frame of path through fn with motion vectors and pixels on, one thread.
func decodeEach(t *testing.T, path string, fn func(*media.Frame) error) {
	t.Helper()
	f, err := demux.OpenFile(path, demux.DecoderConfig{MotionVectors: true, Pixels: true, Threads: 1})
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Run(context.Background(), fn))
}

// TestRealClipGlobalMotion decodes clips that pan over a static textured picture by a whole and by a
// fractional number of pixels per frame: the residual against the motion-compensated previous frame is much
// smaller than the plain frame difference, the field carries the pan vector, and prediction + residual
// reproduces every decoded frame.
func TestRealClipGlobalMotion(t *testing.T) {
	const frames = 24
	for _, tc := range []struct {
		name   string
		graph  string
		dx, dy float32 // the pan vector (content moves by minus this per frame)
		ratio  float64 // frame difference / residual, at least
	}{
		{"integer", "testsrc2=s=640x256:r=25:d=1,noise=alls=40,gblur=sigma=1.5,trim=end_frame=1,loop=loop=-1:size=1," +
			"crop=w=320:h=192:x='8+2*n':y='8+2*n'", 2, 2, 8},
		// Pan by (2, 6) pixels at 4x the size, then scale down: (0.5, 1.5) pixels per frame.
		{"sub-pel", "testsrc2=s=1600x1024:r=25:d=1,noise=alls=40,gblur=sigma=3,trim=end_frame=1,loop=loop=-1:size=1," +
			"crop=w=1280:h=768:x='8+2*n':y='8+6*n',scale=320:192:flags=area", 0.5, 1.5, 3},
	} {
		path := encode(t, tc.graph, frames)
		for _, interp := range []Interpolation{Bilinear, H264} {
			t.Run(tc.name+"/"+interp.String(), func(t *testing.T) {
				ext := NewExtractor(ExtractorConfig{Interpolation: interp})
				var prev, recon []byte
				var sumRes, sumDiff float64
				var pFrames int
				decodeEach(t, path, func(f *media.Frame) error {
					feat, err := ext.Process(f)
					require.NoError(t, err)
					w, h := feat.Width, feat.Height
					require.Equal(t, 320, w)
					require.Equal(t, 192, h)
					recon = resizeNoClear(recon, w*h)
					require.NoError(t, Reconstruct(recon, feat.Prediction, feat.Residual, w, h))
					require.Zero(t, meanAbsDiff(recon, w, f.Y, f.YStride, 0, 0, w, h), "frame %d reconstruction", f.Index)
					if f.PictType == 'P' {
						pFrames++
						require.NotEmpty(t, feat.Vectors)
						const m = 16
						sumRes += meanAbs(feat.Residual, w, m, m, w-m, h-m)
						sumDiff += meanAbsDiff(f.Y, f.YStride, prev, w, m, m, w-m, h-m)
						// Content moves left/up, so vectors point right/down into the previous frame.
						var pan int
						for i, m := range feat.Field.Mask {
							if m != 0 && feat.Field.DX[i] == tc.dx && feat.Field.DY[i] == tc.dy {
								pan++
							}
						}
						require.Greater(t, pan, len(feat.Field.Mask)/2, "frame %d: most cells carry the pan vector", f.Index)
					}
					prev = resizeNoClear(prev, w*h)
					copyPlane(prev, w, f.Y, f.YStride, w, h)
					return nil
				})
				require.Equal(t, frames-1, pFrames)
				res, diff := sumRes/float64(pFrames), sumDiff/float64(pFrames)
				t.Logf("mean |residual| %.3f, mean |frame - previous| %.3f over %d P-frames", res, diff, pFrames)
				require.Less(t, res*tc.ratio, diff, "motion compensation removes most of the frame difference")
			})
		}
	}
}

// TestRealClipNewObject decodes a static picture on which a box appears at frame 12: the residual is large
// where the box appears and small elsewhere.
func TestRealClipNewObject(t *testing.T) {
	const bx, by, bs = 160, 64, 48
	path := encode(t, "testsrc2=s=320x192:r=25:d=1,trim=end_frame=1,loop=loop=-1:size=1,"+
		"drawbox=x=160:y=64:w=48:h=48:color=magenta:t=fill:enable='gte(n,12)'", 16)
	ext := NewExtractor(ExtractorConfig{})
	seen := false
	decodeEach(t, path, func(f *media.Frame) error {
		feat, err := ext.Process(f)
		require.NoError(t, err)
		w, h := feat.Width, feat.Height
		inside := meanAbs(feat.Residual, w, bx+4, by+4, bx+bs-4, by+bs-4)
		outside := (meanAbs(feat.Residual, w, 0, 0, w, by-16) + meanAbs(feat.Residual, w, 0, by+bs+16, w, h)) / 2
		switch {
		case f.Index == 12:
			seen = true
			t.Logf("frame 12: mean |residual| %.2f inside the new box, %.2f away from it", inside, outside)
			require.Greater(t, inside, 30.0)
			require.Less(t, outside, 2.0)
		case f.Index > 0:
			require.Less(t, inside, 3.0, "frame %d", f.Index)
		}
		return nil
	})
	require.True(t, seen)
}

func execFFmpeg(args ...string) ([]byte, error) {
	return exec.Command("ffmpeg", append([]string{"-v", "error", "-y"}, args...)...).CombinedOutput()
}

// TestRealClipH264PredictionIsExact checks H264 interpolation against FFmpeg's own decoder: on a coarsely
// quantised x264 clip (one reference, no deblocking, no weighted prediction, no sub-8x8 partitions) most
// macroblocks carry no coded residual, so there the decoded frame equals the decoder's prediction and our
// residual must be exactly zero. Bilinear interpolation gets far fewer of them right.
func TestRealClipH264PredictionIsExact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qp36.mp4")
	out, err := execFFmpeg("-f", "lavfi", "-i", "testsrc2=s=1600x1024:r=25:d=1,noise=alls=40,gblur=sigma=3,"+
		"trim=end_frame=1,loop=loop=-1:size=1,crop=w=1280:h=768:x='8+2*n':y='8+6*n',scale=320:192:flags=area",
		"-frames:v", "10", "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-refs", "1", "-qp", "36",
		"-x264-params", "no-deblock=1:weightp=0:partitions=none", "-pix_fmt", "yuv420p", path)
	require.NoError(t, err, "ffmpeg: %s", out)
	var chromaShares []float64
	zeroShare := func(interp Interpolation) []float64 {
		ext := NewExtractor(ExtractorConfig{Interpolation: interp, Chroma: true})
		var shares []float64
		decodeEach(t, path, func(f *media.Frame) error {
			feat, err := ext.Process(f)
			require.NoError(t, err)
			if f.PictType != 'P' {
				return nil
			}
			zero, total := 0, 0
			for my := 0; my < feat.Height/16; my++ {
				for mx := 0; mx < feat.Width/16; mx++ {
					total++
					if meanAbs(feat.Residual, feat.Width, mx*16, my*16, mx*16+16, my*16+16) == 0 {
						zero++
					}
				}
			}
			shares = append(shares, float64(zero)/float64(total))
			if interp == H264 { // chroma is bilinear either way: count 8x8 chroma blocks once
				zero, total = 0, 0
				for my := 0; my < feat.ChromaHeight/8; my++ {
					for mx := 0; mx < feat.ChromaWidth/8; mx++ {
						total++
						cb := meanAbs(feat.CbResidual, feat.ChromaWidth, mx*8, my*8, mx*8+8, my*8+8)
						cr := meanAbs(feat.CrResidual, feat.ChromaWidth, mx*8, my*8, mx*8+8, my*8+8)
						if cb == 0 && cr == 0 {
							zero++
						}
					}
				}
				chromaShares = append(chromaShares, float64(zero)/float64(total))
			}
			return nil
		})
		return shares
	}
	exact, bilinear := zeroShare(H264), zeroShare(Bilinear)
	t.Logf("share of macroblocks with zero residual per P-frame: h264 %.2f, bilinear %.2f, chroma %.2f", exact, bilinear, chromaShares)
	require.Len(t, exact, 9)
	var sum float64
	for _, v := range chromaShares {
		require.Greater(t, v, 0.5)
		sum += v
	}
	require.Greater(t, sum/float64(len(chromaShares)), 0.75, "chroma prediction matches the decoder's")
	for i := range exact {
		require.Greater(t, exact[i], 0.75, "P-frame %d", i+1)
		require.Less(t, bilinear[i], exact[i]-0.2, "P-frame %d", i+1)
	}
}

// TestRealClipBFrames decodes an x264 clip with B-frames: B-frames carry future vectors in the field
// (Future on), every frame reconstructs exactly, and the peer MPEG-4 Part 2 file (half-pel vectors)
// goes through as well.
func TestRealClipBFrames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.mp4")
	out, err := execFFmpeg("-f", "lavfi", "-i", "testsrc2=s=192x128:r=25", "-frames:v", "20", "-c:v", "libx264",
		"-preset", "veryfast", "-bf", "2", "-g", "20", "-pix_fmt", "yuv420p", path)
	require.NoError(t, err, "ffmpeg: %s", out)
	paths := []string{path, filepath.Join(peer.Dir(t), "vid_mpeg4_part2.mp4")}
	for _, p := range paths {
		ext := NewExtractor(ExtractorConfig{Future: true})
		var bFuture, frames int
		var recon []byte
		decodeEach(t, p, func(f *media.Frame) error {
			if frames >= 40 {
				return nil
			}
			frames++
			feat, err := ext.Process(f)
			require.NoError(t, err)
			if f.PictType == 'B' {
				for _, m := range feat.Field.FutureMask {
					if m != 0 {
						bFuture++
						break
					}
				}
			}
			for _, mv := range feat.Vectors {
				if filepath.Ext(p) == ".mp4" && p != path {
					require.Equal(t, uint16(2), mv.MotionScale, "MPEG-4 Part 2 is half-pel")
				}
			}
			recon = resizeNoClear(recon, feat.Width*feat.Height)
			require.NoError(t, Reconstruct(recon, feat.Prediction, feat.Residual, feat.Width, feat.Height))
			require.Zero(t, meanAbsDiff(recon, feat.Width, f.Y, f.YStride, 0, 0, feat.Width, feat.Height))
			return nil
		})
		if p == path {
			require.Positive(t, bFuture, "B-frames with future vectors")
		}
	}
}

// TestWorkersSameResult checks that splitting frames over worker goroutines changes nothing, that the
// steady state still allocates nothing, and that Close leaves no goroutine behind.
func TestWorkersSameResult(t *testing.T) {
	defer goleak.VerifyNone(t)
	path := encode(t, "testsrc2=s=200x120:r=25", 12)
	for _, interp := range []Interpolation{Bilinear, H264} {
		one := NewExtractor(ExtractorConfig{Interpolation: interp})
		three := NewExtractor(ExtractorConfig{Interpolation: interp, Workers: 3})
		var last *media.Frame
		decodeEach(t, path, func(f *media.Frame) error {
			a, err := one.Process(f)
			require.NoError(t, err)
			b, err := three.Process(f)
			require.NoError(t, err)
			require.Equal(t, a.Prediction, b.Prediction, "%s frame %d", interp, f.Index)
			require.Equal(t, a.Residual, b.Residual, "%s frame %d", interp, f.Index)
			c := *f
			c.Y = append([]byte(nil), f.Y...)
			c.MotionVectors = append([]byte(nil), f.MotionVectors...)
			last = &c
			return nil
		})
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := three.Process(last); err != nil {
				t.Fatal(err)
			}
		})
		require.Zero(t, allocs)
		one.Close()
		three.Close()
		three.Close() // idempotent
		_, err := three.Process(last)
		require.Error(t, err)
	}
}

// TestRealClipAnchorReference checks that on a panning clip with B-frames (no B-pyramid, one reference)
// predicting from the last I/P-frame, the past reference FFmpeg's vectors point into, leaves much
// smaller residuals than predicting from the previous frame in output order.
func TestRealClipAnchorReference(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pan-b.mp4")
	out, err := execFFmpeg("-f", "lavfi", "-i", "testsrc2=s=640x256:r=25:d=1,noise=alls=40,gblur=sigma=1.5,"+
		"trim=end_frame=1,loop=loop=-1:size=1,crop=w=320:h=192:x='8+2*n':y='8+2*n'",
		"-frames:v", "24", "-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-refs", "1",
		"-x264-params", "b-pyramid=none:b-adapt=0:weightp=0", "-pix_fmt", "yuv420p", path)
	require.NoError(t, err, "ffmpeg: %s", out)
	meanRes := func(ref Reference) (float64, string) {
		ext := NewExtractor(ExtractorConfig{Reference: ref})
		var sum float64
		var n int
		var types []byte
		lastAnchor := -1
		decodeEach(t, path, func(f *media.Frame) error {
			feat, err := ext.Process(f)
			require.NoError(t, err)
			types = append(types, f.PictType)
			if feat.HasReference {
				want := f.Index - 1
				if ref == PreviousAnchor {
					want = lastAnchor
				}
				require.Equal(t, want, feat.ReferenceIndex, "frame %d", f.Index)
			}
			if f.PictType != 'B' {
				lastAnchor = f.Index
			}
			if f.PictType != 'I' {
				sum += meanAbs(feat.Residual, feat.Width, 16, 16, feat.Width-16, feat.Height-16)
				n++
			}
			return nil
		})
		return sum / float64(n), string(types)
	}
	prev, types := meanRes(PreviousFrame)
	anchor, _ := meanRes(PreviousAnchor)
	t.Logf("picture types %s; mean |residual| previous frame %.3f, previous anchor %.3f", types, prev, anchor)
	require.Contains(t, types, "B")
	require.Less(t, anchor*3, prev)
}
