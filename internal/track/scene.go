package track

import (
	"math"
	"time"

	"github.com/mvwatch/mvwatch/internal/zone"
	"github.com/mvwatch/mvwatch/mvextract"
)

// Zone membership of a track's box: it enters a zone when its centre is inside or at least enterOverlap
// of its box is, and stays in while its centre is inside or at least stayOverlap of its box is
// (hysteresis, so a box on a zone's edge does not flicker in and out).
const (
	enterOverlap = 0.5
	stayOverlap  = 0.25
)

// DefaultThreshold is the displacement, in pixels per frame relative to the global motion, above which
// a cell of the motion field moves.
const DefaultThreshold = 2.0

// Config configures a Scene.
type Config struct {
	// Masks are polygons whose motion is removed before anything else sees it. It defaults to none.
	Masks []zone.Polygon
	// Zones are the camera's zones. It defaults to none.
	Zones *ZoneSet
	// Threshold is the motion threshold in pixels per frame. It defaults to DefaultThreshold.
	Threshold float32
	// Classifier gives each track an object class. It defaults to DefaultClassifier; NoClass turns
	// classes off.
	Classifier *Classifier
	NoClass    bool
}

// ZoneEventKind says what a track did in a zone.
type ZoneEventKind string

// The zone event kinds.
const (
	Enter ZoneEventKind = "enter"
	Leave ZoneEventKind = "leave"
	Dwell ZoneEventKind = "dwell"
)

// ZoneEvent is a track entering, leaving or dwelling in a zone.
type ZoneEvent struct {
	Kind ZoneEventKind
	// Zone is the zone's index in the ZoneSet and Name its name.
	Zone int
	Name string
	// PTS is when it happened: the frame of entering or of the dwell time passing, the track's last
	// frame inside for leaving.
	PTS time.Duration
	// Since is when the track entered the zone (for leave and dwell).
	Since time.Duration
	// Track is the track at that moment.
	Track Track
}

// Frame is what a Scene found in one frame. Its slices are reused by the next call.
type Frame struct {
	PTS time.Duration
	// Detections are the moving objects found in this frame (before tracking).
	Detections []Detection
	// Tracks are the confirmed tracks seen in this frame (or coasting for a frame or two).
	Tracks []Track
	// Zones has bit i set when a reported track is in zone i in this frame.
	Zones uint64
	// Events are the zone events of this frame.
	Events []ZoneEvent
	// Ended are the confirmed tracks that ended in this frame, with their final class.
	Ended []Track
}

// Scene follows the moving objects of one camera: masks, detection, tracking and zones. It is not safe
// for concurrent use: one per camera decode goroutine.
type Scene struct {
	cfg     Config
	maskFor [2]int // field grid the mask raster was built for
	mask    []bool
	det     detector
	tr      tracker
	out     Frame
}

// NewScene returns a scene for cfg.
func NewScene(cfg Config) *Scene {
	if cfg.Threshold <= 0 {
		cfg.Threshold = DefaultThreshold
	}
	if cfg.Classifier == nil && !cfg.NoClass {
		// The embedded model is checked by the package's tests; should it fail to load, tracks carry
		// no class rather than the scene failing.
		cfg.Classifier, _ = DefaultClassifier()
	}
	if cfg.NoClass {
		cfg.Classifier = nil
	}
	return &Scene{cfg: cfg, det: detector{threshold: cfg.Threshold}}
}

// Zones returns the scene's zones (nil for none).
func (s *Scene) Zones() *ZoneSet { return s.cfg.Zones }

// Mask applies the masks to ft (see mvextract.Features.Suppress) and returns the mask raster on ft's
// field grid, nil when there are no masks. Frame calls it; call it alone to mask without tracking.
func (s *Scene) Mask(ft *mvextract.Features) []bool {
	if len(s.cfg.Masks) == 0 || ft.Field == nil {
		return nil
	}
	fld := ft.Field
	if s.maskFor != [2]int{fld.Cols, fld.Rows} {
		s.maskFor = [2]int{fld.Cols, fld.Rows}
		s.mask = zone.Raster(s.cfg.Masks, fld.Cols, fld.Rows)
	}
	ft.Suppress(s.mask)
	return s.mask
}

// MaskRaster returns the mask raster of the last frame's motion field grid (cell r*Cols+c true inside
// a mask), nil when there are no masks.
func (s *Scene) MaskRaster() []bool { return s.mask }

// Frame masks ft (in place) and updates the tracks with it. ft must come from the camera's frames in
// output order.
func (s *Scene) Frame(ft *mvextract.Features) *Frame {
	s.Mask(ft)
	out := &s.out
	out.PTS, out.Zones = ft.PTS, 0
	out.Tracks, out.Events, out.Detections, out.Ended = out.Tracks[:0], out.Events[:0], out.Detections[:0], out.Ended[:0]
	if ft.Field == nil || len(ft.Field.DX) == 0 {
		return out
	}
	intra := len(ft.Vectors) == 0
	var dets []Detection
	if !intra {
		dets = s.det.detect(ft.Field)
		if math.Hypot(float64(s.det.gx), float64(s.det.gy)) >= float64(s.cfg.Threshold) {
			// The whole picture moves (a pan, a shaken camera): what is left after removing the global
			// motion is mostly its error, so nothing is detected and tracks coast.
			dets, intra = nil, true
		}
	}
	s.tr.w, s.tr.h, s.tr.cell = float64(ft.Width), float64(ft.Height), float64(ft.Field.Cell)
	out.Detections = append(out.Detections, dets...)
	s.tr.step(ft.PTS, dets, intra)
	s.residuals(ft)
	for _, t := range s.tr.ended {
		s.leaveAll(t)
		if t.Confirmed() {
			s.classify(t)
			out.Ended = append(out.Ended, *t)
		}
	}
	for _, t := range s.tr.tracks {
		if !t.Confirmed() || t.Missed > reportMissed {
			continue
		}
		s.classify(t)
		s.zones(t, ft.PTS)
		out.Zones |= t.in
		out.Tracks = append(out.Tracks, *t)
	}
	return out
}

// residuals records the luma residual inside the box of every track detected in this frame.
func (s *Scene) residuals(ft *mvextract.Features) {
	if !ft.HasResidual || !ft.HasReference || len(ft.Residual) < ft.Width*ft.Height {
		return
	}
	frameMean := -1.0
	for _, t := range s.tr.tracks {
		if t.Missed != 0 || t.Last != ft.PTS {
			continue
		}
		if frameMean < 0 {
			frameMean = meanAbsResidual(ft)
		}
		t.stats.addResidual(t.Box, ft, frameMean)
	}
}

// classify sets t's class from its features so far.
func (s *Scene) classify(t *Track) {
	if s.cfg.Classifier == nil {
		return
	}
	var buf [NumFeatures]float64
	t.Class, t.ClassScore = s.cfg.Classifier.Classify(t.Features(buf[:0]))
}

// Active returns the confirmed tracks that have not ended, with their class (for the end of a
// stream: they never end otherwise).
func (s *Scene) Active() []Track {
	var out []Track
	for _, t := range s.tr.tracks {
		if t.Confirmed() {
			s.classify(t)
			out = append(out, *t)
		}
	}
	return out
}

// Reset forgets the tracks (a stream restart: timestamps start again); no zone events are raised.
func (s *Scene) Reset() {
	s.tr.tracks = s.tr.tracks[:0]
}

// zones updates t's zone state at pts and records its enter and dwell events.
func (s *Scene) zones(t *Track, pts time.Duration) {
	zs := s.cfg.Zones
	for i := 0; i < zs.Len(); i++ {
		z := zs.Zone(i)
		bit := uint64(1) << i
		cx, cy := centre(t.Box)
		ov := z.Shape.BoxOverlap(t.Box)
		inside := z.Shape.Contains(cx, cy) || ov >= stayOverlap
		if t.in&bit == 0 {
			inside = z.Shape.Contains(cx, cy) || ov >= enterOverlap
		}
		switch {
		case inside && t.in&bit == 0:
			t.in |= bit
			t.dwelt &^= bit
			t.since[i] = pts
			s.out.Events = append(s.out.Events, ZoneEvent{Kind: Enter, Zone: i, Name: z.Name, PTS: pts, Since: pts, Track: *t})
		case !inside && t.in&bit != 0:
			t.in &^= bit
			s.out.Events = append(s.out.Events, ZoneEvent{Kind: Leave, Zone: i, Name: z.Name, PTS: pts, Since: t.since[i], Track: *t})
		}
		if t.in&bit != 0 && t.dwelt&bit == 0 && z.Dwell > 0 && pts-t.since[i] >= z.Dwell {
			t.dwelt |= bit
			s.out.Events = append(s.out.Events, ZoneEvent{Kind: Dwell, Zone: i, Name: z.Name, PTS: pts, Since: t.since[i], Track: *t})
		}
	}
}

// leaveAll records a leave event for every zone an ended track was in, at its last frame.
func (s *Scene) leaveAll(t *Track) {
	zs := s.cfg.Zones
	for i := 0; i < zs.Len(); i++ {
		if t.in&(1<<i) != 0 {
			s.out.Events = append(s.out.Events, ZoneEvent{Kind: Leave, Zone: i, Name: zs.Zone(i).Name, PTS: t.Last, Since: t.since[i], Track: *t})
		}
	}
	t.in = 0
}
