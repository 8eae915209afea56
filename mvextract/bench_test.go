package mvextract

import (
	"context"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/peer"
)

// benchFrames decodes the first n frames of the peer's 720p H.264 clip (Big Buck Bunny, P-frames only)
// into memory.
func benchFrames(b *testing.B, n int) []*media.Frame {
	b.Helper()
	return decodeFrames(b, filepath.Join(peer.Dir(b), "vid_h264.mp4"), n)
}

// decodeFrames decodes the first n frames of path into memory (luma and side data only).
func decodeFrames(b *testing.B, path string, n int) []*media.Frame {
	b.Helper()
	f, err := demux.OpenFile(path, demux.DecoderConfig{MotionVectors: true, Pixels: true, Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var frames []*media.Frame
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_ = f.Run(ctx, func(fr *media.Frame) error {
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

// threadCPU is the CPU time the calling OS thread has used (Linux RUSAGE_THREAD). Benchmarks lock their
// goroutine to its thread and report CPU time per frame next to wall time: on a shared, busy machine
// wall time mostly measures the neighbours.
func threadCPU() time.Duration { return rusage(1) } // 1: RUSAGE_THREAD

// processCPU is the CPU time of the whole process (all threads), for work spread over goroutines.
func processCPU() time.Duration { return rusage(syscall.RUSAGE_SELF) }

func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs fn b.N times on a locked thread and reports cpu-ns/frame, and its ratio to base (the
// baseline's cpu-ns/frame, when non-zero) as x-baseline. It returns cpu-ns/frame.
func measure(b *testing.B, base float64, fn func(i int)) float64 {
	return measureWith(b, base, threadCPU, fn)
}

// measureWith is measure with another CPU clock.
func measureWith(b *testing.B, base float64, cpuClock func() time.Duration, fn func(i int)) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	start := cpuClock()
	n := 0
	for i := 0; b.Loop(); i++ {
		fn(i)
		n++
	}
	cpu := float64(cpuClock()-start) / float64(n)
	b.ReportMetric(cpu, "cpu-ns/frame")
	if base > 0 {
		b.ReportMetric(cpu/base, "x-baseline")
	}
	return cpu
}

// BenchmarkResidual1080p is BenchmarkResidual720p's bilinear case on a generated 1080p x264 clip
// (testsrc2, whose moving parts give a mix of vectors).
func BenchmarkResidual1080p(b *testing.B) {
	path := filepath.Join(b.TempDir(), "1080p.mp4")
	if out, err := execFFmpeg("-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=25", "-frames:v", "30",
		"-c:v", "libx264", "-preset", "veryfast", "-bf", "0", path); err != nil {
		b.Fatalf("ffmpeg: %v: %s", err, out)
	}
	frames := decodeFrames(b, path, 30)
	w, h := frames[0].Width, frames[0].Height
	diff := make([]int16, w*h)
	var base float64
	b.Run("baseline-framediff", func(b *testing.B) {
		base = measure(b, 0, func(i int) {
			cur, prev := frames[(i+1)%len(frames)], frames[i%len(frames)]
			_ = Residual(diff, cur.Y, cur.YStride, prev.Y, w, h)
		})
	})
	ext := NewExtractor(ExtractorConfig{})
	defer ext.Close()
	b.Run("mv+residual", func(b *testing.B) {
		measure(b, base, func(i int) {
			if _, err := ext.Process(frames[i%len(frames)]); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// BenchmarkResidual720p measures Extractor.Process (parse, field, prediction, residual, reference copy)
// per 720p frame, with a plain frame difference over the same frames as the baseline in the same process.
func BenchmarkResidual720p(b *testing.B) {
	frames := benchFrames(b, 60)
	w, h := frames[0].Width, frames[0].Height
	diff := make([]int16, w*h)
	var base float64
	b.Run("baseline-framediff", func(b *testing.B) {
		base = measure(b, 0, func(i int) {
			cur, prev := frames[(i+1)%len(frames)], frames[i%len(frames)]
			_ = Residual(diff, cur.Y, cur.YStride, prev.Y, w, h)
		})
	})
	for _, tc := range []struct {
		name string
		cfg  ExtractorConfig
	}{{"mv-only", ExtractorConfig{NoResidual: true}}, {"mv+residual", ExtractorConfig{}},
		{"mv+residual-h264", ExtractorConfig{Interpolation: H264}},
		{"mv+residual-2workers", ExtractorConfig{Workers: 2}}} {
		b.Run(tc.name, func(b *testing.B) {
			ext := NewExtractor(tc.cfg)
			defer ext.Close()
			clock := threadCPU
			if tc.cfg.Workers > 1 {
				clock = processCPU // the work runs on other threads: count them all
			}
			measureWith(b, base, clock, func(i int) {
				if _, err := ext.Process(frames[i%len(frames)]); err != nil {
					b.Fatal(err)
				}
			})
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
	// Baseline: the plain frame difference of the same frames (as in BenchmarkResidual720p).
	w, h := frames[0].Width, frames[0].Height
	diff := make([]int16, w*h)
	var base float64
	b.Run("baseline-framediff", func(b *testing.B) {
		base = measure(b, 0, func(i int) {
			cur, prev := frames[(i+1)%len(frames)], frames[i%len(frames)]
			_ = Residual(diff, cur.Y, cur.YStride, prev.Y, w, h)
		})
	})
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
			measure(b, base, func(i int) {
				if _, err := cl.Push(feats[i%len(feats)]); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
