package track

import (
	"math"
	"sort"
	"time"

	"github.com/mvwatch/mvwatch/internal/zone"
)

// Tracker settings.
const (
	// confirmHits is how many frames with a detection a track needs before it is reported: encoder
	// noise that survives the cleanup rarely lasts three frames in one place.
	confirmHits = 3
	// maxMissed is how many frames in a row a track may go without a detection (an I-frame carries no
	// vectors; an object may pause) before it ends. Meanwhile it coasts on its velocity.
	maxMissed = 5
	// reportMissed is how many missed frames a coasting track is still reported for.
	reportMissed = 2
	// velocityAlpha weighs a new velocity measurement against the track's.
	velocityAlpha = 0.5
	// coherentMotion is the least recent mean motion, in pixels per frame, of a track's detections for
	// it to be confirmed (see Track.Confirmed).
	coherentMotion = 1.5
	// minTravel is how far, in pixels per frame on average, a track's box must have moved from where it
	// was first seen for it to be confirmed.
	minTravel = 1.0
	// mergeOverlap is how much of the smaller of two tracks' boxes must overlap the other for the two
	// to be merged.
	mergeOverlap = 0.5
	// rawBoxes is how many recent detections a track's box is refined from (see tracker.update).
	rawBoxes = 5
	// motionAlpha weighs a detection's motion in the track's recent mean.
	motionAlpha = 0.4
	// mergeMargin widens a track's predicted box, as a fraction of its size, when gathering the
	// fragments of its object.
	mergeMargin = 0.15
	// stillSpeed is the speed, in picture sizes per second, below which a track has no direction.
	stillSpeed = 0.02
)

// Track is one followed object.
type Track struct {
	// ID is unique within the Scene that made it (from 1).
	ID uint64
	// Box is the object's box in this frame, normalised; a coasting track's is predicted.
	Box zone.Box
	// First and Last are the PTS of the first frame and of the last frame with a detection.
	First, Last time.Duration
	// VX and VY are the box centre's velocity in picture widths and heights per second.
	VX, VY float64
	// Hits counts the frames with a detection; Missed the frames in a row without one.
	Hits, Missed int
	// Class is the object class a Classifier gave the track from its features so far (person,
	// vehicle or other), and ClassScore its probability; empty and 0 without a classifier.
	Class      string
	ClassScore float64

	// stats accumulates the compressed-domain features the class is computed from (Features).
	stats classStats

	lastPTS time.Duration // PTS of the last update (detection or coast)
	// mx, my are the recent mean motion of the track's detections (EMA, pixels per frame); confirmed
	// latches once the track has had confirmHits detections with coherent motion.
	mx, my    float64
	confirmed bool
	firstBox  zone.Box
	// raw are the last nraw detections' boxes, moved with the object to the last frame; rawOK that
	// the last one was in the previous frame.
	raw   [rawBoxes]zone.Box
	nraw  int
	rawOK bool
	// merged marks a track merged into another this step (it is dropped without events).
	merged bool
	// zone state: bit i set while the track is in zone i; since[i] the PTS it entered; dwelt the zones
	// whose dwell event has fired in this visit.
	in, dwelt uint64
	since     [MaxZones]time.Duration
}

// Confirmed reports whether the track has been seen often enough to be reported.
// Encoder noise gives short bursts of vectors that point every which way; an object's vectors agree
// from frame to frame. A track is confirmed after confirmHits detections whose recent mean motion
// (an EMA) is at least coherentMotion pixels per frame.
func (t *Track) Confirmed() bool { return t.confirmed }

// Speed returns the box centre's speed in picture sizes per second.
func (t *Track) Speed() float64 { return math.Hypot(t.VX, t.VY) }

// Dwell returns how long the track has been followed.
func (t *Track) Dwell() time.Duration { return t.Last - t.First }

// Direction returns where the object is heading: "left", "right", "up", "down", or "" when it is
// (nearly) still.
func (t *Track) Direction() string {
	if t.Speed() < stillSpeed {
		return ""
	}
	if math.Abs(t.VX) >= math.Abs(t.VY) {
		if t.VX > 0 {
			return "right"
		}
		return "left"
	}
	if t.VY > 0 {
		return "down"
	}
	return "up"
}

// predicted returns the box moved by the velocity to pts.
func (t *Track) predicted(pts time.Duration) zone.Box {
	dt := (pts - t.lastPTS).Seconds()
	if dt <= 0 || dt > 1 {
		return t.Box
	}
	dx, dy := t.VX*dt, t.VY*dt
	return zone.Box{X0: t.Box.X0 + dx, Y0: t.Box.Y0 + dy, X1: t.Box.X1 + dx, Y1: t.Box.Y1 + dy}
}

// IoU returns the intersection over union of two boxes.
func IoU(a, b zone.Box) float64 {
	i := zone.Box{X0: max(a.X0, b.X0), Y0: max(a.Y0, b.Y0), X1: min(a.X1, b.X1), Y1: min(a.Y1, b.Y1)}.Area()
	u := a.Area() + b.Area() - i
	if u <= 0 {
		return 0
	}
	return i / u
}

func centre(b zone.Box) (float64, float64) { return (b.X0 + b.X1) / 2, (b.Y0 + b.Y1) / 2 }

// tracker associates detections with tracks, frame by frame.
type tracker struct {
	tracks []*Track
	nextID uint64
	ended  []*Track // tracks that ended in the last step
	w, h   float64  // frame size in pixels
	cell   float64  // motion-field cell side in pixels
	// lastPTS is the previous frame's PTS and frameDt the interval to it: the time the motion vectors
	// of a frame span (one frame: no B-frames in the field's past part of a P-frame).
	lastPTS, frameDt time.Duration
	started          bool
}

// step updates the tracks with the frame's detections at pts. intra marks a frame without motion
// information (an I-frame): no detection is expected and tracks coast without counting a miss.
func (tr *tracker) step(pts time.Duration, dets []Detection, intra bool) {
	tr.ended = tr.ended[:0]
	tr.frameDt = 0
	if tr.started && pts > tr.lastPTS {
		tr.frameDt = pts - tr.lastPTS
	}
	tr.lastPTS, tr.started = pts, true
	tMatched := make([]bool, len(tr.tracks))
	dMatched := make([]bool, len(dets))
	if !intra {
		tr.associate(pts, dets, tMatched, dMatched)
	}
	tr.mergeOverlapping()
	kept := tr.tracks[:0]
	for i, t := range tr.tracks {
		if t.merged {
			continue
		}
		t.stats.frames++
		if !tMatched[i] {
			t.rawOK = false
			t.Box = t.predicted(pts)
			t.lastPTS = pts
			if !intra {
				t.Missed++
			}
		}
		if t.Missed > maxMissed || t.Box.X1 <= 0 || t.Box.X0 >= 1 || t.Box.Y1 <= 0 || t.Box.Y0 >= 1 {
			tr.ended = append(tr.ended, t)
			continue
		}
		kept = append(kept, t)
	}
	tr.tracks = kept
	for j, d := range dets {
		if dMatched[j] {
			continue
		}
		tr.nextID++
		nt := &Track{ID: tr.nextID, Box: d.Box, First: pts, Last: pts, Hits: 1, lastPTS: pts, mx: d.MotionX, my: d.MotionY, firstBox: d.Box}
		nt.stats.frames = 1
		nt.stats.add(observationOf(d), d.Box, tr)
		tr.tracks = append(tr.tracks, nt)
	}
}

// mergeOverlapping merges tracks whose boxes overlap by at least mergeOverlap of the smaller one: two
// fragments of one object that started apart. The track seen more often survives and takes over the
// other's zone state, so the merge raises no zone event.
func (tr *tracker) mergeOverlapping() {
	for i, a := range tr.tracks {
		for _, b := range tr.tracks[i+1:] {
			if a.merged || b.merged {
				continue
			}
			inter := zone.Box{X0: max(a.Box.X0, b.Box.X0), Y0: max(a.Box.Y0, b.Box.Y0),
				X1: min(a.Box.X1, b.Box.X1), Y1: min(a.Box.Y1, b.Box.Y1)}.Area()
			if inter < mergeOverlap*min(a.Box.Area(), b.Box.Area()) {
				continue
			}
			keep, drop := a, b
			if b.Hits > a.Hits {
				keep, drop = b, a
			}
			keep.Box = union(keep.Box, drop.Box)
			keep.First = min(keep.First, drop.First)
			keep.confirmed = keep.confirmed || drop.confirmed
			for z := 0; z < MaxZones; z++ {
				bit := uint64(1) << z
				if drop.in&bit != 0 && (keep.in&bit == 0 || drop.since[z] < keep.since[z]) {
					keep.since[z] = drop.since[z]
				}
			}
			keep.in |= drop.in
			keep.dwelt |= drop.dwelt
			keep.stats.absorb(&drop.stats)
			drop.merged = true
		}
	}
}

// associate matches detections to tracks. An object often falls apart into several components (a
// flat part moves without vectors, a limb apart from the body), so each track, longest-lived first,
// takes every unmatched detection that meets its predicted box (widened by mergeMargin) and becomes
// their union. Tracks left without one take the nearest unmatched detection within reach of their
// predicted centre.
func (tr *tracker) associate(pts time.Duration, dets []Detection, tMatched, dMatched []bool) {
	order := make([]int, len(tr.tracks))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return tr.tracks[order[a]].Hits > tr.tracks[order[b]].Hits })
	for _, i := range order {
		t := tr.tracks[i]
		p := t.predicted(pts)
		mw, mh := mergeMargin*(p.X1-p.X0), mergeMargin*(p.Y1-p.Y0)
		wide := zone.Box{X0: p.X0 - mw, Y0: p.Y0 - mh, X1: p.X1 + mw, Y1: p.Y1 + mh}
		var u zone.Box
		var mx, my, wsum float64
		var o observation
		for j, d := range dets {
			if dMatched[j] || IoU(wide, d.Box) == 0 {
				continue
			}
			if wsum == 0 {
				u = d.Box
			} else {
				u = union(u, d.Box)
			}
			dMatched[j] = true
			w := float64(d.Blocks)
			mx, my, wsum = mx+w*d.MotionX, my+w*d.MotionY, wsum+w
			o.merge(observationOf(d))
		}
		if wsum > 0 {
			tMatched[i] = true
			o.box = u
			tr.update(t, pts, u, mx/wsum, my/wsum, o)
		}
	}
	for i, t := range tr.tracks {
		if tMatched[i] {
			continue
		}
		p := t.predicted(pts)
		px, py := centre(p)
		reach := max(0.08, math.Hypot(p.X1-p.X0, p.Y1-p.Y0))
		best, bestD := -1, reach
		for j, d := range dets {
			if dMatched[j] {
				continue
			}
			dx, dy := centre(d.Box)
			if dd := math.Hypot(dx-px, dy-py); dd <= bestD {
				best, bestD = j, dd
			}
		}
		if best >= 0 {
			tMatched[i], dMatched[best] = true, true
			tr.update(t, pts, dets[best].Box, dets[best].MotionX, dets[best].MotionY, observationOf(dets[best]))
		}
	}
}

// update moves track t to box b, detected at pts with mean motion (mx, my); o describes the
// detections' vectors for the track's features.
func (tr *tracker) update(t *Track, pts time.Duration, b zone.Box, mx, my float64, o observation) {
	if dt := tr.frameDt.Seconds(); dt > 0 {
		// The velocity is the object's own motion vectors (it moved by minus them since the previous
		// frame), not the box's displacement: a box that grows while the object enters the picture, or
		// gains a fragment, would fake a direction.
		vx, vy := -mx/tr.w/dt, -my/tr.h/dt
		if t.Hits == 1 {
			t.VX, t.VY = vx, vy
		} else {
			t.VX += velocityAlpha * (vx - t.VX)
			t.VY += velocityAlpha * (vy - t.VY)
		}
	}
	t.mx += motionAlpha * (mx - t.mx)
	t.my += motionAlpha * (my - t.my)
	// Motion vectors come per macroblock, so a detection is the object's box rounded out to the block
	// grid, and on some frames part of the object has no vectors. The object moved by minus its vectors
	// since the previous frame: the last detections, moved with it, lie on the grid differently, and
	// on each side the second tightest of them is closer to the object than any one (the tightest may
	// be a partial detection).
	if !t.rawOK {
		t.nraw = 0
	}
	dx, dy := -mx/tr.w, -my/tr.h
	for i := 0; i < t.nraw; i++ {
		r := &t.raw[i]
		r.X0, r.X1, r.Y0, r.Y1 = r.X0+dx, r.X1+dx, r.Y0+dy, r.Y1+dy
	}
	if t.nraw == len(t.raw) {
		copy(t.raw[:], t.raw[1:])
		t.nraw--
	}
	t.raw[t.nraw] = trimTrailing(b, dx, dy)
	t.nraw++
	t.rawOK = true
	if t.nraw >= 2 {
		b = secondTightest(t.raw[:t.nraw])
	}
	t.Box, t.Last, t.lastPTS = b, pts, pts
	t.Hits++
	t.Missed = 0
	t.stats.add(o, b, tr)
	if !t.confirmed && t.Hits >= confirmHits && math.Hypot(t.mx, t.my) >= coherentMotion {
		// The box must also have gone somewhere: a flickering spot of noise vectors stays put.
		fx, fy := centre(t.firstBox)
		nx, ny := centre(b)
		if math.Hypot((nx-fx)*tr.w, (ny-fy)*tr.h) >= minTravel*float64(t.Hits-1) {
			t.confirmed = true
		}
	}
}

func union(a, b zone.Box) zone.Box {
	return zone.Box{X0: min(a.X0, b.X0), Y0: min(a.Y0, b.Y0), X1: max(a.X1, b.X1), Y1: max(a.Y1, b.Y1)}
}

// secondTightest returns, side by side, the second tightest edge of the boxes; of two boxes, the
// tighter (their intersection). An empty result gives the last box.
func secondTightest(boxes []zone.Box) zone.Box {
	k := (len(boxes) - 1) / 2
	x0 := make([]float64, len(boxes))
	y0 := make([]float64, len(boxes))
	x1 := make([]float64, len(boxes))
	y1 := make([]float64, len(boxes))
	for i, b := range boxes {
		x0[i], y0[i], x1[i], y1[i] = -b.X0, -b.Y0, b.X1, b.Y1
	}
	for _, v := range [][]float64{x0, y0, x1, y1} {
		sort.Float64s(v)
	}
	out := zone.Box{X0: -x0[k], Y0: -y0[k], X1: x1[k], Y1: y1[k]}
	if out.X1 <= out.X0 || out.Y1 <= out.Y0 {
		return boxes[len(boxes)-1]
	}
	return out
}

// trimTrailing moves the trailing edges of a detection's box by the object's last displacement (dx, dy,
// normalised), at most to half the box: the blocks just uncovered behind a moving object still carry
// its vectors (the encoder predicts them as part of it), so a box reaches a frame's travel too far
// behind.
func trimTrailing(b zone.Box, dx, dy float64) zone.Box {
	w, h := b.X1-b.X0, b.Y1-b.Y0
	switch {
	case dx > 0:
		b.X0 += min(dx, w/2)
	case dx < 0:
		b.X1 -= min(-dx, w/2)
	}
	switch {
	case dy > 0:
		b.Y0 += min(dy, h/2)
	case dy < 0:
		b.Y1 -= min(-dy, h/2)
	}
	return b
}
