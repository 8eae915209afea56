package inference

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"
)

// ErrBadClip is wrapped by errors about a clip that does not fit the model input.
var ErrBadClip = errors.New("inference: bad clip")

// ErrClassifierClosed is returned by Classify after Close.
var ErrClassifierClosed = errors.New("inference: classifier closed")

// ClassifierConfig configures a Classifier.
type ClassifierConfig struct {
	// Precision selects the stage files: PrecisionFP32 or PrecisionINT8. It defaults to PrecisionFP32.
	Precision Precision
	// MaxBatch is the most clips one stage run takes; the buffers are sized for it once, and Classify
	// splits a larger batch into runs of MaxBatch. It defaults to 8.
	MaxBatch int
	// Thresholds overrides the manifest's exit thresholds: one value in [0, 1] for every stage but
	// the last. A clip stops at an exit when its softmax confidence is at or above the threshold
	// (0 stops every clip at that exit). It defaults to the manifest's thresholds.
	Thresholds []float64
	// FullRun disables early exit: every clip runs through every stage and the last exit answers.
	// It defaults to false.
	FullRun bool
	// Workers is the number of session sets that run parts of one batch in parallel, each on its
	// own goroutine (a batch of n clips uses min(n, Workers) of them; a lone clip cannot be split).
	// It defaults to the number of CPUs (runtime.NumCPU), at most MaxBatch. For a small model like
	// MFCD-Net, one single-thread session per core is about twice as fast as one session with
	// intra-op threads on every core (see BenchmarkMeasureThroughput).
	Workers int
	// IntraOpThreads is the intra-op thread count of each stage session when > 0. It defaults to 1
	// when Workers > 1, else to the environment's (see RuntimeConfig.IntraOpThreads).
	IntraOpThreads int
	// Hooks receive measurements; each defaults to none.
	Hooks ClassifierHooks
}

// ClassifierHooks are callbacks through which a Classifier reports what it does, so that the caller's
// metrics (NewClassifierMetrics, or the pipeline's) can be fed. They run on the goroutine that calls
// Classify, with the classifier locked, and must be quick.
type ClassifierHooks struct {
	// Batch is called once per Classify call with its number of clips and its wall time.
	Batch func(clips int, elapsed time.Duration)
	// Exit is called once per classified clip with the 1-based stage whose exit decided it.
	Exit func(stage int)
}

// Result is the classification of one clip.
type Result struct {
	// Index is the label index of the most probable class at the deciding exit.
	Index int
	// Label is Labels[Index].
	Label string
	// Score is the softmax probability of Label at the deciding exit.
	Score float32
	// Stage is the 1-based stage whose exit decided the clip.
	Stage int
	// Probs are the softmax probabilities of every label at the deciding exit.
	Probs []float32
}

// Classifier runs a staged (early-exit) model from a model directory over batches of clips: stage 1
// runs on the whole batch, and only the clips whose exit confidence is below that exit's threshold
// go on to the next stage, compacted into a smaller batch (dynamic execution). All tensor buffers are
// allocated once, for MaxBatch clips, and reused by every call.
//
// A Classifier is safe for concurrent use: Classify calls are serialised by a mutex (one model run
// at a time), so feed it from one goroutine (a Batcher) for throughput.
type Classifier struct {
	mu         sync.Mutex
	manifest   *Manifest
	cfg        ClassifierConfig
	clipSize   int
	thresholds []float64
	replicas   []*classifierReplica // cfg.Workers session sets
	errs       []error              // one per replica, reused
	closed     bool
}

// NewClassifier loads the model directory dir with LoadModel and opens one session per stage at the
// configured precision. Init must have succeeded.
func NewClassifier(dir string, cfg ClassifierConfig) (*Classifier, error) {
	m, err := LoadModel(dir)
	if err != nil {
		return nil, err
	}
	return NewClassifierFromManifest(m, cfg)
}

// NewClassifierFromManifest opens one session per stage of an already loaded manifest (see LoadModel).
// Init must have succeeded.
func NewClassifierFromManifest(m *Manifest, cfg ClassifierConfig) (*Classifier, error) {
	if cfg.Precision == "" {
		cfg.Precision = PrecisionFP32
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 8
	}
	if cfg.MaxBatch < 0 {
		return nil, fmt.Errorf("inference: classifier max batch %d is negative", cfg.MaxBatch)
	}
	if cfg.Workers == 0 {
		cfg.Workers = max(1, min(runtime.NumCPU(), cfg.MaxBatch))
	}
	if cfg.Workers < 0 {
		return nil, fmt.Errorf("inference: classifier workers %d is negative", cfg.Workers)
	}
	if cfg.IntraOpThreads == 0 && cfg.Workers > 1 {
		cfg.IntraOpThreads = 1
	}
	if cfg.Precision != PrecisionFP32 && cfg.Precision != PrecisionINT8 {
		return nil, fmt.Errorf("inference: unknown precision %q (want %s or %s)", cfg.Precision, PrecisionFP32, PrecisionINT8)
	}
	if !m.HasPrecision(cfg.Precision) {
		return nil, fmt.Errorf("inference: model %s (%s) has no %s file for every stage", m.Name, m.Dir, cfg.Precision)
	}
	thresholds, err := exitThresholds(m, cfg.Thresholds)
	if err != nil {
		return nil, err
	}
	c := &Classifier{
		manifest:   m,
		cfg:        cfg,
		thresholds: thresholds,
		errs:       make([]error, cfg.Workers),
	}
	// Each replica takes at most its share of a full batch.
	share := (cfg.MaxBatch + cfg.Workers - 1) / cfg.Workers
	for range cfg.Workers {
		r, err := newClassifierReplica(c, share)
		if err != nil {
			return nil, errors.Join(err, c.closeSessions())
		}
		c.replicas = append(c.replicas, r)
	}
	c.clipSize = c.replicas[0].input.row
	return c, nil
}

// exitThresholds returns the thresholds of every stage but the last: override when given, else the
// manifest's.
func exitThresholds(m *Manifest, override []float64) ([]float64, error) {
	n := len(m.Stages) - 1
	if override == nil {
		out := make([]float64, n)
		for i := range out {
			out[i] = m.Stages[i].Threshold
		}
		return out, nil
	}
	if len(override) != n {
		return nil, fmt.Errorf("inference: %d thresholds for model %s, want %d (one per stage but the last)",
			len(override), m.Name, n)
	}
	for i, t := range override {
		if !(t >= 0 && t <= 1) {
			return nil, fmt.Errorf("inference: threshold %d is %v, want a value in [0, 1]", i+1, t)
		}
	}
	return slices.Clone(override), nil
}

// Manifest returns the loaded model's manifest.
func (c *Classifier) Manifest() *Manifest { return c.manifest }

// Labels returns the model's labels; Result.Index indexes them.
func (c *Classifier) Labels() []string { return slices.Clone(c.manifest.Labels) }

// ClipSize is the number of float32 values of one clip: C*T*H*W of the model input.
func (c *Classifier) ClipSize() int { return c.clipSize }

// MaxBatch is the most clips one stage run takes.
func (c *Classifier) MaxBatch() int { return c.cfg.MaxBatch }

// Config returns the configuration in use, defaults filled in.
func (c *Classifier) Config() ClassifierConfig { return c.cfg }

// Thresholds returns the exit thresholds in use, one per stage but the last.
func (c *Classifier) Thresholds() []float64 { return slices.Clone(c.thresholds) }

// Classify classifies clips, each ClipSize float32 values in [C][T][H][W] order as the manifest's
// input describes (normalised by the classifier when the manifest says the graph does not), and
// writes one Result per clip into out, which must have the same length. Each out[i].Probs is reused
// when its capacity suffices, so a caller that keeps out allocates nothing in steady state. The clips
// are only read, and only during the call. A clip holding NaN or Inf values reaches the last exit
// with NaN probabilities and Score (so it passes no score threshold) and does not disturb the other
// clips of its batch.
func (c *Classifier) Classify(clips [][]float32, out []Result) error {
	if len(out) != len(clips) {
		return fmt.Errorf("inference: classify: %d results for %d clips", len(out), len(clips))
	}
	for i, clip := range clips {
		if len(clip) != c.clipSize {
			return fmt.Errorf("%w: clip %d has %d values, model %s wants %d (%s %v without the batch)",
				ErrBadClip, i, len(clip), c.manifest.Name, c.clipSize, c.manifest.Input.Layout, c.manifest.Input.Shape)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClassifierClosed
	}
	start := time.Now()
	for lo := 0; lo < len(clips); lo += c.cfg.MaxBatch {
		hi := min(lo+c.cfg.MaxBatch, len(clips))
		if err := c.runParallel(clips[lo:hi], out[lo:hi]); err != nil {
			return err
		}
	}
	if c.cfg.Hooks.Batch != nil && len(clips) > 0 {
		c.cfg.Hooks.Batch(len(clips), time.Since(start))
	}
	if c.cfg.Hooks.Exit != nil {
		for i := range out {
			c.cfg.Hooks.Exit(out[i].Stage)
		}
	}
	return nil
}

// runParallel splits at most MaxBatch clips over the replicas: the first part runs on the calling
// goroutine, the others on goroutines that end before it returns.
func (c *Classifier) runParallel(clips [][]float32, out []Result) error {
	n := len(clips)
	if n == 0 {
		return nil
	}
	size := (n + len(c.replicas) - 1) / len(c.replicas)
	parts := (n + size - 1) / size
	if parts == 1 {
		return c.replicas[0].run(clips, out)
	}
	var wg sync.WaitGroup
	for p := 1; p < parts; p++ {
		lo, hi := p*size, min((p+1)*size, n)
		wg.Go(func() { c.errs[p] = c.replicas[p].run(clips[lo:hi], out[lo:hi]) })
	}
	c.errs[0] = c.replicas[0].run(clips[:size], out[:size])
	wg.Wait()
	err := errors.Join(c.errs[:parts]...)
	clear(c.errs)
	return err
}

// Close frees the stage sessions; later Classify calls return ErrClassifierClosed. It waits for a
// running Classify and is safe to call more than once.
func (c *Classifier) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.closeSessions()
}

func (c *Classifier) closeSessions() error {
	var errs []error
	for _, r := range c.replicas {
		errs = append(errs, r.close())
	}
	return errors.Join(errs...)
}
