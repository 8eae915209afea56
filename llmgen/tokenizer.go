package llmgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mvwatch/mvwatch/internal/bpe"
)

// ErrUnsupportedTokenizer is wrapped by errors about tokenizer.json features this tokenizer lacks.
var ErrUnsupportedTokenizer = errors.New("llmgen: unsupported tokenizer")

// Tokenizer is a byte-level BPE tokenizer (GPT-2 style) read from a Hugging Face tokenizer.json. It
// gives the same ids as the Python `tokenizers` library for such files. It is safe for concurrent use.
type Tokenizer struct {
	vocab       map[string]int
	idToToken   []string
	ranks       map[pair]merge
	added       []addedToken // longest first, for leftmost-longest matching
	addedByID   map[int]addedToken
	prefixSpace bool
	useRegex    bool
	ignoreMerge bool
}

type pair struct{ a, b string }

type merge struct {
	rank int
	id   int
	tok  string
}

type addedToken struct {
	id      int
	content string
	special bool
	lstrip  bool
	rstrip  bool
}

// tokenizerFile is the subset of tokenizer.json this package reads.
type tokenizerFile struct {
	AddedTokens []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
		LStrip  bool   `json:"lstrip"`
		RStrip  bool   `json:"rstrip"`
	} `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	Model         json.RawMessage `json:"model"`
	Decoder       json.RawMessage `json:"decoder"`
	PostProcessor json.RawMessage `json:"post_processor"`
}

type byteLevelConfig struct {
	Type           string `json:"type"`
	AddPrefixSpace bool   `json:"add_prefix_space"`
	UseRegex       *bool  `json:"use_regex"`
}

type bpeModel struct {
	Type                    string          `json:"type"`
	Vocab                   map[string]int  `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
	Dropout                 *float64        `json:"dropout"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	ByteFallback            bool            `json:"byte_fallback"`
	IgnoreMerges            bool            `json:"ignore_merges"`
}

// LoadTokenizer reads a tokenizer.json file.
func LoadTokenizer(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("llmgen: read tokenizer: %w", err)
	}
	t, err := ParseTokenizer(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ParseTokenizer parses the contents of a tokenizer.json: a BPE model with a ByteLevel
// pre-tokenizer (GPT-2 style), no normalizer, and optional added tokens.
func ParseTokenizer(data []byte) (*Tokenizer, error) {
	var f tokenizerFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("llmgen: parse tokenizer.json: %w", err)
	}
	if isSet(f.Normalizer) {
		return nil, fmt.Errorf("%w: normalizer %s (only byte-level BPE without a normalizer)",
			ErrUnsupportedTokenizer, short(f.Normalizer))
	}
	var pre byteLevelConfig
	if !isSet(f.PreTokenizer) {
		return nil, fmt.Errorf("%w: no pre_tokenizer (want ByteLevel)", ErrUnsupportedTokenizer)
	}
	if err := json.Unmarshal(f.PreTokenizer, &pre); err != nil || pre.Type != "ByteLevel" {
		return nil, fmt.Errorf("%w: pre_tokenizer %s (want ByteLevel)", ErrUnsupportedTokenizer, short(f.PreTokenizer))
	}
	var m bpeModel
	if err := json.Unmarshal(f.Model, &m); err != nil {
		return nil, fmt.Errorf("llmgen: parse tokenizer model: %w", err)
	}
	if m.Type != "BPE" && m.Type != "" {
		return nil, fmt.Errorf("%w: model type %q (want BPE)", ErrUnsupportedTokenizer, m.Type)
	}
	if m.Dropout != nil && *m.Dropout > 0 {
		return nil, fmt.Errorf("%w: BPE dropout", ErrUnsupportedTokenizer)
	}
	if (m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "") ||
		(m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "") || m.ByteFallback {
		return nil, fmt.Errorf("%w: BPE subword prefix/suffix or byte fallback", ErrUnsupportedTokenizer)
	}
	if len(m.Vocab) == 0 {
		return nil, fmt.Errorf("llmgen: tokenizer has an empty vocabulary")
	}
	t := &Tokenizer{
		vocab:       m.Vocab,
		ranks:       make(map[pair]merge),
		addedByID:   make(map[int]addedToken),
		prefixSpace: pre.AddPrefixSpace,
		useRegex:    pre.UseRegex == nil || *pre.UseRegex,
		ignoreMerge: m.IgnoreMerges,
	}
	merges, err := parseMerges(m.Merges)
	if err != nil {
		return nil, err
	}
	for rank, p := range merges {
		id, ok := m.Vocab[p.a+p.b]
		if !ok {
			return nil, fmt.Errorf("llmgen: merge %d (%q %q) makes %q, which is not in the vocabulary", rank, p.a, p.b, p.a+p.b)
		}
		if _, dup := t.ranks[p]; !dup {
			t.ranks[p] = merge{rank: rank, id: id, tok: p.a + p.b}
		}
	}
	maxID := -1
	for tok, id := range m.Vocab {
		if id < 0 {
			return nil, fmt.Errorf("llmgen: token %q has negative id %d", tok, id)
		}
		maxID = max(maxID, id)
	}
	for _, a := range f.AddedTokens {
		if a.Content == "" || a.ID < 0 {
			return nil, fmt.Errorf("llmgen: bad added token %q id %d", a.Content, a.ID)
		}
		at := addedToken{id: a.ID, content: a.Content, special: a.Special, lstrip: a.LStrip, rstrip: a.RStrip}
		t.added = append(t.added, at)
		t.addedByID[a.ID] = at
		maxID = max(maxID, a.ID)
	}
	// Ids are dense in real tokenizers; a far larger id is a broken file, not a reason to allocate.
	if limit := 2*(len(m.Vocab)+len(f.AddedTokens)) + 1024; maxID >= limit {
		return nil, fmt.Errorf("llmgen: token id %d is far beyond the %d tokens defined", maxID, len(m.Vocab)+len(f.AddedTokens))
	}
	sort.SliceStable(t.added, func(i, j int) bool { return len(t.added[i].content) > len(t.added[j].content) })
	t.idToToken = make([]string, maxID+1)
	for tok, id := range m.Vocab {
		t.idToToken[id] = tok
	}
	for _, a := range t.added {
		t.idToToken[a.id] = a.content
	}
	return t, nil
}

func isSet(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "null"
}

func short(raw json.RawMessage) string {
	s := string(raw)
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}

// parseMerges accepts both serialisations: ["a b", ...] (older files) and [["a","b"], ...].
func parseMerges(raw json.RawMessage) ([]pair, error) {
	if !isSet(raw) {
		return nil, nil
	}
	var asStrings []string
	if err := json.Unmarshal(raw, &asStrings); err == nil {
		out := make([]pair, len(asStrings))
		for i, s := range asStrings {
			a, b, ok := strings.Cut(s, " ")
			if !ok || a == "" || b == "" {
				return nil, fmt.Errorf("llmgen: merge %d %q is not two space-separated tokens", i, s)
			}
			out[i] = pair{a, b}
		}
		return out, nil
	}
	var asPairs [][]string
	if err := json.Unmarshal(raw, &asPairs); err != nil {
		return nil, fmt.Errorf("llmgen: parse merges: %w", err)
	}
	out := make([]pair, len(asPairs))
	for i, p := range asPairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("llmgen: merge %d has %d parts, want 2", i, len(p))
		}
		out[i] = pair{p[0], p[1]}
	}
	return out, nil
}

// VocabSize returns the number of ids (model vocabulary plus added tokens, i.e. the largest id + 1).
func (t *Tokenizer) VocabSize() int { return len(t.idToToken) }

// TokenID returns the id of a token string (a vocabulary entry or an added token).
func (t *Tokenizer) TokenID(tok string) (int, bool) {
	for _, a := range t.added {
		if a.content == tok {
			return a.id, true
		}
	}
	id, ok := t.vocab[tok]
	return id, ok
}

// Encode returns the token ids of text: added tokens are split out first (leftmost-longest), the
// rest is pre-tokenised with the GPT-2 pattern, mapped byte-to-unicode and merged by BPE rank.
func (t *Tokenizer) Encode(text string) []int {
	var ids []int
	var ends []int
	segStart := 0
	emit := func(seg string) {
		if seg == "" {
			return
		}
		if t.prefixSpace && seg[0] != ' ' {
			seg = " " + seg
		}
		if !t.useRegex {
			ids = t.bpeWord(seg, ids)
			return
		}
		ends = splitGPT2(seg, ends)
		start := 0
		for _, e := range ends {
			ids = t.bpeWord(seg[start:e], ids)
			start = e
		}
	}
	for i := 0; i < len(text); {
		a, ok := t.addedAt(text, i)
		if !ok {
			i++
			continue
		}
		seg := text[segStart:i]
		if a.lstrip {
			seg = strings.TrimRightFunc(seg, unicode.IsSpace)
		}
		emit(seg)
		ids = append(ids, a.id)
		i += len(a.content)
		if a.rstrip {
			for i < len(text) {
				r, n := utf8.DecodeRuneInString(text[i:])
				if !unicode.IsSpace(r) {
					break
				}
				i += n
			}
		}
		segStart = i
	}
	emit(text[segStart:])
	return ids
}

// addedAt returns the longest added token that starts at byte i of text.
func (t *Tokenizer) addedAt(text string, i int) (addedToken, bool) {
	for _, a := range t.added {
		if strings.HasPrefix(text[i:], a.content) {
			return a, true
		}
	}
	return addedToken{}, false
}

// bpeWord appends the ids of one pre-token.
func (t *Tokenizer) bpeWord(word string, ids []int) []int {
	var sb strings.Builder
	sb.Grow(len(word) * 2)
	for i := 0; i < len(word); i++ {
		sb.WriteRune(bpe.Rune(word[i]))
	}
	mapped := sb.String()
	if t.ignoreMerge {
		if id, ok := t.vocab[mapped]; ok {
			return append(ids, id)
		}
	}
	syms := make([]string, 0, len(mapped))
	for _, r := range mapped {
		s := string(r)
		if _, ok := t.vocab[s]; ok {
			syms = append(syms, s)
		}
	}
	for len(syms) > 1 {
		best := -1
		var bestMerge merge
		for k := 0; k+1 < len(syms); k++ {
			if m, ok := t.ranks[pair{syms[k], syms[k+1]}]; ok && (best < 0 || m.rank < bestMerge.rank) {
				best, bestMerge = k, m
			}
		}
		if best < 0 {
			break
		}
		a, b := syms[best], syms[best+1]
		out := syms[:0]
		for k := 0; k < len(syms); k++ {
			if k+1 < len(syms) && syms[k] == a && syms[k+1] == b {
				out = append(out, bestMerge.tok)
				k++
				continue
			}
			out = append(out, syms[k])
		}
		syms = out
	}
	for _, s := range syms {
		ids = append(ids, t.vocab[s])
	}
	return ids
}

// Decode returns the text of ids. Added tokens decode to their content; byte-level tokens decode to
// their original bytes, so Decode(Encode(s)) == s. Ids out of range are an error.
func (t *Tokenizer) Decode(ids []int) (string, error) {
	var buf bytes.Buffer
	for _, id := range ids {
		if id < 0 || id >= len(t.idToToken) || (t.idToToken[id] == "" && t.addedByID[id].content == "") {
			return "", fmt.Errorf("llmgen: decode: token id %d not in the vocabulary (size %d)", id, len(t.idToToken))
		}
		if a, ok := t.addedByID[id]; ok {
			buf.WriteString(a.content)
			continue
		}
		tok := t.idToToken[id]
		// A token whose characters are not all byte-level symbols is written as it is, as the
		// Python ByteLevel decoder does.
		start := buf.Len()
		ok := true
		for _, r := range tok {
			b, found := bpe.Byte(r)
			if !found {
				ok = false
				break
			}
			buf.WriteByte(b)
		}
		if !ok {
			buf.Truncate(start)
			buf.WriteString(tok)
		}
	}
	return buf.String(), nil
}
