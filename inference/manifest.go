package inference

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ManifestSchema is the schema tag a model manifest must carry.
const ManifestSchema = "mvwatch.model.v1"

// ManifestFile is the name of the manifest inside a model directory.
const ManifestFile = "manifest.json"

// LayoutNCTHW is the clip layout: batch, channels, time, height, width.
const LayoutNCTHW = "NCTHW"

// ErrBadManifest is wrapped by every error about a model directory that ReadManifest, Verify or
// LoadModel refuses.
var ErrBadManifest = errors.New("inference: bad model manifest")

// Precision selects which files of a staged model run.
type Precision string

// Precisions a manifest can ship.
const (
	PrecisionFP32 Precision = "fp32"
	PrecisionINT8 Precision = "int8"
)

// TensorSpec is one graph input or output as a manifest declares it. A -1 dimension is dynamic
// (the batch).
type TensorSpec struct {
	Name  string  `json:"name"`
	DType DType   `json:"dtype"`
	Shape []int64 `json:"shape"`
}

// String formats the spec as TensorInfo does: name:dtype[dims].
func (t TensorSpec) String() string { return TensorInfo(t).String() }

// Transforms that Normalisation.Transform names.
const (
	// TransformNone feeds the features as they are.
	TransformNone = ""
	// TransformSignedLog1p is sign(x) * log(1 + |x|), applied before the mean and std.
	TransformSignedLog1p = "signed_log1p"
)

// Normalisation is the per-channel normalisation of the clip input: (transform(x) - mean) / std.
type Normalisation struct {
	// Transform is applied elementwise before the mean and std: TransformNone or
	// TransformSignedLog1p.
	Transform string `json:"transform,omitempty"`
	// Mean and Std have one entry per input channel.
	Mean []float64 `json:"mean"`
	Std  []float64 `json:"std"`
	// InGraph is true when the first stage applies the normalisation itself, so callers feed the
	// extractor's features unchanged.
	InGraph bool `json:"in_graph"`
}

// ClipInput describes the model input: one clip unit of compressed-domain features.
type ClipInput struct {
	Name  string `json:"name"`
	DType DType  `json:"dtype"`
	// Layout is "NCTHW".
	Layout string  `json:"layout"`
	Shape  []int64 `json:"shape"`
	// Channels names each channel, e.g. mv_dx, mv_dy, residual_y.
	Channels      []string      `json:"channels"`
	ClipLen       int           `json:"clip_len"`
	Height        int           `json:"height"`
	Width         int           `json:"width"`
	Normalisation Normalisation `json:"normalisation"`
	// Extractor is the command line that makes training features, for reference.
	Extractor string `json:"extractor"`
}

// Stage is one ONNX graph of a staged (early-exit) model. Stage k+1 takes outputs of stage k by name.
type Stage struct {
	Name string `json:"name"`
	// File is the FP32 graph, relative to the model directory.
	File string `json:"file"`
	// Int8File is the optional INT8 graph with the same inputs and outputs.
	Int8File string       `json:"int8_file,omitempty"`
	Inputs   []TensorSpec `json:"inputs"`
	Outputs  []TensorSpec `json:"outputs"`
	// Logits names the output holding this exit's class logits [batch, len(labels)].
	Logits string `json:"logits"`
	// Threshold is the softmax confidence at or above which a clip stops at this exit, in (0, 1].
	// The last stage always answers and has none.
	Threshold float64 `json:"threshold,omitempty"`
	// FLOPs is the stage's compute for one clip, including its exit head.
	FLOPs int64 `json:"flops"`
}

// Manifest is a model directory's manifest.json.
type Manifest struct {
	Schema      string    `json:"schema"`
	Name        string    `json:"name"`
	Task        string    `json:"task"`
	Description string    `json:"description"`
	Labels      []string  `json:"labels"`
	Input       ClipInput `json:"input"`
	Stages      []Stage   `json:"stages"`
	ExitPolicy  string    `json:"exit_policy"`
	// Reproduce is the command that rebuilds the model from scratch.
	Reproduce string `json:"reproduce"`
	// Dataset and Eval are free-form records of the training data and evaluation figures.
	Dataset json.RawMessage `json:"dataset,omitempty"`
	Eval    json.RawMessage `json:"eval,omitempty"`

	// Dir is the directory the manifest was read from; stage files are relative to it.
	Dir string `json:"-"`
}

// LoadModel reads and validates the model directory dir, then checks every stage file (FP32 and
// INT8) with ONNX Runtime: its inputs and outputs must match the manifest's names, element types and
// shapes. Init must have succeeded.
func LoadModel(dir string) (*Manifest, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if err := m.Verify(); err != nil {
		return nil, err
	}
	return m, nil
}

// ReadManifest reads dir/manifest.json and validates it without ONNX Runtime: schema, labels, input
// description, stage chaining, thresholds and that every named file exists in dir. Unknown fields are
// refused so that a misspelt key is not silently ignored.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.Dir = dir
	if err := m.checkFiles(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ParseManifest decodes and validates a manifest's JSON; it does not look at any file.
func ParseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: decode: %w", ErrBadManifest, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrBadManifest)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// badf returns an error wrapping ErrBadManifest.
func badf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadManifest, fmt.Sprintf(format, args...))
}

// Validate checks the manifest's content: everything except the files.
func (m *Manifest) Validate() error {
	if m.Schema != ManifestSchema {
		return badf("schema %q, want %q", m.Schema, ManifestSchema)
	}
	if strings.TrimSpace(m.Name) == "" {
		return badf("name is empty")
	}
	if err := validateLabels(m.Labels); err != nil {
		return err
	}
	if err := m.Input.validate(); err != nil {
		return err
	}
	if len(m.Stages) == 0 {
		return badf("no stages")
	}
	stageNames := map[string]bool{}
	for i := range m.Stages {
		s := &m.Stages[i]
		if err := m.validateStage(i, stageNames); err != nil {
			return fmt.Errorf("stage %d (%s): %w", i+1, s.Name, err)
		}
	}
	return nil
}

func validateLabels(labels []string) error {
	if len(labels) == 0 {
		return badf("labels are empty")
	}
	seen := make(map[string]int, len(labels))
	for i, l := range labels {
		if strings.TrimSpace(l) == "" {
			return badf("label %d is empty", i)
		}
		if j, ok := seen[l]; ok {
			return badf("label %q appears twice (index %d and %d)", l, j, i)
		}
		seen[l] = i
	}
	return nil
}

func (in *ClipInput) validate() error {
	if in.Name == "" {
		return badf("input name is empty")
	}
	if in.DType != DTypeFloat32 {
		return badf("input %s dtype %q, want %q", in.Name, in.DType, DTypeFloat32)
	}
	if in.Layout != LayoutNCTHW {
		return badf("input %s layout %q, want %q", in.Name, in.Layout, LayoutNCTHW)
	}
	if len(in.Shape) != 5 {
		return badf("input %s shape %v has rank %d, want 5 (%s)", in.Name, in.Shape, len(in.Shape), LayoutNCTHW)
	}
	if err := checkDims(in.Name, in.Shape); err != nil {
		return err
	}
	c, t, h, w := in.Shape[1], in.Shape[2], in.Shape[3], in.Shape[4]
	if c < 1 || t < 1 || h < 1 || w < 1 {
		return badf("input %s shape %v: channel, time, height and width must be fixed and positive", in.Name, in.Shape)
	}
	if int64(in.ClipLen) != t || int64(in.Height) != h || int64(in.Width) != w {
		return badf("input %s: clip_len %d, height %d, width %d disagree with shape %v",
			in.Name, in.ClipLen, in.Height, in.Width, in.Shape)
	}
	if len(in.Channels) != int(c) {
		return badf("input %s: %d channel names for %d channels", in.Name, len(in.Channels), c)
	}
	n := in.Normalisation
	if n.Transform != TransformNone && n.Transform != TransformSignedLog1p {
		return badf("input %s: normalisation transform %q, want %q or none", in.Name, n.Transform, TransformSignedLog1p)
	}
	if len(n.Mean) != int(c) || len(n.Std) != int(c) {
		return badf("input %s: normalisation has %d means and %d stds for %d channels", in.Name, len(n.Mean), len(n.Std), c)
	}
	for i := range n.Std {
		if !(n.Std[i] > 0) || math.IsInf(n.Std[i], 0) || math.IsNaN(n.Mean[i]) || math.IsInf(n.Mean[i], 0) {
			return badf("input %s: normalisation of channel %d (mean %v, std %v) is not finite with std > 0",
				in.Name, i, n.Mean[i], n.Std[i])
		}
	}
	return nil
}

// checkDims accepts -1 (dynamic) in the first, batch, dimension and positive sizes elsewhere.
func checkDims(name string, shape []int64) error {
	if len(shape) == 0 {
		return badf("tensor %s has no shape", name)
	}
	for i, d := range shape {
		if d == 0 || d < -1 || (d == -1 && i != 0) {
			return badf("tensor %s shape %v: dimension %d is %d (want > 0, or -1 for the batch)", name, shape, i, d)
		}
	}
	return nil
}

func (m *Manifest) validateStage(i int, stageNames map[string]bool) error {
	s := &m.Stages[i]
	if s.Name == "" {
		return badf("name is empty")
	}
	if stageNames[s.Name] {
		return badf("stage name %q appears twice", s.Name)
	}
	stageNames[s.Name] = true
	for _, f := range []string{s.File, s.Int8File} {
		if f == "" {
			continue
		}
		if filepath.IsAbs(f) || !filepath.IsLocal(f) {
			return badf("file %q must be a plain path inside the model directory", f)
		}
	}
	if s.File == "" {
		return badf("file is empty")
	}
	if len(s.Inputs) == 0 || len(s.Outputs) == 0 {
		return badf("needs at least one input and one output")
	}
	names := map[string]bool{}
	for _, t := range append(slices.Clone(s.Inputs), s.Outputs...) {
		if t.Name == "" {
			return badf("a tensor name is empty")
		}
		if names[t.Name] {
			return badf("tensor name %q appears twice", t.Name)
		}
		names[t.Name] = true
		if t.DType != DTypeFloat32 {
			return badf("tensor %s dtype %q, want %q", t.Name, t.DType, DTypeFloat32)
		}
		if err := checkDims(t.Name, t.Shape); err != nil {
			return err
		}
	}
	// Chaining: stage 1 takes the clip input; stage k+1 takes outputs of stage k.
	if i == 0 {
		in := TensorSpec{Name: m.Input.Name, DType: m.Input.DType, Shape: m.Input.Shape}
		if len(s.Inputs) != 1 || !sameSpec(s.Inputs[0], in) {
			return badf("inputs %v, want exactly the clip input %s", s.Inputs, in)
		}
	} else {
		prev := m.Stages[i-1]
		for _, t := range s.Inputs {
			j := slices.IndexFunc(prev.Outputs, func(o TensorSpec) bool { return o.Name == t.Name })
			if j < 0 {
				return badf("input %s is not an output of stage %s", t, prev.Name)
			}
			if !sameSpec(prev.Outputs[j], t) {
				return badf("input %s does not match stage %s output %s", t, prev.Name, prev.Outputs[j])
			}
			if t.Name == prev.Logits {
				return badf("input %s is stage %s's logits, not a feature", t.Name, prev.Name)
			}
		}
	}
	j := slices.IndexFunc(s.Outputs, func(o TensorSpec) bool { return o.Name == s.Logits })
	if j < 0 {
		return badf("logits %q is not one of its outputs", s.Logits)
	}
	if lg := s.Outputs[j].Shape; len(lg) != 2 || lg[1] != int64(len(m.Labels)) {
		return badf("logits %s: want shape [batch, %d] for %d labels", s.Outputs[j], len(m.Labels), len(m.Labels))
	}
	last := i == len(m.Stages)-1
	if last && s.Threshold != 0 {
		return badf("threshold %v on the last stage, which always answers: remove it", s.Threshold)
	}
	if !last && !(s.Threshold > 0 && s.Threshold <= 1) {
		return badf("threshold %v, want a value in (0, 1]", s.Threshold)
	}
	if s.FLOPs < 0 {
		return badf("flops %d is negative", s.FLOPs)
	}
	return nil
}

func sameSpec(a, b TensorSpec) bool {
	return a.Name == b.Name && a.DType == b.DType && slices.Equal(a.Shape, b.Shape)
}

// checkFiles checks that every stage file exists in m.Dir as a regular file.
func (m *Manifest) checkFiles() error {
	for _, s := range m.Stages {
		for _, f := range []string{s.File, s.Int8File} {
			if f == "" {
				continue
			}
			st, err := os.Stat(filepath.Join(m.Dir, f))
			if err != nil {
				return fmt.Errorf("%w: stage %s: %w", ErrBadManifest, s.Name, err)
			}
			if !st.Mode().IsRegular() {
				return badf("stage %s: %s is not a regular file", s.Name, f)
			}
		}
	}
	return nil
}

// HasPrecision reports whether every stage ships a file of precision p.
func (m *Manifest) HasPrecision(p Precision) bool {
	for _, s := range m.Stages {
		if s.file(p) == "" {
			return false
		}
	}
	return len(m.Stages) > 0
}

// StagePath returns the path of stage i's graph at precision p, or an error if the manifest ships
// none.
func (m *Manifest) StagePath(i int, p Precision) (string, error) {
	if i < 0 || i >= len(m.Stages) {
		return "", fmt.Errorf("inference: stage %d out of range (model has %d)", i, len(m.Stages))
	}
	f := m.Stages[i].file(p)
	if f == "" {
		return "", fmt.Errorf("inference: model %s has no %s file for stage %s", m.Name, p, m.Stages[i].Name)
	}
	return filepath.Join(m.Dir, f), nil
}

func (s Stage) file(p Precision) string {
	switch p {
	case PrecisionFP32, "":
		return s.File
	case PrecisionINT8:
		return s.Int8File
	}
	return ""
}

// Verify opens every stage graph (FP32 and, where shipped, INT8) with ONNX Runtime and checks that
// its inputs are exactly the manifest's and that it produces every manifest output, with the same
// element types and compatible shapes (a manifest -1 must be dynamic in the graph; a fixed manifest
// dimension must be equal or dynamic there). Init must have succeeded.
func (m *Manifest) Verify() error {
	for i, s := range m.Stages {
		for _, p := range []Precision{PrecisionFP32, PrecisionINT8} {
			if s.file(p) == "" {
				continue
			}
			path, _ := m.StagePath(i, p)
			ins, outs, err := ModelInputs(path)
			if err != nil {
				if errors.Is(err, ErrNotInitialized) {
					return err
				}
				return fmt.Errorf("%w: stage %s: %w", ErrBadManifest, s.Name, err)
			}
			if err := matchTensors("input", s.Inputs, ins, true); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrBadManifest, path, err)
			}
			if err := matchTensors("output", s.Outputs, outs, false); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrBadManifest, path, err)
			}
		}
	}
	return nil
}

// matchTensors checks the manifest's specs against the graph's tensors. With exact, the graph may not
// have tensors the manifest lacks (an unbound input would make every run fail).
func matchTensors(kind string, want []TensorSpec, got []TensorInfo, exact bool) error {
	for _, w := range want {
		j := slices.IndexFunc(got, func(g TensorInfo) bool { return g.Name == w.Name })
		if j < 0 {
			return fmt.Errorf("graph has no %s %q (it has %v)", kind, w.Name, got)
		}
		g := got[j]
		if g.DType != w.DType {
			return fmt.Errorf("%s %s: graph has %s", kind, w, g)
		}
		if len(g.Shape) != len(w.Shape) {
			return fmt.Errorf("%s %s: graph has %s (rank differs)", kind, w, g)
		}
		for d := range w.Shape {
			if g.Shape[d] >= 0 && g.Shape[d] != w.Shape[d] {
				return fmt.Errorf("%s %s: graph has %s (dimension %d differs)", kind, w, g, d)
			}
		}
	}
	if exact {
		for _, g := range got {
			if !slices.ContainsFunc(want, func(w TensorSpec) bool { return w.Name == g.Name }) {
				return fmt.Errorf("graph %s %s is not in the manifest", kind, g)
			}
		}
	}
	return nil
}
