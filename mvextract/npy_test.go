package mvextract

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The expected bytes are what numpy 2.4's np.save wrote for the same arrays.
func TestWriteNPYMatchesNumPy(t *testing.T) {
	for _, tc := range []struct {
		dtype string
		shape []int
		data  any
		want  string
	}{
		{"float32", []int{2, 3}, []float32{0, 1, 2, 3, 4, 5}, "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a000000000000803f0000004000004040000080400000a040"},
		{"int16", []int{2}, []int16{1, -2}, "934e554d5059010076007b276465736372273a20273c6932272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0100feff"},
		{"uint8", []int{0, 3, 2}, []byte{}, "934e554d5059010076007b276465736372273a20277c7531272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028302c20332c2032292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a"},
		{"int32", []int{1}, []int32{7}, "934e554d5059010076007b276465736372273a20273c6934272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028312c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a07000000"},
	} {
		var b bytes.Buffer
		require.NoError(t, WriteNPY(&b, tc.dtype, tc.shape, tc.data))
		require.Equal(t, tc.want, hex.EncodeToString(b.Bytes()), tc.dtype)
	}
}

func TestWriteNPYLarge(t *testing.T) {
	data := make([]float32, 100000)
	for i := range data {
		data[i] = float32(i) * 0.5
	}
	var b bytes.Buffer
	require.NoError(t, WriteNPY(&b, "float32", []int{1000, 100}, data))
	require.Equal(t, 128+4*len(data), b.Len())
	require.Equal(t, []byte{0x80, 0x4f, 0x43, 0x47}, b.Bytes()[b.Len()-4:]) // 99999*0.5 = 49999.5
}

func TestWriteNPYErrors(t *testing.T) {
	var b bytes.Buffer
	for _, tc := range []struct {
		dtype string
		shape []int
		data  any
		want  string
	}{
		{"float64", []int{1}, []float32{1}, `dtype "float64"`},
		{"float32", []int{1}, []int16{1}, "data of type []int16 for dtype float32"},
		{"int16", []int{3}, []int16{1}, "1 values for shape [3]"},
		{"uint8", []int{-1}, []byte{}, "negative dimension"},
	} {
		err := WriteNPY(&b, tc.dtype, tc.shape, tc.data)
		require.True(t, errors.Is(err, ErrNPY), tc.want)
		require.Contains(t, err.Error(), tc.want)
	}
}

func TestNPYStream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.npy")
	f, err := os.Create(path)
	require.NoError(t, err)
	s, err := NewNPYStream(f, "int16", []int{2, 3})
	require.NoError(t, err)
	require.NoError(t, s.Append([]int16{1, 2, 3, 4, 5, 6}))
	require.NoError(t, s.Append([]int16{-1, -2, -3, -4, -5, -6, 7, 8, 9, 10, 11, 12}))
	require.True(t, errors.Is(s.Append([]int16{1}), ErrNPY))
	require.True(t, errors.Is(s.Append([]float32{1, 2, 3, 4, 5, 6}), ErrNPY))
	require.Equal(t, 3, s.Rows())
	require.NoError(t, s.Close())
	require.NoError(t, f.Close())
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	var want bytes.Buffer
	require.NoError(t, WriteNPY(&want, "int16", []int{3, 2, 3},
		[]int16{1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6, 7, 8, 9, 10, 11, 12}))
	require.Equal(t, want.Bytes(), got)
}
