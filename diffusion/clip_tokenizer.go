package diffusion

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/mvwatch/mvwatch/internal/bpe"
)

// clipSplit is CLIP's pre-tokenisation pattern (applied after whitespace runs became single spaces).
var clipSplit = regexp.MustCompile(`<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`)

// CLIPTokenizer is the byte-level BPE tokenizer of CLIP's text encoder, as transformers' CLIPTokenizer runs it:
// special tokens matched verbatim, NFC, whitespace runs to one space, lowercase, CLIP's split pattern, byte
// to rune mapping, BPE with the "</w>" end-of-word suffix, then <|startoftext|> ids <|endoftext|> truncated
// and padded to MaxLength. It reads a Stable Diffusion tokenizer/ folder (vocab.json, merges.txt,
// tokenizer_config.json, special_tokens_map.json). It is safe for concurrent use.
type CLIPTokenizer struct {
	encoder map[string]int32
	ranks   map[string]int // "a b" -> merge rank
	bos     int32
	eos     int32
	pad     int32
	unk     int32
	special map[string]int32

	// MaxLength is the encoded length with both special tokens; 77 unless tokenizer_config.json says.
	MaxLength int
}

// LoadCLIPTokenizer reads a tokenizer/ folder.
func LoadCLIPTokenizer(dir string) (*CLIPTokenizer, error) {
	vb, err := os.ReadFile(filepath.Join(dir, "vocab.json"))
	if err != nil {
		return nil, fmt.Errorf("diffusion: CLIP tokenizer: %w", err)
	}
	t := &CLIPTokenizer{ranks: map[string]int{}, special: map[string]int32{}, MaxLength: 77}
	if err := json.Unmarshal(vb, &t.encoder); err != nil {
		return nil, fmt.Errorf("diffusion: CLIP vocab.json: %w: %w", err, ErrBadTokenizer)
	}
	mb, err := os.ReadFile(filepath.Join(dir, "merges.txt"))
	if err != nil {
		return nil, fmt.Errorf("diffusion: CLIP tokenizer: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(mb))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(line, "#version") || line == "" {
			continue
		}
		if len(strings.Fields(line)) != 2 {
			return nil, fmt.Errorf("diffusion: CLIP merges.txt line %q: %w", line, ErrBadTokenizer)
		}
		if _, dup := t.ranks[line]; !dup {
			t.ranks[line] = len(t.ranks)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("diffusion: CLIP merges.txt: %w: %w", err, ErrBadTokenizer)
	}
	names := map[string]string{"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
		"unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}
	for _, f := range []string{"special_tokens_map.json", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("diffusion: CLIP %s: %w: %w", f, err, ErrBadTokenizer)
		}
		for k := range names {
			if s := tokenContent(m[k]); s != "" {
				names[k] = s
			}
		}
		var ml float64
		if raw, ok := m["model_max_length"]; ok && json.Unmarshal(raw, &ml) == nil && ml >= 2 && ml < math.MaxInt32 {
			t.MaxLength = int(ml)
		}
	}
	for k, ptr := range map[string]*int32{"bos_token": &t.bos, "eos_token": &t.eos, "unk_token": &t.unk,
		"pad_token": &t.pad} {
		id, ok := t.encoder[names[k]]
		if !ok {
			return nil, fmt.Errorf("diffusion: CLIP vocabulary lacks %s %q: %w", k, names[k], ErrBadTokenizer)
		}
		*ptr = id
	}
	for _, k := range []string{"bos_token", "eos_token", "unk_token", "pad_token"} {
		t.special[names[k]] = t.encoder[names[k]]
	}
	return t, nil
}

// tokenContent reads a special token given as a string or as {"content": ...}.
func tokenContent(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Content string `json:"content"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return o.Content
	}
	return ""
}

// Tokenize returns the token ids of text without <|startoftext|>/<|endoftext|> framing.
func (t *CLIPTokenizer) Tokenize(text string) []int32 {
	var ids []int32
	for len(text) > 0 {
		at, tok := len(text), ""
		for s := range t.special {
			if i := strings.Index(text, s); i >= 0 && (i < at || (i == at && len(s) > len(tok))) {
				at, tok = i, s
			}
		}
		for _, piece := range clipSplit.FindAllString(t.normalize(text[:at]), -1) {
			ids = t.bpe(piece, ids)
		}
		if tok == "" {
			break
		}
		ids = append(ids, t.special[tok])
		text = text[at+len(tok):]
	}
	return ids
}

// normalize is NFC, whitespace runs to one space, per-rune lowercase.
func (t *CLIPTokenizer) normalize(s string) string {
	var b strings.Builder
	space := false
	for _, r := range norm.NFC.String(s) {
		if unicode.IsSpace(r) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		lowerRune(&b, r)
	}
	return b.String()
}

// bpe appends the BPE ids of one pre-token.
func (t *CLIPTokenizer) bpe(piece string, ids []int32) []int32 {
	syms := make([]string, 0, len(piece))
	for i := 0; i < len(piece); i++ {
		syms = append(syms, string(bpe.Rune(piece[i])))
	}
	if len(syms) == 0 {
		return ids
	}
	syms[len(syms)-1] += "</w>"
	for len(syms) > 1 {
		best, bestRank := -1, math.MaxInt
		for i := 0; i+1 < len(syms); i++ {
			if r, ok := t.ranks[syms[i]+" "+syms[i+1]]; ok && r < bestRank {
				best, bestRank = i, r
			}
		}
		if best < 0 {
			break
		}
		a, b := syms[best], syms[best+1]
		merged := syms[:0:0]
		for i := 0; i < len(syms); i++ {
			if i+1 < len(syms) && syms[i] == a && syms[i+1] == b {
				merged = append(merged, a+b)
				i++
				continue
			}
			merged = append(merged, syms[i])
		}
		syms = merged
	}
	for _, s := range syms {
		id, ok := t.encoder[s]
		if !ok {
			id = t.unk
		}
		ids = append(ids, id)
	}
	return ids
}

// Encode returns MaxLength ids: <|startoftext|>, the tokens (truncated to fit), <|endoftext|>, then padding.
// truncated reports whether tokens were dropped.
func (t *CLIPTokenizer) Encode(text string) (ids []int64, truncated bool) {
	toks := t.Tokenize(text)
	if len(toks) > t.MaxLength-2 {
		toks, truncated = toks[:t.MaxLength-2], true
	}
	ids = make([]int64, t.MaxLength)
	ids[0] = int64(t.bos)
	for i, id := range toks {
		ids[i+1] = int64(id)
	}
	ids[len(toks)+1] = int64(t.eos)
	for i := len(toks) + 2; i < len(ids); i++ {
		ids[i] = int64(t.pad)
	}
	return ids, truncated
}
