package mvextract

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"strings"

	"github.com/mvwatch/mvwatch/internal/media"
)

// FeaturesMeta is the .json a FeaturesWriter writes next to its .npy (what `mvwatch features` writes).
type FeaturesMeta struct {
	Input        string         `json:"input"`
	Layout       string         `json:"layout"`
	Shape        []int          `json:"shape"`
	Channels     []string       `json:"channels"`
	ClipLen      int            `json:"clip_len"`
	Stride       int            `json:"stride"`
	Step         int            `json:"step"`
	Width        int            `json:"width"`
	Height       int            `json:"height"`
	Accumulate   bool           `json:"accumulate"`
	Interp       string         `json:"interpolation"`
	Reference    string         `json:"reference"`
	MVNorm       float32        `json:"mv_norm"`
	ResidualNorm float32        `json:"residual_norm"`
	SourceWidth  int            `json:"source_width"`
	SourceHeight int            `json:"source_height"`
	Frames       int            `json:"frames"`
	Clips        []FeaturesClip `json:"clips"`
}

// FeaturesClip names the frames of one clip.
type FeaturesClip struct {
	First     int     `json:"first"`      // index of the clip's first frame in output order
	Last      int     `json:"last"`       // index of its last frame
	Frames    []int   `json:"frames"`     // the T frame indices
	PictTypes string  `json:"pict_types"` // one letter per frame: I, P, B, ...
	PTS       []int64 `json:"pts_ms"`     // presentation times in milliseconds (-1: unknown)
}

// FeaturesWriter writes a stream's model-input clips as one float32 .npy [N, C, T, H, W], appended as the
// clips come, and a .json (FeaturesMeta) with the settings and each clip's frames, picture types and
// times: the training data of the serving path's features.
type FeaturesWriter struct {
	out  string
	ex   *Extractor
	cl   *Clipper
	f    *os.File
	npy  *NPYStream
	meta FeaturesMeta
}

// NewFeaturesWriter creates out for the clips of input (recorded in the .json) under spec.
func NewFeaturesWriter(out, input string, spec FeatureSpec) (*FeaturesWriter, error) {
	cl, err := NewClipper(spec.Clip)
	if err != nil {
		return nil, err
	}
	cfg := cl.Config()
	w := &FeaturesWriter{out: out, cl: cl, meta: FeaturesMeta{
		Input: input, Layout: "NCTHW", Channels: cfg.ChannelNames(),
		ClipLen: cfg.Length, Stride: cfg.Stride, Step: cfg.Step, Width: cfg.Width, Height: cfg.Height,
		Accumulate: cfg.Accumulate, Interp: spec.Extractor.Interpolation.String(), Reference: spec.Extractor.Reference.String(), MVNorm: cfg.MVNorm, ResidualNorm: cfg.ResidualNorm, Clips: []FeaturesClip{},
	}}
	if w.f, err = os.Create(out); err != nil {
		return nil, err
	}
	if w.npy, err = NewNPYStream(w.f, "float32", []int{cfg.Channels(), cfg.Length, cfg.Height, cfg.Width}); err != nil {
		return nil, errors.Join(err, w.f.Close())
	}
	w.ex = NewExtractor(spec.Extractor)
	return w, nil
}

// Write adds one frame (frames with pixels and motion vectors, in output order).
func (w *FeaturesWriter) Write(fr *media.Frame) error {
	ft, err := w.ex.Process(fr)
	if err != nil {
		return err
	}
	w.meta.Frames++
	w.meta.SourceWidth, w.meta.SourceHeight = ft.Width, ft.Height
	clip, err := w.cl.Push(ft)
	if err != nil || clip == nil {
		return err
	}
	if err := w.npy.Append(clip.Data); err != nil {
		return err
	}
	c := FeaturesClip{First: clip.Frames[0].Index, Last: clip.Frames[len(clip.Frames)-1].Index}
	var types []byte
	for _, fi := range clip.Frames {
		c.Frames = append(c.Frames, fi.Index)
		types = append(types, fi.PictType)
		pts := int64(-1)
		if fi.PTS >= 0 {
			pts = fi.PTS.Milliseconds()
		}
		c.PTS = append(c.PTS, pts)
	}
	c.PictTypes = string(types)
	w.meta.Clips = append(w.meta.Clips, c)
	return nil
}

// Close finishes the .npy (its final shape) and closes it.
func (w *FeaturesWriter) Close() error {
	w.ex.Close()
	return errors.Join(w.npy.Close(), w.f.Close())
}

// WriteMeta writes the .json beside the closed .npy (FILE.json for FILE.npy) and returns it.
func (w *FeaturesWriter) WriteMeta() (*FeaturesMeta, error) {
	cfg := w.cl.Config()
	w.meta.Shape = []int{len(w.meta.Clips), cfg.Channels(), cfg.Length, cfg.Height, cfg.Width}
	if err := writeJSON(jsonPath(w.out), &w.meta); err != nil {
		return nil, err
	}
	return &w.meta, nil
}

// jsonPath is FILE.json for FILE.npy (or FILE.npy.json for other names).
func jsonPath(npy string) string {
	if base, ok := strings.CutSuffix(npy, ".npy"); ok {
		return base + ".json"
	}
	return npy + ".json"
}

func writeJSON(path string, v any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	enc.SetIndent("", " ")
	err = enc.Encode(v)
	return errors.Join(err, bw.Flush(), f.Close())
}
