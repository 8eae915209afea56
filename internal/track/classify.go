package track

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/mvwatch/mvwatch/models/trackclass"
)

// The object classes of a track.
const (
	ClassPerson  = "person"
	ClassVehicle = "vehicle"
	ClassOther   = "other"
)

// ModelSchema is the schema of a track class model file.
const ModelSchema = "mvwatch.trackclass.v1"

// maxWidth bounds a layer's width, so that a forward pass works on the stack.
const maxWidth = 64

// ErrModel is wrapped by the errors of LoadClassifier.
var ErrModel = errors.New("track class model")

// Classifier gives a track an object class from its features (Track.Features): standardisation, then
// a small multilayer perceptron (ReLU between layers) and a softmax. It is safe for concurrent use.
type Classifier struct {
	classes   []string
	mean, std []float64
	layers    []layer
}

type layer struct {
	in, out int
	w       []float64 // out x in, row-major
	b       []float64
	relu    bool
}

// modelFile is the JSON form written by training/trackclass.
type modelFile struct {
	Schema   string    `json:"schema"`
	Features []string  `json:"features"`
	Classes  []string  `json:"classes"`
	Mean     []float64 `json:"mean"`
	Std      []float64 `json:"std"`
	Layers   []struct {
		Weight     [][]float64 `json:"weight"`
		Bias       []float64   `json:"bias"`
		Activation string      `json:"activation"`
	} `json:"layers"`
}

// LoadClassifier parses a model file. It refuses a model whose features are not FeatureNames (a
// model trained on other features would read them wrong) or whose shapes do not chain.
func LoadClassifier(b []byte) (*Classifier, error) {
	var m modelFile
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	if m.Schema != ModelSchema {
		return nil, fmt.Errorf("%w: schema %q, want %q", ErrModel, m.Schema, ModelSchema)
	}
	if !slices.Equal(m.Features, FeatureNames) {
		return nil, fmt.Errorf("%w: features %v, want %v", ErrModel, m.Features, FeatureNames)
	}
	if len(m.Mean) != NumFeatures || len(m.Std) != NumFeatures {
		return nil, fmt.Errorf("%w: %d means and %d deviations for %d features", ErrModel, len(m.Mean), len(m.Std), NumFeatures)
	}
	if len(m.Layers) == 0 || len(m.Classes) == 0 {
		return nil, fmt.Errorf("%w: no layers or no classes", ErrModel)
	}
	c := &Classifier{classes: m.Classes, mean: m.Mean, std: m.Std}
	in := NumFeatures
	for i, l := range m.Layers {
		out := len(l.Bias)
		if out == 0 || out > maxWidth || len(l.Weight) != out {
			return nil, fmt.Errorf("%w: layer %d: %d biases and %d weight rows (at most %d)", ErrModel, i, out, len(l.Weight), maxWidth)
		}
		ly := layer{in: in, out: out, w: make([]float64, 0, in*out), b: l.Bias}
		for r, row := range l.Weight {
			if len(row) != in {
				return nil, fmt.Errorf("%w: layer %d row %d: %d weights, want %d", ErrModel, i, r, len(row), in)
			}
			ly.w = append(ly.w, row...)
		}
		switch l.Activation {
		case "relu":
			ly.relu = true
		case "", "none":
		default:
			return nil, fmt.Errorf("%w: layer %d: activation %q", ErrModel, i, l.Activation)
		}
		c.layers = append(c.layers, ly)
		in = out
	}
	if in != len(c.classes) {
		return nil, fmt.Errorf("%w: %d outputs for %d classes", ErrModel, in, len(c.classes))
	}
	for i, s := range c.std {
		if !(s > 0) {
			return nil, fmt.Errorf("%w: feature %s: deviation %v", ErrModel, FeatureNames[i], s)
		}
	}
	return c, nil
}

var (
	defaultOnce sync.Once
	defaultCls  *Classifier
	errDefault  error
)

// DefaultClassifier returns the shipped model (models/trackclass/model.json, embedded).
func DefaultClassifier() (*Classifier, error) {
	defaultOnce.Do(func() { defaultCls, errDefault = LoadClassifier(trackclass.Model) })
	return defaultCls, errDefault
}

// Classes returns the class names in output order.
func (c *Classifier) Classes() []string { return c.classes }

// Probabilities writes the class probabilities of features x (NumFeatures values) into dst, resized
// to the number of classes, and returns it.
func (c *Classifier) Probabilities(x, dst []float64) []float64 {
	var a, b [maxWidth]float64
	cur := a[:NumFeatures]
	for i := range cur {
		cur[i] = (x[i] - c.mean[i]) / c.std[i]
	}
	for _, l := range c.layers {
		next := b[:l.out]
		for o := 0; o < l.out; o++ {
			s := l.b[o]
			row := l.w[o*l.in : (o+1)*l.in]
			for i, v := range cur {
				s += row[i] * v
			}
			if l.relu && s < 0 {
				s = 0
			}
			next[o] = s
		}
		copy(a[:l.out], next)
		cur = a[:l.out]
	}
	if cap(dst) < len(cur) {
		dst = make([]float64, len(cur))
	}
	dst = dst[:len(cur)]
	top := math.Inf(-1)
	for _, v := range cur {
		top = max(top, v)
	}
	var sum float64
	for i, v := range cur {
		dst[i] = math.Exp(v - top)
		sum += dst[i]
	}
	for i := range dst {
		dst[i] /= sum
	}
	return dst
}

// Classify returns the most probable class of features x and its probability.
func (c *Classifier) Classify(x []float64) (string, float64) {
	var buf [maxWidth]float64
	p := c.Probabilities(x, buf[:0])
	best := 0
	for i := range p {
		if p[i] > p[best] {
			best = i
		}
	}
	return c.classes[best], p[best]
}
