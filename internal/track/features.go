package track

import (
	"math"

	"github.com/mvwatch/mvwatch/internal/zone"
	"github.com/mvwatch/mvwatch/mvextract"
)

// FeatureNames names, in order, the compressed-domain features of a track (Track.Features) that its
// object class is computed from. They are accumulated over the track's life from its detections: the
// motion vectors and the residual inside its box, never decoded pixels. The trainer
// (training/trackclass) reads them from `mvwatch tracks` dumps, so training and serving share this one
// implementation; a Classifier refuses a model trained on other names.
//
//	log_w_px, log_h_px    mean log of the box's width and height in pixels
//	w_norm, h_norm        mean width and height as fractions of the picture
//	log_aspect            mean log(width / height)
//	log_elongation        mean log(extent along the motion / extent across it), from the aspect and the
//	                      direction of the vectors: a car is longer along its way, a walker taller
//	log_area_norm         mean log of the box's area as a fraction of the picture
//	std_log_w, std_log_h  how much the box's width and height vary (standard deviation of their logs)
//	speed_rel             log(1 + speed in box sizes per second): the mean vector's length over sqrt(area)
//	speed_norm            log(1 + speed in picture sizes per second)
//	dir_consistency       length of the mean of the per-frame unit motion directions (1: straight on)
//	spread_rel            mean spread of the vectors inside the box around their mean, over the mean's
//	                      length plus 1 px: low for a rigid body (a car), high for limbs (a person)
//	spread_px             mean spread in pixels per frame
//	fill                  mean share of the box's field cells that move
//	log_residual          mean log(1 + mean |luma residual| inside the box), over frames with a residual
//	residual_ratio        mean log of (box residual + 1) / (frame residual + 1)
//	log_hits              log(1 + detections)
//	log_dwell             log(1 + seconds followed)
//	hit_rate              detections / frames alive
var FeatureNames = []string{
	"log_w_px", "log_h_px", "w_norm", "h_norm", "log_aspect", "log_elongation", "log_area_norm", "std_log_w", "std_log_h",
	"speed_rel", "speed_norm", "dir_consistency", "spread_rel", "spread_px", "fill",
	"log_residual", "residual_ratio", "log_hits", "log_dwell", "hit_rate",
}

// NumFeatures is len(FeatureNames).
const NumFeatures = 20

// observation is what a frame's detections of one track say about its vectors.
type observation struct {
	box        zone.Box // union of the detections (before the box refinement)
	cells      int      // moving field cells
	sx, sy, sq float64  // sums of the cells' displacements and squared displacement lengths
}

func observationOf(d Detection) observation {
	n := float64(d.Cells)
	return observation{box: d.Box, cells: d.Cells, sx: d.MotionX * n, sy: d.MotionY * n, sq: d.sq}
}

func (o *observation) merge(p observation) {
	o.cells += p.cells
	o.sx, o.sy, o.sq = o.sx+p.sx, o.sy+p.sy, o.sq+p.sq
}

// classStats accumulates a track's features (sums over its detections).
type classStats struct {
	n                        float64 // detections
	frames                   float64 // frames alive
	logW, logH, logW2, logH2 float64
	wn, hn, logAspect, logA  float64
	elong, nElong            float64
	speedRel, speedNorm      float64
	ux, uy, nDir             float64
	spreadRel, spreadPx      float64
	fill                     float64
	nRes, logRes, resRatio   float64
}

// add records one detection of the track, whose refined box is b.
func (s *classStats) add(o observation, b zone.Box, tr *tracker) {
	if tr.w <= 0 || tr.h <= 0 {
		return
	}
	wpx, hpx := max((b.X1-b.X0)*tr.w, 1), max((b.Y1-b.Y0)*tr.h, 1)
	lw, lh := math.Log(wpx), math.Log(hpx)
	s.n++
	s.logW, s.logH, s.logW2, s.logH2 = s.logW+lw, s.logH+lh, s.logW2+lw*lw, s.logH2+lh*lh
	s.wn, s.hn = s.wn+wpx/tr.w, s.hn+hpx/tr.h
	s.logAspect += lw - lh
	s.logA += lw + lh - math.Log(tr.w*tr.h)
	if o.cells > 0 {
		n := float64(o.cells)
		mx, my := o.sx/n, o.sy/n
		m := math.Hypot(mx, my)
		spread := math.Sqrt(max(o.sq/n-m*m, 0))
		s.spreadPx += spread
		s.spreadRel += spread / (m + 1)
		if m > 0 {
			ux, uy := mx/m, my/m
			s.ux, s.uy, s.nDir = s.ux+ux, s.uy+uy, s.nDir+1
			s.elong += (ux*ux - uy*uy) * (lw - lh)
			s.nElong++
		}
		if dt := tr.frameDt.Seconds(); dt > 0 {
			s.speedRel += math.Log1p(m / dt / math.Sqrt(wpx*hpx))
			s.speedNorm += math.Log1p(math.Hypot(mx/tr.w, my/tr.h) / dt)
		}
		if cell := tr.cell; cell > 0 {
			area := (o.box.X1 - o.box.X0) * tr.w * (o.box.Y1 - o.box.Y0) * tr.h / (cell * cell)
			s.fill += min(n/max(area, 1), 1)
		}
	}
}

// addResidual records the luma residual inside box b of ft (a frame with a detection of the track).
func (s *classStats) addResidual(b zone.Box, ft *mvextract.Features, frameMean float64) {
	w, h := ft.Width, ft.Height
	x0, x1 := max(int(b.X0*float64(w)), 0), min(int(b.X1*float64(w)), w)
	y0, y1 := max(int(b.Y0*float64(h)), 0), min(int(b.Y1*float64(h)), h)
	var sum, n float64
	for y := y0; y < y1; y += 2 {
		row := ft.Residual[y*w : y*w+w]
		for x := x0; x < x1; x += 2 {
			v := row[x]
			if v < 0 {
				v = -v
			}
			sum += float64(v)
			n++
		}
	}
	if n == 0 {
		return
	}
	m := sum / n
	s.nRes++
	s.logRes += math.Log1p(m)
	s.resRatio += math.Log((m + 1) / (frameMean + 1))
}

// meanAbsResidual returns the mean |luma residual| of ft, on every 4th pixel of every 4th row.
func meanAbsResidual(ft *mvextract.Features) float64 {
	var sum, n float64
	for y := 0; y < ft.Height; y += 4 {
		row := ft.Residual[y*ft.Width : y*ft.Width+ft.Width]
		for x := 0; x < ft.Width; x += 4 {
			v := row[x]
			if v < 0 {
				v = -v
			}
			sum += float64(v)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / n
}

// absorb adds the statistics of a track merged into this one.
func (s *classStats) absorb(o *classStats) {
	s.n += o.n
	s.frames = max(s.frames, o.frames)
	s.logW, s.logH, s.logW2, s.logH2 = s.logW+o.logW, s.logH+o.logH, s.logW2+o.logW2, s.logH2+o.logH2
	s.wn, s.hn, s.logAspect, s.logA = s.wn+o.wn, s.hn+o.hn, s.logAspect+o.logAspect, s.logA+o.logA
	s.speedRel, s.speedNorm = s.speedRel+o.speedRel, s.speedNorm+o.speedNorm
	s.ux, s.uy, s.nDir = s.ux+o.ux, s.uy+o.uy, s.nDir+o.nDir
	s.elong, s.nElong = s.elong+o.elong, s.nElong+o.nElong
	s.spreadRel, s.spreadPx, s.fill = s.spreadRel+o.spreadRel, s.spreadPx+o.spreadPx, s.fill+o.fill
	s.nRes, s.logRes, s.resRatio = s.nRes+o.nRes, s.logRes+o.logRes, s.resRatio+o.resRatio
}

// Features writes the track's features (in FeatureNames order) into dst, resized to NumFeatures, and
// returns it.
func (t *Track) Features(dst []float64) []float64 {
	if cap(dst) < NumFeatures {
		dst = make([]float64, NumFeatures)
	}
	dst = dst[:NumFeatures]
	clear(dst)
	s := &t.stats
	if s.n == 0 {
		return dst
	}
	n := s.n
	mw, mh := s.logW/n, s.logH/n
	dst[0], dst[1] = mw, mh
	dst[2], dst[3] = s.wn/n, s.hn/n
	dst[4], dst[6] = s.logAspect/n, s.logA/n
	if s.nElong > 0 {
		dst[5] = s.elong / s.nElong
	}
	dst[7], dst[8] = math.Sqrt(max(s.logW2/n-mw*mw, 0)), math.Sqrt(max(s.logH2/n-mh*mh, 0))
	dst[9], dst[10] = s.speedRel/n, s.speedNorm/n
	if s.nDir > 0 {
		dst[11] = math.Hypot(s.ux, s.uy) / s.nDir
	}
	dst[12], dst[13], dst[14] = s.spreadRel/n, s.spreadPx/n, s.fill/n
	if s.nRes > 0 {
		dst[15], dst[16] = s.logRes/s.nRes, s.resRatio/s.nRes
	}
	dst[17] = math.Log1p(float64(t.Hits))
	dst[18] = math.Log1p(t.Dwell().Seconds())
	dst[19] = float64(t.Hits) / max(s.frames, 1)
	return dst
}
