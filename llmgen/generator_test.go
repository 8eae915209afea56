package llmgen

import (
	"errors"
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
	g, err := NewGenerator(target, draft, GeneratorConfig{MaxNewTokens: maxNew})
	require.NoError(t, err)
	var total Stats
	for i, ev := range testEvents(200, 11) {
		prompt := target.Tokenizer.Encode(ev.Prompt())
		ar, err := g.Autoregressive(prompt, Sampling{})
		require.NoError(t, err)
		sp, err := g.Speculative(prompt, Sampling{})
		require.NoError(t, err)
		require.Equal(t, ar.Tokens, sp.Tokens, "prompt %d %q", i, ev.Prompt())
		require.Equal(t, ar.Finish, sp.Finish)
		total.Add(sp.Stats)
		if i < 3 {
			text, err := target.Tokenizer.Decode(sp.Tokens)
			require.NoError(t, err)
			t.Logf("%s ->%s", ev.Prompt(), text)
		}
	}
	t.Logf("acceptance %.3f, mean accepted %.2f, mean K %.2f, target calls %d for %d tokens",
		total.AcceptanceRate(), total.MeanAccepted(), total.MeanK(), total.TargetCalls, total.Generated)
	require.Greater(t, total.AcceptanceRate(), 0.5)
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

	// A prompt that nearly fills the context stops at the context, not with an error.
	near := make([]int, target.Decoder.MaxLength()-3)
	for i := range near {
		near[i] = 40 + i%50
	}
	res, err := g.Speculative(near, Sampling{})
	require.NoError(t, err)
	require.LessOrEqual(t, len(res.Tokens), 3)
	ar, err := g.Autoregressive(near, Sampling{})
	require.NoError(t, err)
	require.Equal(t, ar.Tokens, res.Tokens)

	noDraft, err := NewGenerator(target, nil, GeneratorConfig{})
	require.NoError(t, err)
	_, err = noDraft.Speculative([]int{1}, Sampling{})
	require.ErrorContains(t, err, "needs a draft")
}
