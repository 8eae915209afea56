package llmgen

import (
	"errors"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGreedySpeculativeEqualsTarget(t *testing.T) {
	target, draft := loadPair(t)
	// Whole captions (about 30 tokens) with MVWATCH_LONG=1, their first 24 tokens otherwise.
	maxNew := 24
	if os.Getenv("MVWATCH_LONG") != "" {
		maxNew = 64
	}
	// Hugging Face's schedule alone (K from 5, at most 8, +2/-1) ...
	g, err := NewGenerator(target, draft, GeneratorConfig{MaxNewTokens: maxNew, InitialK: 5, MaxK: 8,
		MinDraftConfidence: -1})
	require.NoError(t, err)
	// ... and the default one, with drafting cut at unsure draft tokens and a longer K.
	gc, err := NewGenerator(target, draft, GeneratorConfig{MaxNewTokens: maxNew})
	require.NoError(t, err)
	var total, totalC Stats
	for i, ev := range testEvents(200, 11) {
		prompt := target.Tokenizer.Encode(ev.Prompt())
		ar, err := g.Autoregressive(prompt, Sampling{})
		require.NoError(t, err)
		sp, err := g.Speculative(prompt, Sampling{})
		require.NoError(t, err)
		require.Equal(t, ar.Tokens, sp.Tokens, "prompt %d %q", i, ev.Prompt())
		require.Equal(t, ar.Finish, sp.Finish)
		total.Add(sp.Stats)
		sc, err := gc.Speculative(prompt, Sampling{})
		require.NoError(t, err)
		require.Equal(t, ar.Tokens, sc.Tokens, "min confidence: prompt %d %q", i, ev.Prompt())
		require.Equal(t, ar.Finish, sc.Finish)
		totalC.Add(sc.Stats)
		if i < 3 {
			text, err := target.Tokenizer.Decode(sp.Tokens)
			require.NoError(t, err)
			t.Logf("%s ->%s", ev.Prompt(), text)
		}
	}
	t.Logf("acceptance %.3f, mean accepted %.2f, mean K %.2f, target calls %d for %d tokens",
		total.AcceptanceRate(), total.MeanAccepted(), total.MeanK(), total.TargetCalls, total.Generated)
	require.Greater(t, total.AcceptanceRate(), 0.5)
	t.Logf("default (min confidence %.2f, max K 16): acceptance %.3f, mean accepted %.2f, mean K %.2f, target calls %d",
		DefaultMinDraftConfidence, totalC.AcceptanceRate(), totalC.MeanAccepted(), totalC.MeanK(), totalC.TargetCalls)
	// Longer drafts cut at unsure tokens need fewer target passes for the same tokens.
	require.Less(t, totalC.TargetCalls, total.TargetCalls)
}

func TestGeneratorBadInput(t *testing.T) {
	target, draft := loadPair(t)
	g, err := NewGenerator(target, draft, GeneratorConfig{})
	require.NoError(t, err)
	_, err = g.Speculative(nil, Sampling{})
	require.True(t, errors.Is(err, ErrEmptyPrompt))
	_, err = g.Autoregressive([]int{}, Sampling{})
	require.True(t, errors.Is(err, ErrEmptyPrompt))
	long := make([]int, target.Decoder.MaxLength())
	_, err = g.Speculative(long, Sampling{})
	require.True(t, errors.Is(err, ErrPromptTooLong), "%v", err)
	require.ErrorContains(t, err, "128 tokens")
	_, err = g.Autoregressive(long, Sampling{})
	require.True(t, errors.Is(err, ErrPromptTooLong))
	_, err = g.Speculative([]int{1, -3}, Sampling{})
	require.ErrorContains(t, err, "outside the vocabulary")
	_, err = g.Speculative([]int{1}, Sampling{Temperature: -1})
	require.ErrorContains(t, err, "bad sampling")
	_, err = g.Speculative([]int{1}, Sampling{Temperature: 1, TopP: 1.5})
	require.ErrorContains(t, err, "bad sampling")

	// A prompt that nearly fills the context stops at the context, not with an error: 3 free
	// positions give at most 4 tokens (the last one is predicted, never fed).
	near := make([]int, target.Decoder.MaxLength()-3)
	for i := range near {
		near[i] = 40 + i%50
	}
	res, err := g.Speculative(near, Sampling{})
	require.NoError(t, err)
	require.LessOrEqual(t, len(res.Tokens), 4)
	ar, err := g.Autoregressive(near, Sampling{})
	require.NoError(t, err)
	require.Equal(t, ar.Tokens, res.Tokens)

	noDraft, err := NewGenerator(target, nil, GeneratorConfig{})
	require.NoError(t, err)
	_, err = noDraft.Speculative([]int{1}, Sampling{})
	require.ErrorContains(t, err, "needs a draft")
}

func TestTopProb(t *testing.T) {
	logits := []float32{2, 1, 0, -40, 3}
	want := 1 / (1 + math.Exp(-1) + math.Exp(-2) + math.Exp(-3) + math.Exp(-43))
	require.InDelta(t, want, topProb(Sampling{}, logits, nil), 1e-9)
	require.Equal(t, 0.7, topProb(Sampling{Temperature: 1}, logits, []float64{0.1, 0.7, 0.2}))
}
