package llmgen

import (
	"unicode"
	"unicode/utf8"
)

// splitGPT2 splits text the way GPT-2's pre-tokenisation regex does:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Go's regexp (RE2) has no lookahead, so `\s+(?!\S)` cannot be written there; this hand scanner
// applies the alternatives in order at each position instead. The lookahead alternative means: a
// whitespace run that is followed by a non-space character gives up its last character, which then
// becomes the optional leading space of the next word. \s, \p{L} and \p{N} are Go's unicode.IsSpace,
// IsLetter and IsNumber (the same sets as Unicode White_Space, L and N). It returns byte offsets of
// the pieces' ends.
func splitGPT2(text string, ends []int) []int {
	ends = ends[:0]
	i := 0
	for i < len(text) {
		j := matchAt(text, i)
		ends = append(ends, j)
		i = j
	}
	return ends
}

// runeClass sorts a rune into the three classes the regex distinguishes.
type runeClass int

const (
	classSpace runeClass = iota
	classLetter
	classNumber
	classOther
)

func classify(r rune) runeClass {
	switch {
	case unicode.IsSpace(r):
		return classSpace
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	}
	return classOther
}

// runOf returns the end of the run of runes of class c starting at i.
func runOf(text string, i int, c runeClass) int {
	for i < len(text) {
		r, n := utf8.DecodeRuneInString(text[i:])
		if classify(r) != c {
			break
		}
		i += n
	}
	return i
}

// matchAt returns the end of the regex match that starts at i (i < len(text)); every position
// matches one alternative.
func matchAt(text string, i int) int {
	// 's|'t|'re|'ve|'m|'ll|'d
	if text[i] == '\'' {
		rest := text[i+1:]
		for _, c := range [...]string{"s", "t", "re", "ve", "m", "ll", "d"} {
			if len(rest) >= len(c) && rest[:len(c)] == c {
				return i + 1 + len(c)
			}
		}
	}
	r, n := utf8.DecodeRuneInString(text[i:])
	c := classify(r)
	// ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional ASCII space, then a run of one class.
	if r == ' ' && i+1 < len(text) {
		r2, _ := utf8.DecodeRuneInString(text[i+1:])
		if c2 := classify(r2); c2 != classSpace {
			return runOf(text, i+1, c2)
		}
	}
	if c != classSpace {
		return runOf(text, i+n, c)
	}
	// `\s+(?!\S)` then `\s+`.
	end := runOf(text, i, classSpace)
	if end == len(text) {
		return end
	}
	_, lastLen := utf8.DecodeLastRuneInString(text[i:end])
	if end-lastLen > i {
		return end - lastLen
	}
	return end
}
