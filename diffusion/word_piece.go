package diffusion

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// ErrPromptTooLong reports a text whose tokens do not fit the model's sequence length when truncation is off.
var ErrPromptTooLong = errors.New("prompt too long")

// ErrBadTokenizer reports a tokenizer file this package cannot use.
var ErrBadTokenizer = errors.New("bad tokenizer")

// WordPiece is the BERT uncased tokenizer (as in Hugging Face tokenizers' BertNormalizer + BertPreTokenizer +
// WordPiece model + [CLS]/[SEP] template): clean control characters, space out CJK ideographs, strip accents
// (NFD, drop nonspacing marks), lowercase, split on whitespace and punctuation, then greedy longest-match
// subwords with the "##" continuation prefix. The special tokens written literally in a text ("[SEP]") are
// matched before normalisation, as tokenizers does. It is safe for concurrent use.
type WordPiece struct {
	vocab           map[string]int32
	special         []string // special token texts, matched verbatim in the input
	unkID, clsID    int32
	sepID, padID    int32
	lowercase       bool
	stripAccents    bool
	maxCharsPerWord int

	// MaxLength is the encoded length including [CLS] and [SEP]. It defaults to the tokenizer.json truncation
	// length, or 128.
	MaxLength int
	// Truncate cuts texts that are too long (what Python does); when false Encode fails with ErrPromptTooLong.
	// It defaults to true.
	Truncate bool
}

// Encoding is one encoded text, padded to MaxLength.
type Encoding struct {
	IDs           []int64
	AttentionMask []int64
	TypeIDs       []int64
	Tokens        []string // the tokens without padding, [CLS] and [SEP] included
}

// LoadWordPiece reads a tokenizer from a tokenizer.json (Hugging Face tokenizers format), a vocab.txt, or a
// directory holding either (tokenizer.json preferred). A vocab.txt uses the uncased BERT defaults, or the
// do_lower_case/strip_accents of a tokenizer_config.json next to it.
func LoadWordPiece(path string) (*WordPiece, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("diffusion: tokenizer: %w", err)
	}
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "tokenizer.json")); err == nil {
			path = filepath.Join(path, "tokenizer.json")
		} else {
			path = filepath.Join(path, "vocab.txt")
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("diffusion: tokenizer: %w", err)
	}
	if strings.HasSuffix(path, ".json") {
		return parseTokenizerJSON(data)
	}
	w, err := parseVocabTxt(data)
	if err != nil {
		return nil, err
	}
	if cfg, err := os.ReadFile(filepath.Join(filepath.Dir(path), "tokenizer_config.json")); err == nil {
		var c struct {
			DoLowerCase  *bool `json:"do_lower_case"`
			StripAccents *bool `json:"strip_accents"`
			MaxLen       int   `json:"model_max_length"`
		}
		if err := json.Unmarshal(cfg, &c); err != nil {
			return nil, fmt.Errorf("diffusion: tokenizer_config.json: %w: %w", err, ErrBadTokenizer)
		}
		if c.DoLowerCase != nil {
			w.lowercase = *c.DoLowerCase
		}
		w.stripAccents = w.lowercase
		if c.StripAccents != nil {
			w.stripAccents = *c.StripAccents
		}
	}
	return w, nil
}

// parseVocabTxt reads one token per line; the line number is the id.
func parseVocabTxt(data []byte) (*WordPiece, error) {
	vocab := map[string]int32{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1024), 1<<20)
	var id int32
	for sc.Scan() {
		tok := strings.TrimRight(sc.Text(), "\r")
		if _, dup := vocab[tok]; !dup {
			vocab[tok] = id
		}
		id++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("diffusion: vocab.txt: %w: %w", err, ErrBadTokenizer)
	}
	return newWordPiece(vocab, true, true, 100, 128)
}

// parseTokenizerJSON reads the parts of a tokenizer.json a BERT WordPiece tokenizer uses.
func parseTokenizerJSON(data []byte) (*WordPiece, error) {
	var t struct {
		Truncation *struct {
			MaxLength int `json:"max_length"`
		} `json:"truncation"`
		Normalizer *struct {
			Type         string `json:"type"`
			Lowercase    bool   `json:"lowercase"`
			StripAccents *bool  `json:"strip_accents"`
		} `json:"normalizer"`
		Model struct {
			Type                    string           `json:"type"`
			Vocab                   map[string]int32 `json:"vocab"`
			ContinuingSubwordPrefix string           `json:"continuing_subword_prefix"`
			MaxInputCharsPerWord    int              `json:"max_input_chars_per_word"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("diffusion: tokenizer.json: %w: %w", err, ErrBadTokenizer)
	}
	if t.Model.Type != "WordPiece" {
		return nil, fmt.Errorf("diffusion: tokenizer.json model %q is not WordPiece: %w", t.Model.Type, ErrBadTokenizer)
	}
	if p := t.Model.ContinuingSubwordPrefix; p != "" && p != "##" {
		return nil, fmt.Errorf("diffusion: tokenizer.json subword prefix %q: %w", p, ErrBadTokenizer)
	}
	lower, strip := true, true
	if t.Normalizer != nil {
		if t.Normalizer.Type != "BertNormalizer" {
			return nil, fmt.Errorf("diffusion: tokenizer.json normalizer %q: %w", t.Normalizer.Type, ErrBadTokenizer)
		}
		lower, strip = t.Normalizer.Lowercase, t.Normalizer.Lowercase
		if t.Normalizer.StripAccents != nil {
			strip = *t.Normalizer.StripAccents
		}
	}
	maxChars := t.Model.MaxInputCharsPerWord
	if maxChars <= 0 {
		maxChars = 100
	}
	maxLen := 128
	if t.Truncation != nil && t.Truncation.MaxLength > 0 {
		maxLen = t.Truncation.MaxLength
	}
	return newWordPiece(t.Model.Vocab, lower, strip, maxChars, maxLen)
}

func newWordPiece(vocab map[string]int32, lower, strip bool, maxChars, maxLen int) (*WordPiece, error) {
	w := &WordPiece{vocab: vocab, lowercase: lower, stripAccents: strip, maxCharsPerWord: maxChars,
		MaxLength: maxLen, Truncate: true}
	for _, s := range []struct {
		tok string
		id  *int32
	}{{"[UNK]", &w.unkID}, {"[CLS]", &w.clsID}, {"[SEP]", &w.sepID}, {"[PAD]", &w.padID}} {
		id, ok := vocab[s.tok]
		if !ok {
			return nil, fmt.Errorf("diffusion: vocabulary lacks %s: %w", s.tok, ErrBadTokenizer)
		}
		*s.id = id
	}
	for _, tok := range []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"} {
		if _, ok := vocab[tok]; ok {
			w.special = append(w.special, tok)
		}
	}
	return w, nil
}

// VocabSize returns the number of distinct tokens.
func (w *WordPiece) VocabSize() int { return len(w.vocab) }

// Tokenize returns the WordPiece tokens of text, without [CLS]/[SEP] and without truncation.
func (w *WordPiece) Tokenize(text string) []string {
	var out []string
	for len(text) > 0 {
		at, tok := w.nextSpecial(text)
		for _, word := range w.preTokenize(w.normalize(text[:at])) {
			out = w.wordPiece(word, out)
		}
		if tok == "" {
			break
		}
		out = append(out, tok)
		text = text[at+len(tok):]
	}
	return out
}

// nextSpecial finds the leftmost (then longest) special token in text; at is len(text) when there is none.
func (w *WordPiece) nextSpecial(text string) (at int, tok string) {
	at = len(text)
	for _, s := range w.special {
		if i := strings.Index(text, s); i >= 0 && (i < at || (i == at && len(s) > len(tok))) {
			at, tok = i, s
		}
	}
	return at, tok
}

// Encode tokenizes text and frames it as [CLS] tokens [SEP], truncated (or refused, see Truncate) and padded
// to MaxLength.
func (w *WordPiece) Encode(text string) (Encoding, error) {
	if w.MaxLength < 2 {
		return Encoding{}, fmt.Errorf("diffusion: tokenizer MaxLength %d < 2: %w", w.MaxLength, ErrBadTokenizer)
	}
	toks := w.Tokenize(text)
	if len(toks) > w.MaxLength-2 {
		if !w.Truncate {
			return Encoding{}, fmt.Errorf("diffusion: %d tokens, the model takes at most %d: %w",
				len(toks), w.MaxLength-2, ErrPromptTooLong)
		}
		toks = toks[:w.MaxLength-2]
	}
	e := Encoding{
		IDs:           make([]int64, w.MaxLength),
		AttentionMask: make([]int64, w.MaxLength),
		TypeIDs:       make([]int64, w.MaxLength),
		Tokens:        make([]string, 0, len(toks)+2),
	}
	e.Tokens = append(append(append(e.Tokens, "[CLS]"), toks...), "[SEP]")
	for i := range e.IDs {
		e.IDs[i] = int64(w.padID)
	}
	for i, t := range e.Tokens {
		id, ok := w.vocab[t]
		if !ok {
			id = w.unkID
		}
		e.IDs[i], e.AttentionMask[i] = int64(id), 1
	}
	e.IDs[0], e.IDs[len(e.Tokens)-1] = int64(w.clsID), int64(w.sepID)
	return e, nil
}

// normalize applies BertNormalizer: clean text, CJK spacing, accent stripping, lowercasing.
func (w *WordPiece) normalize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == 0 || r == utf8.RuneError || isBertControl(r):
		case isBertSpace(r):
			b.WriteByte(' ')
		case isCJK(r):
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	s = b.String()
	if w.stripAccents {
		b.Reset()
		for _, r := range norm.NFD.String(s) {
			if !unicode.Is(unicode.Mn, r) {
				b.WriteRune(r)
			}
		}
		s = b.String()
	}
	if w.lowercase {
		b.Reset()
		for _, r := range s {
			lowerRune(&b, r)
		}
		s = b.String()
	}
	return s
}

// lowerRune writes the full lowercase mapping of r (Rust's char::to_lowercase: İ becomes "i̇").
func lowerRune(b *strings.Builder, r rune) {
	if r == 'İ' {
		b.WriteString("i\u0307")
		return
	}
	b.WriteRune(unicode.ToLower(r))
}

// preTokenize splits on whitespace (dropped) and punctuation (kept as one-rune words).
func (w *WordPiece) preTokenize(s string) []string {
	var words []string
	start := -1
	for i, r := range s {
		switch {
		case isBertSpace(r):
			if start >= 0 {
				words = append(words, s[start:i])
				start = -1
			}
		case isBertPunct(r):
			if start >= 0 {
				words = append(words, s[start:i])
				start = -1
			}
			words = append(words, s[i:i+utf8.RuneLen(r)])
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		words = append(words, s[start:])
	}
	return words
}

// wordPiece appends the greedy longest-match subwords of word to out, or [UNK] when it cannot be covered.
func (w *WordPiece) wordPiece(word string, out []string) []string {
	if utf8.RuneCountInString(word) > w.maxCharsPerWord {
		return append(out, "[UNK]")
	}
	n := len(out)
	for start := 0; start < len(word); {
		end := len(word)
		found := ""
		for start < end {
			sub := word[start:end]
			if start > 0 {
				sub = "##" + sub
			}
			if _, ok := w.vocab[sub]; ok {
				found = sub
				break
			}
			_, size := utf8.DecodeLastRuneInString(word[start:end])
			end -= size
		}
		if found == "" {
			return append(out[:n], "[UNK]")
		}
		out = append(out, found)
		start = end
	}
	return out
}

// isBertSpace is Rust's char::is_whitespace (White_Space), which tokenizers uses.
func isBertSpace(r rune) bool {
	return unicode.IsSpace(r)
}

// isBertControl is tokenizers' is_control: categories Cc, Cf and Co, except tab, newline and carriage return.
func isBertControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co)
}

// isBertPunct is ASCII punctuation (symbols such as $ + < = > ^ ` | ~ included) or a Unicode P* category.
func isBertPunct(r rune) bool {
	if r < 128 {
		return (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126)
	}
	return unicode.IsPunct(r)
}

// isCJK reports CJK ideographs, which BERT splits into single-character words.
func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) || (r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) || (r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}
