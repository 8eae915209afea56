package diffusion

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// wordPieceFixture is diffusion/testdata/wordpiece.json, written by
// training/fixtures/wordpiece.py with Hugging Face tokenizers.
type wordPieceFixture struct {
	MaxLength int `json:"max_length"`
	Cases     []struct {
		Text          string   `json:"text"`
		Tokens        []string `json:"tokens"`
		IDs           []int64  `json:"ids"`
		AttentionMask []int64  `json:"attention_mask"`
	} `json:"cases"`
}

func loadWordPieceFixture(t testing.TB) wordPieceFixture {
	t.Helper()
	b, err := os.ReadFile("testdata/wordpiece.json")
	require.NoError(t, err)
	var f wordPieceFixture
	require.NoError(t, json.Unmarshal(b, &f))
	return f
}

func TestWordPieceMatchesTokenizers(t *testing.T) {
	f := loadWordPieceFixture(t)
	require.GreaterOrEqual(t, len(f.Cases), 300)
	for _, src := range []string{"testdata/minilm/tokenizer.json", "testdata/minilm/vocab.txt", "testdata/minilm"} {
		t.Run(src, func(t *testing.T) {
			w, err := LoadWordPiece(src)
			require.NoError(t, err)
			require.Equal(t, 30522, w.VocabSize())
			w.MaxLength = f.MaxLength
			for _, c := range f.Cases {
				e, err := w.Encode(c.Text)
				require.NoError(t, err)
				require.Equal(t, c.Tokens, e.Tokens, "text %q", c.Text)
				require.Equal(t, c.IDs, e.IDs, "text %q", c.Text)
				require.Equal(t, c.AttentionMask, e.AttentionMask, "text %q", c.Text)
			}
		})
	}
}

func TestWordPieceTooLong(t *testing.T) {
	w, err := LoadWordPiece("testdata/minilm/vocab.txt")
	require.NoError(t, err)
	w.MaxLength, w.Truncate = 8, false
	_, err = w.Encode("one two three four five six seven")
	require.ErrorIs(t, err, ErrPromptTooLong)
	e, err := w.Encode("one two three four five six")
	require.NoError(t, err)
	require.Equal(t, []int64{1, 1, 1, 1, 1, 1, 1, 1}, e.AttentionMask)
	w.MaxLength = 1
	_, err = w.Encode("x")
	require.ErrorIs(t, err, ErrBadTokenizer)
}

func TestLoadWordPieceErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadWordPiece(dir + "/missing.txt")
	require.Error(t, err)
	bad := func(name, content string) error {
		p := dir + "/" + name
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		_, err := LoadWordPiece(p)
		return err
	}
	require.ErrorIs(t, bad("a.json", `{"model": {"type": "BPE"}}`), ErrBadTokenizer)
	require.ErrorIs(t, bad("b.json", `{"model": `), ErrBadTokenizer)
	require.ErrorIs(t, bad("vocab.txt", "hello\nworld\n"), ErrBadTokenizer) // no [UNK]/[CLS]/...
}

func FuzzWordPiece(f *testing.F) {
	w, err := LoadWordPiece("testdata/minilm/vocab.txt")
	require.NoError(f, err)
	for _, c := range loadWordPieceFixture(f).Cases[:80] {
		f.Add(c.Text)
	}
	f.Add("\xff\xfe invalid utf8 [SEP")
	f.Fuzz(func(t *testing.T, text string) {
		e, err := w.Encode(text)
		if err != nil {
			t.Fatal(err)
		}
		if len(e.IDs) != w.MaxLength || e.IDs[0] != int64(w.clsID) {
			t.Fatalf("bad framing %v", e.IDs[:2])
		}
		for _, tok := range e.Tokens {
			if !utf8.ValidString(tok) || tok == "" || strings.ContainsAny(tok, " \t\n") {
				t.Fatalf("bad token %q", tok)
			}
		}
	})
}

func FuzzParseTokenizerFiles(f *testing.F) {
	f.Add([]byte(`{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "[PAD]": 3, "a": 4}}}`))
	f.Add([]byte(`{"normalizer": {"type": "BertNormalizer", "lowercase": false}, "truncation": {"max_length": 9},
		"model": {"type": "WordPiece", "continuing_subword_prefix": "##", "vocab": {"[UNK]": 0}}}`))
	f.Add([]byte("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n##s\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, parse := range []func([]byte) (*WordPiece, error){parseTokenizerJSON, parseVocabTxt} {
			w, err := parse(data)
			if err != nil {
				if !errors.Is(err, ErrBadTokenizer) {
					t.Fatalf("unexpected error class: %v", err)
				}
				continue
			}
			if _, err := w.Encode("hello worlds [SEP] x"); err != nil && !errors.Is(err, ErrBadTokenizer) {
				t.Fatal(err)
			}
		}
	})
}
