package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mvwatch/mvwatch/inference"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/mvextract"
)

// DefaultModelDir is where the shipped MFCD-Net lives, relative to the repository or the binary's
// folder.
const DefaultModelDir = "models/mfcd"

// ModelOptions configures LoadModel.
type ModelOptions struct {
	// Inference holds the runtime and batching settings of the config.
	Inference config.Inference
	// Precision is "fp32" or "int8". It defaults to "fp32".
	Precision string
	// Metrics, when set, receives batch sizes, inference latency and early-exit stages.
	Metrics *Metrics
}

// Model is a loaded MFCD-Net model directory: a staged early-exit classifier behind a cross-camera
// batcher, and the clip layout its manifest asks for. It implements Classifier.
type Model struct {
	Manifest *inference.Manifest
	// Features is the extractor and clip configuration that makes this model's input, as in training.
	Features mvextract.FeatureSpec

	cls     *inference.Classifier
	batcher *inference.Batcher
}

// LoadModel initialises ONNX Runtime, validates the model directory and starts the batcher.
func LoadModel(dir string, opts ModelOptions) (*Model, error) {
	prec := inference.Precision(opts.Precision)
	switch prec {
	case "":
		prec = inference.PrecisionFP32
	case inference.PrecisionFP32, inference.PrecisionINT8:
	default:
		return nil, fmt.Errorf("pipeline: unknown precision %q (want fp32 or int8)", opts.Precision)
	}
	if err := inference.Init(inference.RuntimeConfig{LibraryPath: opts.Inference.Library,
		Provider: opts.Inference.Provider, IntraOpThreads: opts.Inference.Threads}); err != nil {
		return nil, err
	}
	man, err := inference.LoadModel(dir)
	if err != nil {
		return nil, err
	}
	spec, err := FeatureSpecFor(man)
	if err != nil {
		return nil, err
	}
	maxBatch := opts.Inference.MaxBatch
	if maxBatch <= 0 {
		maxBatch = 8
	}
	// The classifier applies the manifest's normalisation when the graph does not.
	ccfg := inference.ClassifierConfig{Precision: prec, MaxBatch: maxBatch, IntraOpThreads: opts.Inference.Threads}
	if m := opts.Metrics; m != nil {
		m.InitStages(len(man.Stages))
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
	md := &Model{Manifest: man, Features: spec, cls: cls}
	md.batcher = inference.NewBatcher(cls, inference.BatcherConfig{MaxBatch: maxBatch, MaxWait: opts.Inference.MaxWait.D()})
	if err := md.batcher.Start(); err != nil {
		cls.Close()
		return nil, err
	}
	return md, nil
}

// FeatureSpecFor reads the feature configuration a model was trained with from its manifest (the
// recorded `mvwatch features` command line) and checks it against the declared input.
func FeatureSpecFor(m *inference.Manifest) (mvextract.FeatureSpec, error) {
	in := m.Input
	spec, err := mvextract.ParseFeatureSpec(in.Extractor)
	if err != nil {
		return spec, fmt.Errorf("model %s: %w", m.Name, err)
	}
	c := spec.Clip
	if c.Length != in.ClipLen || c.Width != in.Width || c.Height != in.Height {
		return spec, fmt.Errorf("model %s: extractor %q makes %dx%d clips of %d frames; the input is %dx%d x %d",
			m.Name, in.Extractor, c.Width, c.Height, c.Length, in.Width, in.Height, in.ClipLen)
	}
	if len(in.Channels) > 0 && c.Channels() != len(in.Channels) {
		return spec, fmt.Errorf("model %s: input has %d channels %v; extractor %q makes %d", m.Name, len(in.Channels), in.Channels, in.Extractor, c.Channels())
	}
	return spec, nil
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

// ResolveModelDir finds the model directory: dir when it holds a manifest, else its "mfcd"
// subfolder. Only the default directories (config.DefaultModelDir and DefaultModelDir) also look for
// the shipped model next to the working directory and the binary; any other directory without a
// manifest is an error, never a silent fallback to the shipped model.
func ResolveModelDir(dir string) (string, error) {
	candidates := []string{dir, filepath.Join(dir, "mfcd")}
	if filepath.Clean(dir) == config.DefaultModelDir || filepath.Clean(dir) == DefaultModelDir {
		candidates = append(candidates, DefaultModelDir)
		if exe, err := os.Executable(); err == nil {
			candidates = append(candidates, filepath.Join(filepath.Dir(exe), "..", DefaultModelDir))
		}
	}
	for _, c := range candidates {
		if _, err := os.Stat(filepath.Join(c, "manifest.json")); err == nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("model directory %q: no manifest.json in it or in %s", dir, filepath.Join(dir, "mfcd"))
}
