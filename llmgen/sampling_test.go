package llmgen

import (
	"math"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// nextDist returns the target's warped next-token distribution after ids.
func nextDist(t *testing.T, m *Model, ids []int, s Sampling) []float64 {
	t.Helper()
	m.Decoder.Reset()
	lg, err := m.Decoder.Forward(ids)
	require.NoError(t, err)
	v := m.Decoder.Vocab()
	p := make([]float64, v)
	newSampler(s, v).dist(lg[(len(ids)-1)*v:], p)
	return p
}

// chiSquare returns the goodness-of-fit statistic of counts against probabilities p (n draws),
// pooling cells with an expected count below 5, and its degrees of freedom.
func chiSquare(counts map[int]int, p []float64, n int) (float64, int) {
	type cell struct{ obs, exp float64 }
	var cells []cell
	var rest cell
	for i, pi := range p {
		e := pi * float64(n)
		if e >= 5 {
			cells = append(cells, cell{float64(counts[i]), e})
		} else {
			rest.obs += float64(counts[i])
			rest.exp += e
		}
	}
	// Mass the draws put outside p's support (impossible tokens) lands in rest too.
	total := 0
	for _, c := range counts {
		total += c
	}
	rest.obs += float64(n - total)
	sort.Slice(cells, func(a, b int) bool { return cells[a].exp < cells[b].exp })
	if rest.exp >= 5 || len(cells) == 0 {
		cells = append(cells, rest)
	} else {
		cells[0].obs += rest.obs
		cells[0].exp += rest.exp
	}
	x := 0.0
	for _, c := range cells {
		x += (c.obs - c.exp) * (c.obs - c.exp) / c.exp
	}
	return x, len(cells) - 1
}

// chiSquareCritical is the upper 0.001 quantile of chi-square with df degrees of freedom
// (Wilson-Hilferty approximation).
func chiSquareCritical(df int) float64 {
	const z = 3.090 // standard normal 0.999 quantile
	k := float64(df)
	return k * math.Pow(1-2/(9*k)+z*math.Sqrt(2/(9*k)), 3)
}

// TestSpeculativeSamplingMatchesTarget draws first and second tokens at a fixed prefix from the
// speculative sampler and checks them against the target's exact distributions (chi-square
// goodness of fit at alpha = 0.001, fixed seeds), while the same test rejects draft-only sampling.
func TestSpeculativeSamplingMatchesTarget(t *testing.T) {
	target, draft := loadPair(t)
	prompt := target.Tokenizer.Encode(testEvents(1, 3)[0].Prompt())
	s := Sampling{Temperature: 1}
	p1 := nextDist(t, target, prompt, s)
	// Exact second-token marginal: sum over first tokens x of p1(x) p(. | prompt, x).
	p2 := make([]float64, len(p1))
	for x, px := range p1 {
		if px < 1e-7 {
			continue
		}
		q := nextDist(t, target, append(append([]int(nil), prompt...), x), s)
		for y, qy := range q {
			p2[y] += px * qy
		}
	}
	// 1000 draws per sampler by default, 4000 with MVWATCH_LONG=1.
	n := 1000
	if os.Getenv("MVWATCH_LONG") != "" {
		n = 4000
	}
	drawWith := func(s Sampling, g *Generator, spec bool, seed0 uint64) (map[int]int, map[int]int) {
		first, second := map[int]int{}, map[int]int{}
		for i := 0; i < n; i++ {
			si := s
			si.Seed = seed0 + uint64(i)
			var res Result
			var err error
			if spec {
				res, err = g.Speculative(prompt, si)
			} else {
				res, err = g.Autoregressive(prompt, si)
			}
			require.NoError(t, err)
			toks := append(res.Tokens, target.EOS, target.EOS)
			first[toks[0]]++
			second[toks[1]]++
		}
		return first, second
	}
	draw := func(g *Generator, spec bool, seed0 uint64) (map[int]int, map[int]int) {
		return drawWith(s, g, spec, seed0)
	}
	check := func(name string, counts map[int]int, p []float64, wantSame bool) {
		x, df := chiSquare(counts, p, n)
		crit := chiSquareCritical(df)
		t.Logf("%s: chi2 %.1f df %d critical(0.001) %.1f", name, x, df, crit)
		require.Greater(t, df, 2, name)
		if !wantSame && n < 4000 && strings.HasPrefix(name, "draft only") {
			// The draft is distilled from the target: 1000 draws are too few to tell it apart
			// reliably, 4000 (MVWATCH_LONG=1) are enough.
			return
		}
		if wantSame {
			require.Less(t, x, crit, name)
		} else {
			require.Greater(t, x, crit, name)
		}
	}
	// K = 1: the first token goes through accept/reject, the second is the bonus token (or a
	// target draw after a rejection).
	g1, err := NewGenerator(target, draft, GeneratorConfig{MaxNewTokens: 2, InitialK: 1, FixedK: true})
	require.NoError(t, err)
	f, sec := draw(g1, true, 1)
	check("speculative K=1 first token", f, p1, true)
	check("speculative K=1 second token", sec, p2, true)
	// K = 2: both tokens are draft positions.
	g2, err := NewGenerator(target, draft, GeneratorConfig{MaxNewTokens: 3, InitialK: 2, FixedK: true})
	require.NoError(t, err)
	_, sec = draw(g2, true, 100000)
	check("speculative K=2 second token", sec, p2, true)
	// Adaptive K with drafting cut at unsure draft tokens: the first two tokens pass through a
	// data-dependent draft length.
	gc, err := NewGenerator(target, draft, GeneratorConfig{MaxNewTokens: 3, InitialK: 3,
		MinDraftConfidence: 0.6})
	require.NoError(t, err)
	f, sec = draw(gc, true, 200000)
	check("speculative min-confidence first token", f, p1, true)
	check("speculative min-confidence second token", sec, p2, true)
	// A deliberately wrong sampler, the target's own at temperature 1.5 instead of 1, is told apart.
	gt, err := NewGenerator(target, nil, GeneratorConfig{MaxNewTokens: 2})
	require.NoError(t, err)
	f, sec = drawWith(Sampling{Temperature: 1.5}, gt, false, 400000)
	check("target at temperature 1.5 first token", f, p1, false)
	check("target at temperature 1.5 second token", sec, p2, false)
	// Sampling from the draft alone is told apart (asserted with 4000 draws).
	gd, err := NewGenerator(draft, nil, GeneratorConfig{MaxNewTokens: 2})
	require.NoError(t, err)
	f, sec = draw(gd, false, 300000)
	check("draft only first token", f, p1, false)
	check("draft only second token", sec, p2, false)
}

func TestSamplerWarps(t *testing.T) {
	logits := []float32{2, 1, 0, -1, 3}
	p := make([]float64, 5)
	newSampler(Sampling{}, 5).dist(logits, p)
	require.Equal(t, []float64{0, 0, 0, 0, 1}, p)
	newSampler(Sampling{Temperature: 1, TopK: 2}, 5).dist(logits, p)
	require.InDelta(t, 1/(1+math.Exp(-1)), p[4], 1e-12)
	require.InDelta(t, math.Exp(-1)/(1+math.Exp(-1)), p[0], 1e-12)
	require.Zero(t, p[1]+p[2]+p[3])
	newSampler(Sampling{Temperature: 1, TopP: 0.5}, 5).dist(logits, p)
	require.Equal(t, []float64{0, 0, 0, 0, 1}, p)
	newSampler(Sampling{Temperature: 0.5}, 5).dist(logits, p)
	sum := 0.0
	for _, v := range p {
		sum += v
	}
	require.InDelta(t, 1, sum, 1e-12)
	require.InDelta(t, math.Exp(2*(2-3)), p[0]/p[4], 1e-12)

	pt := []float64{0.5, 0.3, 0.2}
	require.True(t, residual(pt, []float64{0.2, 0.5, 0.3}))
	require.InDeltaSlice(t, []float64{1, 0, 0}, pt, 1e-12)
	require.False(t, residual([]float64{0.5, 0.5}, []float64{0.5, 0.5}))
}
