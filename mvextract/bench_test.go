package mvextract

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mvwatch/mvwatch/demux"
)

// benchFrames decodes the first n frames of a 720p H.264 clip into memory: the peer clip from
// ../shared/peer/mv-extractor (Big Buck Bunny) when present, else a generated one.
func benchFrames(b *testing.B, n int) []*demux.Frame {
	b.Helper()
	path := filepath.Join("..", "..", "shared", "peer", "mv-extractor", "vid_h264.mp4")
	if _, err := os.Stat(path); err != nil {
		path = filepath.Join(b.TempDir(), "bench.mp4")
		out, err := execFFmpeg("-f", "lavfi", "-i", "testsrc2=s=1280x720:r=25", "-frames:v", itoa(n),
			"-c:v", "libx264", "-preset", "veryfast", "-bf", "0", path)
		if err != nil {
			b.Fatalf("ffmpeg: %v: %s", err, out)
		}
	}
	f, err := demux.OpenFile(path, demux.DecoderConfig{MotionVectors: true, Pixels: true, Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var frames []*demux.Frame
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_ = f.Run(ctx, func(fr *demux.Frame) error {
		c := *fr
		c.Y = append([]byte(nil), fr.Y...)
		c.Cb, c.Cr = nil, nil
		c.MotionVectors = append([]byte(nil), fr.MotionVectors...)
		frames = append(frames, &c)
		if len(frames) == n {
			cancel()
		}
		return nil
	})
	if len(frames) < 2 {
		b.Fatalf("decoded %d frames", len(frames))
	}
	return frames
}

// BenchmarkResidual720p measures Extractor.Process (parse, field, prediction, residual, reference copy)
// per 720p frame, with a plain frame difference over the same frames as the baseline in the same process.
func BenchmarkResidual720p(b *testing.B) {
	frames := benchFrames(b, 60)
	w, h := frames[0].Width, frames[0].Height
	diff := make([]int16, w*h)
	b.Run("baseline-framediff", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			cur, prev := frames[(i+1)%len(frames)], frames[i%len(frames)]
			_ = Residual(diff, cur.Y, cur.YStride, prev.Y, w, h)
		}
	})
	for _, tc := range []struct {
		name string
		cfg  ExtractorConfig
	}{{"mv-only", ExtractorConfig{NoResidual: true}}, {"mv+residual", ExtractorConfig{}}} {
		b.Run(tc.name, func(b *testing.B) {
			ext := NewExtractor(tc.cfg)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := ext.Process(frames[i%len(frames)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClip720p measures Clipper.Push per 720p frame (resize of the field and the residual into a
// 64x64 or 112x112 clip), on Features precomputed from real frames.
func BenchmarkClip720p(b *testing.B) {
	frames := benchFrames(b, 16)
	ext := NewExtractor(ExtractorConfig{})
	feats := make([]*Features, len(frames))
	for i, f := range frames {
		ft, err := ext.Process(f)
		if err != nil {
			b.Fatal(err)
		}
		c := *ft
		fld := *ft.Field
		fld.DX, fld.DY, fld.Mask = append([]float32(nil), fld.DX...), append([]float32(nil), fld.DY...), append([]uint8(nil), fld.Mask...)
		c.Field = &fld
		c.Residual = append([]int16(nil), ft.Residual...)
		feats[i] = &c
	}
	for _, tc := range []struct {
		name string
		cfg  ClipConfig
	}{
		{"64x64", ClipConfig{}},
		{"112x112", ClipConfig{Width: 112, Height: 112}},
		{"64x64-accumulate-abs", ClipConfig{Accumulate: true, AbsResidual: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cl, err := NewClipper(tc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := cl.Push(feats[i%len(feats)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
