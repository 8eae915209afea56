package evaluate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/source"
	"github.com/mvwatch/mvwatch/internal/track"
	"github.com/mvwatch/mvwatch/mvextract"
)

// TrackRecord is one confirmed track of a file: its time span, class, compressed-domain features
// (track.FeatureNames) and its boxes. `mvwatch tracks` writes one per JSON line; the object-class
// trainer (training/trackclass) reads them, so the features it learns from are the ones the service
// computes.
type TrackRecord struct {
	ID uint64 `json:"id"`
	// Start and End are the PTS in seconds of the track's first and last detection.
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Hits  int     `json:"hits"`
	// Class and ClassScore are the shipped classifier's verdict at the track's end.
	Class      string  `json:"class,omitempty"`
	ClassScore float64 `json:"class_score,omitempty"`
	// Features are the track's features at its end, by name.
	Features map[string]float64 `json:"features"`
	// Width and Height are the picture size in pixels.
	Width  int `json:"width"`
	Height int `json:"height"`
	// Boxes are the track's boxes in the frames where it was detected and reported.
	Boxes []TrackBox `json:"boxes"`
	// Prefixes are the track's features as they stood early in its life (the first frame it was
	// reported with at least PrefixHits[i] detections): what a live event sees of a track that is still
	// going on.
	Prefixes []TrackPrefix `json:"prefixes,omitempty"`
}

// PrefixHits are the detection counts at which DumpTracks records a track's features so far.
var PrefixHits = []int{5, 10, 20, 40}

// TrackPrefix is a track's features at some point of its life.
type TrackPrefix struct {
	Hits     int                `json:"hits"`
	T        float64            `json:"t"`
	Features map[string]float64 `json:"features"`
}

// TrackBox is a track's box in one frame.
type TrackBox struct {
	// Frame is the frame's index in output order (from 0), T its PTS in seconds.
	Frame int     `json:"frame"`
	T     float64 `json:"t"`
	// Box is x0, y0, x1, y1 in normalised picture coordinates.
	Box [4]float64 `json:"box"`
}

// DumpTracks decodes path (motion vectors and residuals, as the service does), runs a track.Scene
// made from cfg over it and calls emit with every confirmed track once it ends (the tracks still
// alive at the end of the file last). It returns the number of frames.
func DumpTracks(ctx context.Context, path string, cfg track.Config, emit func(TrackRecord) error) (int, error) {
	scene := track.NewScene(cfg)
	ex := mvextract.NewExtractor(mvextract.ExtractorConfig{})
	defer ex.Close()
	boxes := map[uint64][]TrackBox{}
	prefixes := map[uint64][]TrackPrefix{}
	var w, h, frames int
	var buf []float64
	named := func(t *track.Track) map[string]float64 {
		buf = t.Features(buf)
		m := make(map[string]float64, track.NumFeatures)
		for i, name := range track.FeatureNames {
			m[name] = buf[i]
		}
		return m
	}
	finish := func(t track.Track) error {
		rec := TrackRecord{ID: t.ID, Start: t.First.Seconds(), End: t.Last.Seconds(), Hits: t.Hits,
			Class: t.Class, ClassScore: t.ClassScore, Width: w, Height: h,
			Features: named(&t), Boxes: boxes[t.ID], Prefixes: prefixes[t.ID]}
		delete(boxes, t.ID)
		delete(prefixes, t.ID)
		if rec.Boxes == nil {
			rec.Boxes = []TrackBox{}
		}
		return emit(rec)
	}
	src := source.New(source.Config{Input: path, Camera: "tracks",
		Decoder: demux.DecoderConfig{MotionVectors: true, Pixels: true, Threads: 1}})
	err := src.Run(ctx, func(fr *media.Frame) error {
		ft, err := ex.Process(fr)
		if err != nil {
			return fmt.Errorf("evaluate: tracks: %w", err)
		}
		w, h = ft.Width, ft.Height
		sf := scene.Frame(ft)
		for i := range sf.Tracks {
			t := &sf.Tracks[i]
			if t.Missed == 0 && t.Last == sf.PTS {
				boxes[t.ID] = append(boxes[t.ID], TrackBox{Frame: frames, T: sf.PTS.Seconds(),
					Box: [4]float64{t.Box.X0, t.Box.Y0, t.Box.X1, t.Box.Y1}})
			}
			if k := len(prefixes[t.ID]); k < len(PrefixHits) && t.Hits >= PrefixHits[k] {
				prefixes[t.ID] = append(prefixes[t.ID], TrackPrefix{Hits: t.Hits, T: sf.PTS.Seconds(), Features: named(t)})
			}
		}
		frames++
		for _, t := range sf.Ended {
			if err := finish(t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return frames, fmt.Errorf("evaluate: tracks of %s: %w", path, err)
	}
	active := scene.Active()
	sort.Slice(active, func(i, j int) bool { return active[i].ID < active[j].ID })
	for _, t := range active {
		if err := finish(t); err != nil {
			return frames, err
		}
	}
	return frames, nil
}

// Track classes scored against the timelines.
var trackClasses = []string{track.ClassPerson, track.ClassVehicle, track.ClassOther}

// ClassCounts is the per-class score of tracks against their timeline truth.
type ClassCounts struct {
	Class string `json:"class"`
	// Truth is how many tracks have this class by the timeline, Predicted how many the classifier gave
	// it, Correct both.
	Truth     int `json:"truth"`
	Predicted int `json:"predicted"`
	Correct   int `json:"correct"`
	// Entries counts the timeline's object entries of this class (fixed cameras), Found those that
	// a track of this class overlaps.
	Entries int `json:"entries,omitempty"`
	Found   int `json:"found,omitempty"`
}

// Precision is Correct / Predicted (-1 when nothing was predicted).
func (c ClassCounts) Precision() float64 { return share(c.Correct, c.Predicted) }

// Recall is Correct / Truth (-1 when there is no truth).
func (c ClassCounts) Recall() float64 { return share(c.Correct, c.Truth) }

// ClipTracks is the class score of one clip.
type ClipTracks struct {
	Clip   string `json:"clip"`
	Camera string `json:"camera"`
	Tracks int    `json:"tracks"`
	// Ambiguous counts tracks overlapping both person and vehicle entries (not scored).
	Ambiguous int `json:"ambiguous"`
	// Confusion[truth][predicted] counts scored tracks.
	Confusion map[string]map[string]int `json:"confusion"`
	// Predicted counts every track's class (moving cameras are not scored, only counted).
	Predicted map[string]int `json:"predicted"`
	Entries   []ClassCounts  `json:"entries"`
}

// ClassReport is the outcome of EvaluateTrackClasses.
type ClassReport struct {
	Clips []ClipTracks `json:"clips"`
	// Classes sums the fixed-camera clips.
	Classes   []ClassCounts `json:"classes"`
	Ambiguous int           `json:"ambiguous"`
	Skipped   []string      `json:"skipped,omitempty"`
}

// TrackTruth is the class a clip's timeline gives a track from start to end seconds: the class of
// the object entries it overlaps in time, "other" when it overlaps none, "" when it overlaps entries
// of both person and vehicle (ambiguous).
func TrackTruth(tl *Timeline, start, end float64) string {
	var person, vehicle bool
	for _, e := range tl.Entries {
		if e.Group() != GroupObject || !overlaps(start, end, e.Start, e.End) {
			continue
		}
		switch e.Class {
		case track.ClassPerson:
			person = true
		case track.ClassVehicle:
			vehicle = true
		}
	}
	switch {
	case person && vehicle:
		return ""
	case person:
		return track.ClassPerson
	case vehicle:
		return track.ClassVehicle
	}
	return track.ClassOther
}

// EvaluateTrackClasses runs the tracker with cfg over every clip of the manifest (re-encoded as for
// Run; opts.CommittedOnly for the committed cuts alone) and scores each confirmed track's class
// against the clip's timeline (TrackTruth). Clips from moving cameras are counted but not scored: when
// the whole picture moves, a track's time overlap with an object entry says nothing about what it is.
func EvaluateTrackClasses(ctx context.Context, m *Manifest, cfg track.Config, opts Options) (ClassReport, error) {
	if opts.CacheDir == "" {
		opts.CacheDir = m.Resolve(filepath.Join("cache", "h264"))
	}
	if opts.FFmpeg == "" {
		opts.FFmpeg = "ffmpeg"
	}
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	var rep ClassReport
	total := map[string]*ClassCounts{}
	for _, c := range trackClasses {
		total[c] = &ClassCounts{Class: c}
	}
	for _, c := range m.Clips {
		if (opts.CommittedOnly && c.Committed == "") || (!opts.CommittedOnly && c.RegressionOnly) {
			continue
		}
		tl, err := LoadTimeline(m.TimelinePath(c))
		if err != nil {
			return rep, err
		}
		path, err := m.Input(ctx, c, opts.CacheDir, opts.FFmpeg)
		if err != nil {
			if opts.SkipMissing && errors.Is(err, ErrMissing) {
				rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: not fetched", c.Name))
				continue
			}
			return rep, err
		}
		ct := ClipTracks{Clip: c.Name, Camera: c.Camera, Confusion: map[string]map[string]int{}, Predicted: map[string]int{}}
		var recs []TrackRecord
		start := time.Now()
		if _, err := DumpTracks(ctx, path, cfg, func(r TrackRecord) error {
			recs = append(recs, r)
			return nil
		}); err != nil {
			return rep, err
		}
		for _, r := range recs {
			ct.Tracks++
			ct.Predicted[r.Class]++
			if c.Camera != "fixed" {
				continue
			}
			truth := TrackTruth(tl, r.Start, r.End)
			if truth == "" {
				ct.Ambiguous++
				continue
			}
			if ct.Confusion[truth] == nil {
				ct.Confusion[truth] = map[string]int{}
			}
			ct.Confusion[truth][r.Class]++
			total[truth].Truth++
			if p := total[r.Class]; p != nil {
				p.Predicted++
				if r.Class == truth {
					p.Correct++
				}
			}
		}
		if c.Camera == "fixed" {
			for _, cls := range []string{track.ClassPerson, track.ClassVehicle} {
				cc := ClassCounts{Class: cls}
				for _, e := range tl.Entries {
					if e.Group() != GroupObject || e.Class != cls {
						continue
					}
					cc.Entries++
					for _, r := range recs {
						if r.Class == cls && overlaps(r.Start, r.End, e.Start, e.End) {
							cc.Found++
							break
						}
					}
				}
				ct.Entries = append(ct.Entries, cc)
				total[cls].Entries += cc.Entries
				total[cls].Found += cc.Found
			}
		}
		rep.Ambiguous += ct.Ambiguous
		rep.Clips = append(rep.Clips, ct)
		logf("%s: %d tracks in %.1fs", c.Name, ct.Tracks, time.Since(start).Seconds())
	}
	for _, c := range trackClasses {
		rep.Classes = append(rep.Classes, *total[c])
	}
	return rep, nil
}

// WriteClassMarkdown writes the report as Markdown tables: per class over the fixed-camera clips, then
// per clip.
func WriteClassMarkdown(w io.Writer, rep ClassReport) error {
	var b strings.Builder
	b.WriteString("| class | tracks (truth) | predicted | correct | precision | recall | timeline entries | found by a track of the class |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range rep.Classes {
		entries, found := "-", "-"
		if c.Class != track.ClassOther {
			entries, found = fmt.Sprint(c.Entries), fmt.Sprint(c.Found)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s | %s | %s | %s |\n", c.Class, c.Truth, c.Predicted, c.Correct,
			ratio(c.Precision()), ratio(c.Recall()), entries, found)
	}
	fmt.Fprintf(&b, "\nAmbiguous tracks (overlapping both person and vehicle entries, not scored): %d.\n\n", rep.Ambiguous)
	b.WriteString("| clip | camera | tracks | truth person -> p/v/o | truth vehicle -> p/v/o | truth other -> p/v/o | ambiguous | predicted p/v/o |\n|---|---|---:|---|---|---|---:|---|\n")
	row := func(m map[string]int) string {
		return fmt.Sprintf("%d/%d/%d", m[track.ClassPerson], m[track.ClassVehicle], m[track.ClassOther])
	}
	for _, c := range rep.Clips {
		if c.Camera != "fixed" {
			fmt.Fprintf(&b, "| %s | %s | %d | - | - | - | - | %s |\n", c.Clip, c.Camera, c.Tracks, row(c.Predicted))
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %d | %s |\n", c.Clip, c.Camera, c.Tracks,
			row(c.Confusion[track.ClassPerson]), row(c.Confusion[track.ClassVehicle]), row(c.Confusion[track.ClassOther]),
			c.Ambiguous, row(c.Predicted))
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(&b, "\nSkipped: %s\n", s)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
