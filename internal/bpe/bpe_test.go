package bpe

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTableMatchesGPT2(t *testing.T) {
	// Known points of GPT-2's bytes_to_unicode: space -> U+0120 "Ġ", newline -> U+010A "Ċ",
	// 0x00 -> U+0100, 0xAD (soft hyphen) -> U+0143, the last of the 68 remapped bytes.
	require.Equal(t, 'Ġ', Rune(' '))
	require.Equal(t, 'Ċ', Rune('\n'))
	require.Equal(t, rune(0x100), Rune(0))
	require.Equal(t, rune(0x143), Rune(0xAD))
	require.Equal(t, 'a', Rune('a'))
	require.Equal(t, rune(0xFF), Rune(0xFF))
	seen := map[rune]bool{}
	for b := range 256 {
		r := Rune(byte(b))
		require.False(t, seen[r], "rune %U used twice", r)
		seen[r] = true
		got, ok := Byte(r)
		require.True(t, ok)
		require.Equal(t, byte(b), got)
	}
	for _, r := range []rune{-1, ' ', 0x7F, 0xAD, 0x144, 'é' + 1000} {
		_, ok := Byte(r)
		require.False(t, ok, "%U", r)
	}
	order := Order()
	require.Len(t, order, 256)
	require.Equal(t, '!', order[0])
	require.Equal(t, rune(0x100), order[188])
	require.Equal(t, rune(0x143), order[255])
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("hello world\n\x00\xad\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, b := range data {
			got, ok := Byte(Rune(b))
			if !ok || got != b {
				t.Fatalf("byte %#x does not round-trip", b)
			}
		}
	})
}
