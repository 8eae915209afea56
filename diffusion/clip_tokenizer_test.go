package diffusion

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/bpe"
)

// tinySDReference is diffusion/testdata/tiny_sd_reference.json, written by
// training/fixtures/tiny_sd.py.
type tinySDReference struct {
	Latents     []float32 `json:"latents"`
	LatentShape []int64   `json:"latent_shape"`
	Runs        []struct {
		Scheduler      string    `json:"scheduler"`
		Steps          int       `json:"steps"`
		Prompt         string    `json:"prompt"`
		NegativePrompt string    `json:"negative_prompt"`
		GuidanceScale  float64   `json:"guidance_scale"`
		InputIDs       []int64   `json:"input_ids"`
		ImageHWC       []float64 `json:"image_hwc"`
		Height         int       `json:"height"`
		Width          int       `json:"width"`
	} `json:"runs"`
	Tokenizer []struct {
		Text string  `json:"text"`
		IDs  []int64 `json:"ids"`
	} `json:"tokenizer"`
}

func loadTinySDReference(t testing.TB) tinySDReference {
	t.Helper()
	b, err := os.ReadFile("testdata/tiny_sd_reference.json")
	require.NoError(t, err)
	var r tinySDReference
	require.NoError(t, json.Unmarshal(b, &r))
	return r
}

func TestCLIPTokenizerMatchesTransformers(t *testing.T) {
	tok, err := LoadCLIPTokenizer("testdata/tiny-sd/tokenizer")
	require.NoError(t, err)
	ref := loadTinySDReference(t)
	require.NotEmpty(t, ref.Tokenizer)
	for _, c := range ref.Tokenizer {
		ids, _ := tok.Encode(c.Text)
		require.Equal(t, c.IDs, ids, "text %q", c.Text)
	}
	for _, r := range ref.Runs {
		ids, truncated := tok.Encode(r.Prompt)
		require.False(t, truncated)
		require.Equal(t, r.InputIDs, ids, "prompt %q", r.Prompt)
	}
	_, truncated := tok.Encode(ref.Tokenizer[len(ref.Tokenizer)-1].Text) // 90 words
	require.True(t, truncated)
}

func TestLoadCLIPTokenizerErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadCLIPTokenizer(dir)
	require.Error(t, err)
	require.NoError(t, os.WriteFile(dir+"/vocab.json", []byte(`{"a": 0}`), 0o644))
	require.NoError(t, os.WriteFile(dir+"/merges.txt", []byte("#version: 0.2\na b\n"), 0o644))
	_, err = LoadCLIPTokenizer(dir)
	require.ErrorIs(t, err, ErrBadTokenizer) // no <|startoftext|>
	require.NoError(t, os.WriteFile(dir+"/merges.txt", []byte("a b c\n"), 0o644))
	_, err = LoadCLIPTokenizer(dir)
	require.ErrorIs(t, err, ErrBadTokenizer)
}

func FuzzCLIPTokenizer(f *testing.F) {
	tok, err := LoadCLIPTokenizer("testdata/tiny-sd/tokenizer")
	require.NoError(f, err)
	for _, c := range loadTinySDReference(f).Tokenizer {
		f.Add(c.Text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		ids, _ := tok.Encode(text)
		if len(ids) != tok.MaxLength || ids[0] != int64(tok.bos) {
			t.Fatalf("bad framing: %v", ids)
		}
	})
}

// realCLIPTokenizerDir writes the openai CLIP vocabulary (rebuilt from testdata/clip_merges.txt.gz the way CLIP
// builds it) as a tokenizer/ folder.
func realCLIPTokenizerDir(t testing.TB) string {
	t.Helper()
	f, err := os.Open("testdata/clip_merges.txt.gz")
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	raw, err := io.ReadAll(zr)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")[1:]
	require.Len(t, lines, 48894)
	order := bpe.Order() // bytes_to_unicode's insertion order: printable bytes first, then the rest
	vocab := map[string]int{}
	add := func(s string) { vocab[s] = len(vocab) }
	for _, r := range order {
		add(string(r))
	}
	for _, r := range order {
		add(string(r) + "</w>")
	}
	for _, l := range lines {
		add(strings.ReplaceAll(l, " ", ""))
	}
	add("<|startoftext|>")
	add("<|endoftext|>")
	require.Len(t, vocab, 49408)
	dir := t.TempDir()
	vb, err := json.Marshal(vocab)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "vocab.json"), vb, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "merges.txt"), raw, 0o644))
	return dir
}

func TestCLIPTokenizerRealVocabMatchesTransformers(t *testing.T) {
	tok, err := LoadCLIPTokenizer(realCLIPTokenizerDir(t))
	require.NoError(t, err)
	require.Equal(t, int32(49406), tok.bos)
	require.Equal(t, int32(49407), tok.eos)
	b, err := os.ReadFile("testdata/clip_tokenizer.json")
	require.NoError(t, err)
	var f struct {
		Cases []struct {
			Text string  `json:"text"`
			IDs  []int64 `json:"ids"`
		} `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(b, &f))
	require.GreaterOrEqual(t, len(f.Cases), 300)
	for _, c := range f.Cases {
		ids, _ := tok.Encode(c.Text)
		require.Equal(t, c.IDs, ids, "text %q", c.Text)
	}
}
