package llmgen

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Errors about the prompt.
var (
	ErrEmptyPrompt   = errors.New("llmgen: empty prompt")
	ErrPromptTooLong = errors.New("llmgen: prompt longer than the context")
)

// Finish reasons of a Result.
const (
	FinishEOS     = "eos"
	FinishLength  = "length"
	FinishContext = "context"
)

// GeneratorConfig configures a Generator.
type GeneratorConfig struct {
	// MaxNewTokens is the most tokens one generation produces. It defaults to 64.
	MaxNewTokens int
	// InitialK is the first draft length of speculative decoding. It defaults to 8.
	InitialK int
	// MaxK bounds the adaptive draft length. It defaults to 16.
	MaxK int
	// FixedK keeps the draft length at InitialK instead of adapting it (and turns MinDraftConfidence
	// off).
	FixedK bool
	// MinDraftConfidence ends a round's drafting early, after a draft token drawn where the draft's
	// most likely next token has a probability below it (greedy: at temperature 1; sampled: after the
	// sampling warps): such tokens are likely rejected, so drafting further wastes draft steps and
	// verification width. The stopping rule depends only on draft outputs, so the output still
	// follows the target exactly. It defaults to DefaultMinDraftConfidence; a negative value turns it
	// off.
	MinDraftConfidence float64
}

// DefaultMinDraftConfidence is the default GeneratorConfig.MinDraftConfidence (chosen on
// `mvwatch bench caption`, docs/BENCHMARKS.md).
const DefaultMinDraftConfidence = 0.3

// Stats counts the work of one or more generations.
type Stats struct {
	// Generated is the number of tokens produced (the end-of-text token included when reached).
	Generated int
	// TargetCalls and DraftCalls count forward passes of each model (prompt prefill included).
	TargetCalls, DraftCalls int
	// Rounds is the number of speculative draft-and-verify rounds.
	Rounds int
	// Drafted and Accepted count draft tokens proposed and accepted.
	Drafted, Accepted int
	// KSum is the sum of the draft lengths of all rounds.
	KSum int
}

// Add accumulates o into s.
func (s *Stats) Add(o Stats) {
	s.Generated += o.Generated
	s.TargetCalls += o.TargetCalls
	s.DraftCalls += o.DraftCalls
	s.Rounds += o.Rounds
	s.Drafted += o.Drafted
	s.Accepted += o.Accepted
	s.KSum += o.KSum
}

// AcceptanceRate is Accepted / Drafted (0 without drafts).
func (s Stats) AcceptanceRate() float64 {
	if s.Drafted == 0 {
		return 0
	}
	return float64(s.Accepted) / float64(s.Drafted)
}

// MeanAccepted is the mean number of draft tokens accepted per round.
func (s Stats) MeanAccepted() float64 {
	if s.Rounds == 0 {
		return 0
	}
	return float64(s.Accepted) / float64(s.Rounds)
}

// MeanK is the mean draft length per round.
func (s Stats) MeanK() float64 {
	if s.Rounds == 0 {
		return 0
	}
	return float64(s.KSum) / float64(s.Rounds)
}

// Result is one generation.
type Result struct {
	// Tokens are the generated ids, without the end-of-text token.
	Tokens []int
	// Finish is FinishEOS, FinishLength or FinishContext.
	Finish string
	// Stats counts the work done.
	Stats Stats
	// Prefill is the time spent feeding the prompt to the model(s), included in the generation.
	Prefill time.Duration
}

// Generator decodes with a target model, alone (Autoregressive) or checked against a draft model's
// proposals (Speculative). Speculative output follows the target's distribution exactly. A Generator
// is not safe for concurrent use.
type Generator struct {
	target, draft *Model
	cfg           GeneratorConfig
	k             int
	pt, pd        []float64 // (MaxK+1) x vocab and MaxK x vocab probability rows
	pend          []int
	verify        []int
}

// NewGenerator pairs a target with an optional draft (nil for autoregressive decoding only). It
// refuses a draft whose vocabulary differs from the target's.
func NewGenerator(target, draft *Model, cfg GeneratorConfig) (*Generator, error) {
	if target == nil {
		return nil, errors.New("llmgen: no target model")
	}
	if cfg.MaxNewTokens <= 0 {
		cfg.MaxNewTokens = 64
	}
	if cfg.MaxK <= 0 {
		cfg.MaxK = 16
	}
	if cfg.InitialK <= 0 {
		cfg.InitialK = 8
	}
	if cfg.MinDraftConfidence == 0 {
		cfg.MinDraftConfidence = DefaultMinDraftConfidence
	}
	cfg.InitialK = min(cfg.InitialK, cfg.MaxK)
	if draft != nil {
		if err := sameVocabulary(target, draft); err != nil {
			return nil, err
		}
		if cfg.MaxK+1 > target.Decoder.maxStep {
			return nil, fmt.Errorf("llmgen: MaxK %d needs %d tokens per target step, decoder takes %d", cfg.MaxK,
				cfg.MaxK+1, target.Decoder.maxStep)
		}
	}
	v := target.Decoder.Vocab()
	return &Generator{target: target, draft: draft, cfg: cfg, k: cfg.InitialK,
		pt: make([]float64, (cfg.MaxK+1)*v), pd: make([]float64, cfg.MaxK*v)}, nil
}

// K returns the current (adaptive) draft length.
func (g *Generator) K() int { return g.k }

// Config returns the configuration with its defaults filled in.
func (g *Generator) Config() GeneratorConfig { return g.cfg }

func (g *Generator) checkPrompt(prompt []int) error {
	if len(prompt) == 0 {
		return ErrEmptyPrompt
	}
	limit := g.target.Decoder.MaxLength()
	if g.draft != nil {
		limit = min(limit, g.draft.Decoder.MaxLength())
	}
	if len(prompt) >= limit {
		return fmt.Errorf("%w: %d tokens, context %d leaves no room to generate", ErrPromptTooLong, len(prompt), limit)
	}
	v := g.target.Decoder.Vocab()
	for _, t := range prompt {
		if t < 0 || t >= v {
			return fmt.Errorf("llmgen: prompt token %d outside the vocabulary (%d)", t, v)
		}
	}
	return nil
}

// prefill makes d's cache hold all prompt tokens but the last, reusing a cached common prefix.
func prefill(d *Decoder, prompt []int, calls *int) error {
	n, err := d.Prefill(prompt[:len(prompt)-1])
	*calls += n
	return err
}

// ResetCaches empties both models' caches, so that the next generation reuses no prompt prefix.
func (g *Generator) ResetCaches() {
	g.target.Decoder.Reset()
	if g.draft != nil {
		g.draft.Decoder.Reset()
	}
}

// Autoregressive generates with the target alone, one forward pass per token.
func (g *Generator) Autoregressive(prompt []int, s Sampling) (Result, error) {
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	if err := g.checkPrompt(prompt); err != nil {
		return Result{}, err
	}
	var res Result
	t := g.target.Decoder
	start := time.Now()
	if err := prefill(t, prompt, &res.Stats.TargetCalls); err != nil {
		return res, err
	}
	res.Prefill = time.Since(start)
	smp := newSampler(s, t.Vocab())
	p := g.pt[:t.Vocab()]
	last := prompt[len(prompt)-1]
	for {
		if t.Len()+1 > t.MaxLength() {
			res.Finish = FinishContext
			return res, nil
		}
		logits, err := t.Forward([]int{last})
		if err != nil {
			return res, err
		}
		res.Stats.TargetCalls++
		smp.dist(logits, p)
		last = smp.draw(p)
		res.Stats.Generated++
		if last == g.target.EOS {
			res.Finish = FinishEOS
			return res, nil
		}
		res.Tokens = append(res.Tokens, last)
		if len(res.Tokens) >= g.cfg.MaxNewTokens {
			res.Finish = FinishLength
			return res, nil
		}
	}
}

// Speculative generates with draft proposals verified by the target: per round the draft proposes K
// tokens, the target scores them in one pass, token i is accepted with probability
// min(1, p_target/p_draft), the first rejected one is replaced by a draw from
// norm(max(0, p_target - p_draft)), and when all K are accepted a bonus token is drawn from the
// target's next distribution. Both caches are rolled back to the accepted prefix. K adapts: +2 after
// a fully accepted round, -1 after a rejection (as Hugging Face assisted generation's heuristic); a
// round drafts no further than an end-of-text token.
func (g *Generator) Speculative(prompt []int, s Sampling) (Result, error) {
	if g.draft == nil {
		return Result{}, errors.New("llmgen: speculative decoding needs a draft model")
	}
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	if err := g.checkPrompt(prompt); err != nil {
		return Result{}, err
	}
	var res Result
	t, d := g.target.Decoder, g.draft.Decoder
	start := time.Now()
	if err := prefill(t, prompt, &res.Stats.TargetCalls); err != nil {
		return res, err
	}
	if err := prefill(d, prompt, &res.Stats.DraftCalls); err != nil {
		return res, err
	}
	res.Prefill = time.Since(start)
	v := t.Vocab()
	smp := newSampler(s, v)
	n := len(prompt) // sequence length; the target cache holds n-1 tokens, the last one is pending
	last := prompt[n-1]
	pend := append(g.pend[:0], last) // tokens not yet in the draft cache
	minConf := g.cfg.MinDraftConfidence
	if g.cfg.FixedK || minConf < 0 {
		minConf = 0
	}
	for {
		if n > t.MaxLength() {
			res.Finish = FinishContext
			return res, nil
		}
		k := g.k
		k = min(k, g.cfg.MaxNewTokens-len(res.Tokens)-1, t.MaxLength()-n, d.MaxLength()-n+1)
		k = max(k, 0)
		// Draft K tokens.
		verify := append(g.verify[:0], last)
		for i := 0; i < k; i++ {
			in := pend
			if i > 0 {
				in = verify[i : i+1]
			}
			logits, err := d.Forward(in)
			if err != nil {
				return res, err
			}
			res.Stats.DraftCalls++
			q := g.pd[i*v : (i+1)*v]
			smp.dist(logits[(len(in)-1)*v:], q)
			tok := smp.draw(q)
			verify = append(verify, tok)
			// Nothing follows the end of text, and an unsure draft token is likely rejected: stop
			// drafting (the stopping rule depends only on draft outputs, so the output distribution
			// is unchanged).
			if tok == g.target.EOS || (minConf > 0 && i+1 < k && topProb(s, logits[(len(in)-1)*v:], q) < minConf) {
				k = i + 1
				break
			}
		}
		if k > 0 {
			pend = pend[:0]
		}
		// Verify all K in one target pass.
		logits, err := t.Forward(verify)
		if err != nil {
			return res, err
		}
		res.Stats.TargetCalls++
		// Target distributions are computed only up to the first rejection.
		m := 0
		next := -1
		for ; m < k; m++ {
			tok := verify[m+1]
			p := g.pt[m*v : (m+1)*v]
			smp.dist(logits[m*v:(m+1)*v], p)
			q := g.pd[m*v : (m+1)*v]
			if smp.rng.Float64()*q[tok] < p[tok] {
				continue
			}
			if residual(p, q) {
				next = smp.draw(p)
			} else {
				next = smp.draw(q)
			}
			break
		}
		if next < 0 {
			p := g.pt[k*v : (k+1)*v]
			smp.dist(logits[k*v:(k+1)*v], p)
			next = smp.draw(p)
		}
		if k > 0 {
			res.Stats.Rounds++
			res.Stats.Drafted += k
			res.Stats.Accepted += m
			res.Stats.KSum += k
			if !g.cfg.FixedK {
				if m == k {
					g.k = min(g.k+2, g.cfg.MaxK)
				} else {
					g.k = max(g.k-1, 1)
				}
			}
		}
		// Roll both caches back to the accepted prefix.
		if err := t.Truncate(n + m); err != nil {
			return res, err
		}
		if k > 0 {
			if m < k {
				if err := d.Truncate(n + m); err != nil {
					return res, err
				}
			} else {
				pend = append(pend, verify[k])
			}
		}
		pend = append(pend, next)
		newToks := append(verify[1:m+1], next)
		for _, tok := range newToks {
			res.Stats.Generated++
			if tok == g.target.EOS {
				res.Finish = FinishEOS
				g.pend, g.verify = pend, verify
				return res, nil
			}
			res.Tokens = append(res.Tokens, tok)
			if len(res.Tokens) >= g.cfg.MaxNewTokens {
				res.Finish = FinishLength
				g.pend, g.verify = pend, verify
				return res, nil
			}
		}
		n += m + 1
		last = next
	}
}

// topProb is the probability of the most likely token: from the warped distribution q when
// sampling, from the logits at temperature 1 when greedy (q is one-hot then).
func topProb(s Sampling, logits []float32, q []float64) float64 {
	if !s.Greedy() {
		return slices.Max(q)
	}
	maxL := slices.Max(logits)
	sum := 0.0
	for _, l := range logits {
		// Terms below e^-20 change the sum by less than vocab * 2e-9: skip their exp.
		if d := l - maxL; d > -20 {
			sum += math.Exp(float64(d))
		}
	}
	return 1 / sum
}
