package inference

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// classifierTensor is one batch-major tensor buffer: row elements per clip, room for a replica's
// batch.
type classifierTensor struct {
	name  string
	row   int
	shape []int64 // shape[0] is set to the current batch before each run
	buf   []float32
}

func newClassifierTensor(spec TensorSpec, maxBatch int) *classifierTensor {
	row := 1
	for _, d := range spec.Shape[1:] {
		row *= int(d)
	}
	return &classifierTensor{
		name:  spec.Name,
		row:   row,
		shape: slices.Clone(spec.Shape),
		buf:   make([]float32, maxBatch*row),
	}
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

// classifierReplica is one set of stage sessions with its own buffers, for up to maxBatch clips. A
// Classifier runs parts of a batch on several replicas at once; one replica is used by one goroutine
// at a time.
type classifierReplica struct {
	c        *Classifier // read-only: manifest, config, thresholds
	maxBatch int
	input    *classifierTensor
	stages   []classifierStage
	active   []int     // positions of the clips still running
	probs    []float64 // softmax scratch, one row
}

// newClassifierReplica opens the stage sessions and wires each stage's inputs to the previous
// stage's output buffers. On error it closes what it opened.
func newClassifierReplica(c *Classifier, maxBatch int) (*classifierReplica, error) {
	m := c.manifest
	r := &classifierReplica{
		c:        c,
		maxBatch: maxBatch,
		input:    newClassifierTensor(TensorSpec{Name: m.Input.Name, DType: m.Input.DType, Shape: m.Input.Shape}, maxBatch),
		active:   make([]int, maxBatch),
		probs:    make([]float64, len(m.Labels)),
	}
	if err := r.open(); err != nil {
		return nil, errors.Join(err, r.close())
	}
	return r, nil
}

func (r *classifierReplica) open() error {
	m := r.c.manifest
	prev := []*classifierTensor{r.input}
	for i, s := range m.Stages {
		path, err := m.StagePath(i, r.c.cfg.Precision)
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
		j := slices.IndexFunc(s.Outputs, func(o TensorSpec) bool { return o.Name == s.Logits })
		if j < 0 {
			return fmt.Errorf("inference: stage %s has no logits output %s", s.Name, s.Logits)
		}
		st.outputs = append(st.outputs, newClassifierTensor(s.Outputs[j], r.maxBatch))
		if i+1 < len(m.Stages) {
			for _, in := range m.Stages[i+1].Inputs {
				j := slices.IndexFunc(s.Outputs, func(o TensorSpec) bool { return o.Name == in.Name })
				if j < 0 {
					return fmt.Errorf("inference: stage %s input %s is not an output of stage %s",
						m.Stages[i+1].Name, in.Name, s.Name)
				}
				st.outputs = append(st.outputs, newClassifierTensor(s.Outputs[j], r.maxBatch))
			}
		}
		sess, err := OpenSession(path, SessionConfig{
			Inputs:         tensorNames(st.inputs),
			Outputs:        tensorNames(st.outputs),
			IntraOpThreads: r.c.cfg.IntraOpThreads,
		})
		if err != nil {
			return fmt.Errorf("inference: stage %s: %w", s.Name, err)
		}
		st.sess = sess
		st.inVals = make([]Value, len(st.inputs))
		st.outVals = make([]Value, len(st.outputs))
		r.stages = append(r.stages, st)
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

// run classifies at most maxBatch clips through the stages with early exit: after each stage the
// clips that stay are compacted to the front of the feature buffers, which the next stage reads.
func (r *classifierReplica) run(clips [][]float32, out []Result) error {
	n := len(clips)
	if n == 0 {
		return nil
	}
	r.loadInput(clips)
	active := r.active[:n]
	for i := range active {
		active[i] = i
	}
	last := len(r.stages) - 1
	for k := range r.stages {
		st := &r.stages[k]
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
		for row := range m {
			idx, score := r.softmax(logits.buf[row*logits.row : (row+1)*logits.row])
			exit := k == last
			if !exit && !r.c.cfg.FullRun {
				exit = score >= r.c.thresholds[k]
			}
			if exit {
				r.answer(&out[active[row]], idx, score, k+1)
				continue
			}
			// Rows only move towards the front, so copying in place is safe.
			if keep != row {
				for _, t := range st.outputs[1:] {
					copy(t.buf[keep*t.row:(keep+1)*t.row], t.buf[row*t.row:(row+1)*t.row])
				}
				active[keep] = active[row]
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
func (r *classifierReplica) loadInput(clips [][]float32) {
	norm := r.c.manifest.Input.Normalisation
	size := r.input.row
	for i, clip := range clips {
		dst := r.input.buf[i*size : (i+1)*size]
		if norm.InGraph {
			copy(dst, clip)
			continue
		}
		plane := size / len(norm.Mean)
		signedLog := norm.Transform == TransformSignedLog1p
		for ch := range norm.Mean {
			mean, inv := float32(norm.Mean[ch]), float32(1/norm.Std[ch])
			for j := ch * plane; j < (ch+1)*plane; j++ {
				x := clip[j]
				if signedLog {
					x = signedLog1p(x)
				}
				dst[j] = (x - mean) * inv
			}
		}
	}
}

// signedLog1p is sign(x) * log(1 + |x|).
func signedLog1p(x float32) float32 {
	if x < 0 {
		return -float32(math.Log1p(float64(-x)))
	}
	return float32(math.Log1p(float64(x)))
}

// softmax computes the probabilities of one logits row into r.probs and returns the argmax and its
// probability.
func (r *classifierReplica) softmax(logits []float32) (int, float64) {
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
		r.probs[i] = e
		sum += e
	}
	for i := range r.probs {
		r.probs[i] /= sum
	}
	return best, r.probs[best]
}

// answer writes the current r.probs as the result of one clip.
func (r *classifierReplica) answer(res *Result, idx int, score float64, stage int) {
	classes := len(r.probs)
	res.Index = idx
	res.Label = r.c.manifest.Labels[idx]
	res.Score = float32(score)
	res.Stage = stage
	if cap(res.Probs) < classes {
		res.Probs = make([]float32, classes)
	}
	res.Probs = res.Probs[:classes]
	for i, p := range r.probs {
		res.Probs[i] = float32(p)
	}
}

// close frees the replica's sessions.
func (r *classifierReplica) close() error {
	var errs []error
	for _, st := range r.stages {
		errs = append(errs, st.sess.Close())
	}
	return errors.Join(errs...)
}
