// Package bpe holds GPT-2's byte-level byte<->unicode table, shared by the byte-level BPE tokenizers
// (llmgen's GPT-2 style tokenizer and diffusion's CLIP tokenizer).
package bpe

// byteRunes is GPT-2's reversible byte-to-unicode map (bytes_to_unicode): printable Latin-1 bytes
// map to themselves and the other 68 to code points from U+0100 upwards, in byte order, so every
// byte sequence becomes printable text that BPE merges can work on.
var byteRunes [256]rune

// runeBytes inverts byteRunes; -1 marks a rune that is not in the table.
var runeBytes [256 + 68]int16

func init() {
	for i := range runeBytes {
		runeBytes[i] = -1
	}
	next := rune(256)
	for b := range 256 {
		if Printable(byte(b)) {
			byteRunes[b] = rune(b)
		} else {
			byteRunes[b] = next
			next++
		}
		runeBytes[byteRunes[b]] = int16(b)
	}
}

// Printable reports whether GPT-2's table maps b to itself ('!'..'~', 0xA1..0xAC and 0xAE..0xFF).
func Printable(b byte) bool {
	return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE
}

// Rune returns the printable rune that stands for byte b.
func Rune(b byte) rune { return byteRunes[b] }

// Byte returns the byte that r stands for; ok is false when r is not one of the table's 256 runes.
func Byte(r rune) (b byte, ok bool) {
	if r < 0 || int(r) >= len(runeBytes) || runeBytes[r] < 0 {
		return 0, false
	}
	return byte(runeBytes[r]), true
}

// Order returns the table's 256 runes in bytes_to_unicode's insertion order: the printable bytes
// first, then the others. Vocabularies built from the bare byte alphabet use this order.
func Order() []rune {
	order := make([]rune, 0, 256)
	for b := range 256 {
		if Printable(byte(b)) {
			order = append(order, byteRunes[b])
		}
	}
	for b := range 256 {
		if !Printable(byte(b)) {
			order = append(order, byteRunes[b])
		}
	}
	return order
}
