package llmgen

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mvwatch/mvwatch/inference"
	"github.com/stretchr/testify/require"
)

// copyModelDir copies a model directory's files into a temporary one, replacing the named files.
func copyModelDir(t *testing.T, src string, replace map[string][]byte) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644))
	}
	for name, data := range replace {
		p := filepath.Join(dst, name)
		if data == nil {
			require.NoError(t, os.Remove(p))
			continue
		}
		require.NoError(t, os.WriteFile(p, data, 0o644))
	}
	return dst
}

func TestLoadModelBadDirectories(t *testing.T) {
	target, draft := loadPair(t)
	tok, err := os.ReadFile(filepath.Join(draftDir, "tokenizer.json"))
	require.NoError(t, err)
	tiny, err := os.ReadFile("../inference/testdata/tiny.onnx")
	require.NoError(t, err)

	// A draft whose tokenizer swaps two tokens: same sizes, different vocabulary.
	swapped := strings.Replace(string(tok), `"camera":`, `"camera_TMP":`, 1)
	swapped = strings.Replace(swapped, `"caption":`, `"camera":`, 1)
	swapped = strings.Replace(swapped, `"camera_TMP":`, `"caption":`, 1)
	require.NotEqual(t, string(tok), swapped)
	dir := copyModelDir(t, draftDir, map[string][]byte{"tokenizer.json": []byte(swapped)})
	other, err := LoadModel(dir, DecoderConfig{})
	require.NoError(t, err)
	defer other.Close()
	_, err = NewGenerator(target, other, GeneratorConfig{})
	require.True(t, errors.Is(err, ErrVocabMismatch), "%v", err)

	// A draft from another tokenizer family: more ids than the model has logits.
	gpt2tok, err := os.ReadFile("testdata/gpt2style/tokenizer.json")
	require.NoError(t, err)
	dir = copyModelDir(t, draftDir, map[string][]byte{"tokenizer.json": gpt2tok})
	_, err = LoadModel(dir, DecoderConfig{})
	require.ErrorContains(t, err, fmt.Sprintf("logits have %d", draft.Decoder.Vocab()))

	// Missing tensors, missing files.
	dir = copyModelDir(t, draftDir, map[string][]byte{"model.onnx": tiny})
	_, err = LoadModel(dir, DecoderConfig{})
	require.True(t, errors.Is(err, inference.ErrMissingTensor), "%v", err)
	dir = copyModelDir(t, draftDir, map[string][]byte{"model.onnx": nil})
	_, err = LoadModel(dir, DecoderConfig{})
	require.ErrorContains(t, err, "none of [model.onnx")
	dir = copyModelDir(t, draftDir, map[string][]byte{"tokenizer.json": nil})
	_, err = LoadModel(dir, DecoderConfig{})
	require.ErrorContains(t, err, "tokenizer.json")
	dir = copyModelDir(t, draftDir, map[string][]byte{"manifest.json": []byte("{")})
	_, err = LoadModel(dir, DecoderConfig{})
	require.ErrorContains(t, err, "parse manifest.json")

	// The shipped pair loads with the manifest's context and end-of-text id.
	require.Equal(t, 0, draft.EOS)
	require.Equal(t, "caption-target", target.Manifest.Name)
	_, err = NewGenerator(target, draft, GeneratorConfig{})
	require.NoError(t, err)
}

// TestOptimumVariantDecodesLikeDraft loads the draft re-shaped like other Optimum exports
// (decoder_model_merged.onnx, use_cache_branch input, no position_ids, config.json) and checks it
// decodes exactly like the original, alone and as the draft of speculative decoding.
func TestOptimumVariantDecodesLikeDraft(t *testing.T) {
	target, draft := loadPair(t)
	variant, err := LoadModel("testdata/optimum_variant", DecoderConfig{})
	require.NoError(t, err)
	defer variant.Close()
	require.False(t, variant.Decoder.hasPos)
	require.True(t, variant.Decoder.hasUse)
	require.Equal(t, 128, variant.Decoder.MaxLength())
	require.Equal(t, 0, variant.EOS)

	a, err := NewGenerator(draft, nil, GeneratorConfig{MaxNewTokens: 32})
	require.NoError(t, err)
	b, err := NewGenerator(variant, nil, GeneratorConfig{MaxNewTokens: 32})
	require.NoError(t, err)
	spec, err := NewGenerator(target, variant, GeneratorConfig{MaxNewTokens: 32})
	require.NoError(t, err)
	for _, ev := range testEvents(5, 77) {
		prompt := draft.Tokenizer.Encode(ev.Prompt())
		ra, err := a.Autoregressive(prompt, Sampling{})
		require.NoError(t, err)
		rb, err := b.Autoregressive(prompt, Sampling{})
		require.NoError(t, err)
		require.Equal(t, ra.Tokens, rb.Tokens)
		rt, err := spec.Autoregressive(prompt, Sampling{})
		require.NoError(t, err)
		rs, err := spec.Speculative(prompt, Sampling{})
		require.NoError(t, err)
		require.Equal(t, rt.Tokens, rs.Tokens)
	}
}
