package llmgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Sampling selects how the next token is drawn from the logits.
type Sampling struct {
	// Temperature divides the logits; 0 means greedy (argmax, lowest id on ties). It defaults to 0.
	Temperature float64
	// TopK keeps only the K most likely tokens when > 0. It defaults to 0 (off).
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probability reaches P when in (0, 1).
	// It defaults to 0 (off).
	TopP float64
	// Seed seeds the random source of one generation. It defaults to 0.
	Seed uint64
}

// Greedy reports whether s picks the argmax.
func (s Sampling) Greedy() bool { return s.Temperature <= 0 }

// Validate reports a setting out of range.
func (s Sampling) Validate() error {
	if math.IsNaN(s.Temperature) || s.Temperature < 0 || s.TopK < 0 || s.TopP < 0 || s.TopP > 1 || math.IsNaN(s.TopP) {
		return fmt.Errorf("llmgen: bad sampling %+v (temperature >= 0, top_k >= 0, 0 <= top_p <= 1)", s)
	}
	return nil
}

// sampler turns logits into the warped distribution that both autoregressive and speculative
// decoding sample from; the buffers are reused across calls.
type sampler struct {
	cfg   Sampling
	rng   *rand.Rand
	order []int
}

func newSampler(cfg Sampling, vocab int) *sampler {
	return &sampler{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x6d7677617463)), order: make([]int, vocab)}
}

// dist writes the probabilities of the next token into p (len(logits) values) after temperature,
// top-k and top-p; greedy gives a one-hot vector at the argmax.
func (s *sampler) dist(logits []float32, p []float64) {
	if s.cfg.Greedy() {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		clear(p)
		p[best] = 1
		return
	}
	maxL := float32(math.Inf(-1))
	for _, v := range logits {
		maxL = max(maxL, v)
	}
	invT := 1 / s.cfg.Temperature
	sum := 0.0
	for i, v := range logits {
		e := math.Exp(float64(v-maxL) * invT)
		p[i] = e
		sum += e
	}
	for i := range p {
		p[i] /= sum
	}
	k := s.cfg.TopK
	usesP := s.cfg.TopP > 0 && s.cfg.TopP < 1
	if (k <= 0 || k >= len(p)) && !usesP {
		return
	}
	order := s.order[:len(p)]
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return p[order[a]] > p[order[b]] })
	keep := len(p)
	if k > 0 && k < keep {
		keep = k
	}
	if usesP {
		cum := 0.0
		for i := 0; i < keep; i++ {
			cum += p[order[i]]
			if cum >= s.cfg.TopP {
				keep = i + 1
				break
			}
		}
	}
	for _, i := range order[keep:] {
		p[i] = 0
	}
	sum = 0
	for _, i := range order[:keep] {
		sum += p[i]
	}
	for _, i := range order[:keep] {
		p[i] /= sum
	}
}

// draw samples an index from the distribution p (which sums to 1 up to rounding).
func (s *sampler) draw(p []float64) int {
	if s.cfg.Greedy() {
		for i, v := range p {
			if v == 1 {
				return i
			}
		}
	}
	u := s.rng.Float64()
	cum := 0.0
	last := 0
	for i, v := range p {
		if v <= 0 {
			continue
		}
		cum += v
		last = i
		if u < cum {
			return i
		}
	}
	return last
}

// residual writes norm(max(0, pt - pd)) into pt and reports false when it is all zero (pt == pd).
func residual(pt, pd []float64) bool {
	sum := 0.0
	for i := range pt {
		v := pt[i] - pd[i]
		if v < 0 {
			v = 0
		}
		pt[i] = v
		sum += v
	}
	if sum <= 0 {
		return false
	}
	for i := range pt {
		pt[i] /= sum
	}
	return true
}
