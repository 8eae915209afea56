package inference

import (
	"errors"
	"fmt"
	"math"
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
	// IntraOpThreads overrides the environment's intra-op thread count for the stage sessions when
	// > 0. It defaults to the environment's (see RuntimeConfig.IntraOpThreads).
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
	classes    int
	thresholds []float64
	input      classifierTensor
	stages     []classifierStage
	active     []int     // chunk positions of the clips still running
	probs      []float64 // softmax scratch, one row
	closed     bool
}

// classifierTensor is one batch-major tensor buffer: row elements per clip, room for MaxBatch clips.
type classifierTensor struct {
	name  string
	row   int
	shape []int64 // shape[0] is set to the current batch before each run
	buf   []float32
}

// value returns the first n rows as a Value.
func (t *classifierTensor) value(n int) Value {
	t.shape[0] = int64(n)
	return Float32(t.shape, t.buf[:n*t.row])
}

// classifierStage is one stage session with its bound tensors.
type classifierStage struct {
	name    string
	sess    *Session
	inputs  []*classifierTensor // the clip input, or outputs of the previous stage (same buffers)
	outputs []*classifierTensor // outputs[0] is the exit logits; the rest feed the next stage
	inVals  []Value
	outVals []Value
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
		classes:    len(m.Labels),
		thresholds: thresholds,
		active:     make([]int, cfg.MaxBatch),
		probs:      make([]float64, len(m.Labels)),
	}
	in := TensorSpec{Name: m.Input.Name, DType: m.Input.DType, Shape: m.Input.Shape}
	c.input = newClassifierTensor(in, cfg.MaxBatch)
	c.clipSize = c.input.row
	if err := c.openStages(); err != nil {
		return nil, errors.Join(err, c.closeSessions())
	}
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

func newClassifierTensor(spec TensorSpec, maxBatch int) classifierTensor {
	row := 1
	for _, d := range spec.Shape[1:] {
		row *= int(d)
	}
	return classifierTensor{
		name:  spec.Name,
		row:   row,
		shape: slices.Clone(spec.Shape),
		buf:   make([]float32, maxBatch*row),
	}
}

// openStages opens the sessions and wires each stage's inputs to the previous stage's output buffers.
func (c *Classifier) openStages() error {
	m := c.manifest
	prev := []*classifierTensor{&c.input}
	for i, s := range m.Stages {
		path, err := m.StagePath(i, c.cfg.Precision)
		if err != nil {
			return err
		}
		st := classifierStage{name: s.Name}
		for _, in := range s.Inputs {
			j := slices.IndexFunc(prev, func(t *classifierTensor) bool { return t.name == in.Name })
			if j < 0 {
				return fmt.Errorf("inference: stage %s input %s is not produced by the stage before", s.Name, in.Name)
			}
			st.inputs = append(st.inputs, prev[j])
		}
		// Bind the logits first, then only the outputs the next stage reads.
		var want []TensorSpec
		j := slices.IndexFunc(s.Outputs, func(o TensorSpec) bool { return o.Name == s.Logits })
		if j < 0 {
			return fmt.Errorf("inference: stage %s has no logits output %s", s.Name, s.Logits)
		}
		want = append(want, s.Outputs[j])
		if i+1 < len(m.Stages) {
			for _, in := range m.Stages[i+1].Inputs {
				j := slices.IndexFunc(s.Outputs, func(o TensorSpec) bool { return o.Name == in.Name })
				if j < 0 {
					return fmt.Errorf("inference: stage %s input %s is not an output of stage %s",
						m.Stages[i+1].Name, in.Name, s.Name)
				}
				want = append(want, s.Outputs[j])
			}
		}
		for _, o := range want {
			t := newClassifierTensor(o, c.cfg.MaxBatch)
			st.outputs = append(st.outputs, &t)
		}
		sess, err := OpenSession(path, SessionConfig{
			Inputs:         tensorNames(st.inputs),
			Outputs:        tensorNames(st.outputs),
			IntraOpThreads: c.cfg.IntraOpThreads,
		})
		if err != nil {
			return fmt.Errorf("inference: stage %s: %w", s.Name, err)
		}
		st.sess = sess
		st.inVals = make([]Value, len(st.inputs))
		st.outVals = make([]Value, len(st.outputs))
		c.stages = append(c.stages, st)
		prev = st.outputs[1:]
	}
	return nil
}

func tensorNames(ts []*classifierTensor) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.name
	}
	return out
}

// Manifest returns the loaded model's manifest.
func (c *Classifier) Manifest() *Manifest { return c.manifest }

// Labels returns the model's labels; Result.Index indexes them.
func (c *Classifier) Labels() []string { return slices.Clone(c.manifest.Labels) }

// ClipSize is the number of float32 values of one clip: C*T*H*W of the model input.
func (c *Classifier) ClipSize() int { return c.clipSize }

// MaxBatch is the most clips one stage run takes.
func (c *Classifier) MaxBatch() int { return c.cfg.MaxBatch }

// Thresholds returns the exit thresholds in use, one per stage but the last.
func (c *Classifier) Thresholds() []float64 { return slices.Clone(c.thresholds) }

// Classify classifies clips, each ClipSize float32 values in [C][T][H][W] order as the manifest's
// input describes (normalised by the classifier when the manifest says the graph does not), and
// writes one Result per clip into out, which must have the same length. Each out[i].Probs is reused
// when its capacity suffices, so a caller that keeps out allocates nothing in steady state. The clips
// are only read, and only during the call.
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
		if err := c.runChunk(clips[lo:hi], out[lo:hi]); err != nil {
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

// runChunk runs at most MaxBatch clips through the stages with early exit.
func (c *Classifier) runChunk(clips [][]float32, out []Result) error {
	n := len(clips)
	c.loadInput(clips)
	active := c.active[:n]
	for i := range active {
		active[i] = i
	}
	last := len(c.stages) - 1
	for k := range c.stages {
		st := &c.stages[k]
		m := len(active)
		for j, t := range st.inputs {
			st.inVals[j] = t.value(m)
		}
		for j, t := range st.outputs {
			st.outVals[j] = t.value(m)
		}
		if err := st.sess.Run(st.inVals, st.outVals); err != nil {
			return fmt.Errorf("inference: stage %s on %d clips: %w", st.name, m, err)
		}
		logits := st.outputs[0]
		keep := 0
		for r := range m {
			idx, score := c.softmax(logits.buf[r*logits.row : (r+1)*logits.row])
			exit := k == last
			if !exit && !c.cfg.FullRun {
				exit = score >= c.thresholds[k]
			}
			if exit {
				c.answer(&out[active[r]], idx, score, k+1)
				continue
			}
			// Compact the row into the next stage's batch; rows only move towards the front, so
			// copying in place is safe.
			if keep != r {
				for _, t := range st.outputs[1:] {
					copy(t.buf[keep*t.row:(keep+1)*t.row], t.buf[r*t.row:(r+1)*t.row])
				}
				active[keep] = active[r]
			}
			keep++
		}
		active = active[:keep]
		if keep == 0 {
			break
		}
	}
	return nil
}

// loadInput copies the clips into the input buffer, normalising them when the graph does not.
func (c *Classifier) loadInput(clips [][]float32) {
	norm := c.manifest.Input.Normalisation
	for i, clip := range clips {
		dst := c.input.buf[i*c.clipSize : (i+1)*c.clipSize]
		if norm.InGraph {
			copy(dst, clip)
			continue
		}
		plane := c.clipSize / len(norm.Mean)
		for ch := range norm.Mean {
			mean, inv := float32(norm.Mean[ch]), float32(1/norm.Std[ch])
			for j := ch * plane; j < (ch+1)*plane; j++ {
				dst[j] = (clip[j] - mean) * inv
			}
		}
	}
}

// softmax computes the probabilities of one logits row into c.probs and returns the argmax and its
// probability.
func (c *Classifier) softmax(logits []float32) (int, float64) {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	peak := float64(logits[best])
	var sum float64
	for i, v := range logits {
		e := math.Exp(float64(v) - peak)
		c.probs[i] = e
		sum += e
	}
	for i := range c.probs {
		c.probs[i] /= sum
	}
	return best, c.probs[best]
}

// answer writes the current c.probs as the result of one clip.
func (c *Classifier) answer(r *Result, idx int, score float64, stage int) {
	r.Index = idx
	r.Label = c.manifest.Labels[idx]
	r.Score = float32(score)
	r.Stage = stage
	if cap(r.Probs) < c.classes {
		r.Probs = make([]float32, c.classes)
	}
	r.Probs = r.Probs[:c.classes]
	for i, p := range c.probs {
		r.Probs[i] = float32(p)
	}
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
	for _, st := range c.stages {
		if st.sess != nil {
			errs = append(errs, st.sess.Close())
		}
	}
	return errors.Join(errs...)
}
