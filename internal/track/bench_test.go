package track

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/source"
	"github.com/mvwatch/mvwatch/internal/zone"
	"github.com/mvwatch/mvwatch/mvextract"
)

// BenchmarkSceneFrame is the tracker's cost per frame (masks, detection, tracking, two zones) on the
// scripted scene's motion fields (448x256, 15 fps), decoded once beforehand: the CPU a camera adds
// on top of decoding and extraction. Run: go test ./internal/track -run XXX -bench SceneFrame.
func BenchmarkSceneFrame(b *testing.B) {
	ex := mvextract.NewExtractor(mvextract.ExtractorConfig{NoResidual: true})
	defer ex.Close()
	var feats []*mvextract.Features
	src := source.New(source.Config{Input: sceneClip, Camera: "b",
		Decoder: demux.DecoderConfig{MotionVectors: true, Threads: 1}})
	err := src.Run(context.Background(), func(fr *media.Frame) error {
		ft, err := ex.Process(fr)
		if err != nil {
			return err
		}
		f := ft.Field
		fld := &mvextract.Field{Width: f.Width, Height: f.Height, Cell: f.Cell, Cols: f.Cols, Rows: f.Rows,
			DX: append([]float32(nil), f.DX...), DY: append([]float32(nil), f.DY...), Mask: append([]uint8(nil), f.Mask...),
			FutureDX: make([]float32, len(f.DX)), FutureDY: make([]float32, len(f.DX)), FutureMask: make([]uint8, len(f.DX))}
		c := *ft
		c.Field, c.Vectors = fld, append([]mvextract.MotionVector(nil), ft.Vectors...)
		feats = append(feats, &c)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	zs := NewZoneSet([]Zone{
		{Name: "left", Shape: poly(0, 0, 0.5, 0, 0.5, 1, 0, 1)},
		{Name: "right", Shape: poly(0.5, 0, 1, 0, 1, 1, 0.5, 1), Dwell: 1e9},
	})
	s := NewScene(Config{Zones: zs, Masks: []zone.Polygon{poly(0.68, 0.05, 0.93, 0.05, 0.93, 0.4, 0.68, 0.4)}})
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ft := feats[i%len(feats)]
		if i%len(feats) == 0 {
			s.Reset()
		}
		s.Frame(ft)
	}
	b.StopTimer()
	// CPU time, not wall time: on a shared machine the wall clock also counts other processes' turns.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime returns the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// poly builds a polygon from x, y pairs.
func poly(xy ...float64) zone.Polygon {
	var p zone.Polygon
	for i := 0; i+1 < len(xy); i += 2 {
		p = append(p, zone.Point{X: xy[i], Y: xy[i+1]})
	}
	return p
}

// BenchmarkTrackClass is what the object class adds to the tracker per frame on real footage: the
// committed road_topdown cut (448x252, 30 fps, cars crossing), decoded once with residuals as the
// service decodes, run through a Scene with the shipped classifier (class) and without (noclass). The
// difference is the class's cost: the forward pass per reported track per frame; noclass-noresidual
// also leaves out the residual sums inside the boxes (the vector sums cannot be turned off). Run:
// go test ./internal/track -run XXX -bench TrackClass.
func BenchmarkTrackClass(b *testing.B) {
	ex := mvextract.NewExtractor(mvextract.ExtractorConfig{})
	defer ex.Close()
	var feats []*mvextract.Features
	src := source.New(source.Config{Input: "../../testdata/realfootage/clips/road_topdown.mp4", Camera: "b",
		Decoder: demux.DecoderConfig{MotionVectors: true, Pixels: true, Threads: 1}})
	err := src.Run(context.Background(), func(fr *media.Frame) error {
		ft, err := ex.Process(fr)
		if err != nil {
			return err
		}
		f := ft.Field
		fld := &mvextract.Field{Width: f.Width, Height: f.Height, Cell: f.Cell, Cols: f.Cols, Rows: f.Rows,
			DX: append([]float32(nil), f.DX...), DY: append([]float32(nil), f.DY...), Mask: append([]uint8(nil), f.Mask...)}
		c := mvextract.Features{Index: ft.Index, PTS: ft.PTS, PictType: ft.PictType, Width: ft.Width, Height: ft.Height,
			Vectors: append([]mvextract.MotionVector(nil), ft.Vectors...), Field: fld, HasResidual: ft.HasResidual,
			HasReference: ft.HasReference, Residual: append([]int16(nil), ft.Residual...)}
		feats = append(feats, &c)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	cls, err := DefaultClassifier()
	if err != nil {
		b.Fatal(err)
	}
	bare := make([]*mvextract.Features, len(feats))
	for i, ft := range feats {
		c := *ft
		c.HasResidual = false
		bare[i] = &c
	}
	for _, bc := range []struct {
		name  string
		cfg   Config
		feats []*mvextract.Features
	}{{"class", Config{Classifier: cls}, feats}, {"noclass", Config{NoClass: true}, feats}, {"noclass-noresidual", Config{NoClass: true}, bare}} {
		b.Run(bc.name, func(b *testing.B) {
			feats := bc.feats
			s := NewScene(bc.cfg)
			tracks := 0
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%len(feats) == 0 {
					s.Reset()
				}
				tracks += len(s.Frame(feats[i%len(feats)]).Tracks)
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(tracks)/float64(b.N), "tracks/frame")
		})
	}
}

// BenchmarkClassifyTrack is one track's features and forward pass (what Scene does per reported track
// per frame). Run: go test ./internal/track -run XXX -bench ClassifyTrack.
func BenchmarkClassifyTrack(b *testing.B) {
	cls, err := DefaultClassifier()
	if err != nil {
		b.Fatal(err)
	}
	tr := &tracker{w: 448, h: 252, cell: 4, frameDt: 33 * time.Millisecond}
	t := &Track{Hits: 40, Last: time.Second}
	for i := 0; i < 40; i++ {
		t.stats.add(observation{box: zone.Box{X0: 0.1, Y0: 0.2, X1: 0.3, Y1: 0.5}, cells: 120, sx: 600, sy: 30, sq: 4000},
			zone.Box{X0: 0.1, Y0: 0.2, X1: 0.3, Y1: 0.5}, tr)
	}
	var buf [NumFeatures]float64
	var class string
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		class, _ = cls.Classify(t.Features(buf[:0]))
	}
	if class == "" {
		b.Fatal("no class")
	}
}
