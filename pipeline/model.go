package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mvwatch/mvwatch/inference"
	"github.com/mvwatch/mvwatch/mvextract"
)

// ModelOptions configures LoadModel.
type ModelOptions struct {
	// Inference holds the runtime and batching settings of the config.
	Inference InferenceConfig
	// Precision is "fp32" or "int8". It defaults to "fp32".
	Precision string
	// Metrics, when set, receives batch sizes, inference latency and early-exit stages.
	Metrics *Metrics
}

// Model is a loaded MFCD-Net model directory: a staged early-exit classifier behind a cross-camera
// batcher, and the clip layout its manifest asks for. It implements Classifier.
type Model struct {
	Manifest *inference.Manifest
	// Clip is the extractor configuration that makes this model's input, as in training.
	Clip mvextract.ClipConfig

	cls     *inference.Classifier
	batcher *inference.Batcher
}

// LoadModel initialises ONNX Runtime, validates the model directory and starts the batcher.
func LoadModel(dir string, opts ModelOptions) (*Model, error) {
	if err := inference.Init(inference.RuntimeConfig{LibraryPath: opts.Inference.Library,
		Provider: opts.Inference.Provider, IntraOpThreads: opts.Inference.Threads}); err != nil {
		return nil, err
	}
	man, err := inference.LoadModel(dir)
	if err != nil {
		return nil, err
	}
	clip, err := ClipConfigFor(man)
	if err != nil {
		return nil, err
	}
	prec := inference.PrecisionFP32
	if opts.Precision == string(inference.PrecisionINT8) {
		prec = inference.PrecisionINT8
	}
	maxBatch := opts.Inference.MaxBatch
	if maxBatch <= 0 {
		maxBatch = 8
	}
	// The classifier applies the manifest's normalisation when the graph does not.
	ccfg := inference.ClassifierConfig{Precision: prec, MaxBatch: maxBatch, IntraOpThreads: opts.Inference.Threads}
	if m := opts.Metrics; m != nil {
		ccfg.Hooks = inference.ClassifierHooks{
			Batch: func(n int, d time.Duration) {
				m.BatchSize.Observe(float64(n))
				m.InferenceSeconds.Observe(d.Seconds())
			},
		}
	}
	cls, err := inference.NewClassifierFromManifest(man, ccfg)
	if err != nil {
		return nil, err
	}
	md := &Model{Manifest: man, Clip: clip, cls: cls}
	md.batcher = inference.NewBatcher(cls, inference.BatcherConfig{MaxBatch: maxBatch, MaxWait: opts.Inference.MaxWait.D()})
	if err := md.batcher.Start(); err != nil {
		cls.Close()
		return nil, err
	}
	return md, nil
}

// ClipConfigFor derives the extractor's clip configuration from a manifest: clip length and size from
// the input description, and the flags of the feature command the model was trained on.
func ClipConfigFor(m *inference.Manifest) (mvextract.ClipConfig, error) {
	in := m.Input
	c := mvextract.ClipConfig{Length: in.ClipLen, Width: in.Width, Height: in.Height, Stride: in.ClipLen}
	args := strings.Fields(in.Extractor)
	c.Accumulate = slices.Contains(args, "--accumulate")
	c.AbsResidual = slices.Contains(args, "--abs-residual") || len(in.Channels) == 4
	if i := slices.Index(args, "--step"); i >= 0 && i+1 < len(args) {
		if _, err := fmt.Sscan(args[i+1], &c.Step); err != nil {
			return c, fmt.Errorf("model %s: extractor step %q: %w", m.Name, args[i+1], err)
		}
	}
	if c.Channels() != len(in.Channels) && len(in.Channels) > 0 {
		return c, fmt.Errorf("model %s: input has %d channels %v; the extractor makes %d", m.Name, len(in.Channels), in.Channels, c.Channels())
	}
	return c, nil
}

// Classify runs one clip through the batcher.
func (m *Model) Classify(ctx context.Context, clip []float32) (Classification, error) {
	r, err := m.batcher.Submit(ctx, clip)
	if err != nil {
		return Classification{}, err
	}
	return Classification{Label: r.Label, Score: float64(r.Score), ExitStage: r.Stage - 1}, nil
}

// Labels returns the model's labels.
func (m *Model) Labels() []string { return m.Manifest.Labels }

// Close stops the batcher and frees the sessions.
func (m *Model) Close() {
	m.batcher.Close()
	m.cls.Close()
}
