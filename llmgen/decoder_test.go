package llmgen

import (
	"errors"
	"math"
	"runtime"
	"testing"

	"github.com/mvwatch/mvwatch/inference"
	"github.com/stretchr/testify/require"
)

func maxAbsDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

func TestDecoderReadsLayoutAndCacheMatchesFullPass(t *testing.T) {
	target, draft := loadPair(t)
	require.Equal(t, 6, target.Decoder.Layers())
	require.Equal(t, 5, target.Decoder.Heads())
	require.Equal(t, 64, target.Decoder.HeadDim())
	require.Equal(t, 2, draft.Decoder.Layers())
	require.Equal(t, 4, draft.Decoder.Heads())
	require.Equal(t, 32, draft.Decoder.HeadDim())
	require.Equal(t, 128, target.Decoder.MaxLength())
	require.Equal(t, target.Decoder.Vocab(), draft.Decoder.Vocab())

	for _, m := range []*Model{draft, target} {
		d := m.Decoder
		ids := m.Tokenizer.Encode(testEvents(1, 3)[0].Prompt() + " garage: the image goes out of focus at 07:59.")
		d.Reset()
		full, err := d.Forward(ids)
		require.NoError(t, err)
		want := append([]float32(nil), full...)
		v := d.Vocab()

		// The same sequence in pieces of 7, 1, 1, 3, ... through the cache.
		d.Reset()
		var got []float32
		for pos, step := 0, 7; pos < len(ids); step = 1 + (step+1)%4 {
			end := min(pos+step, len(ids))
			lg, err := d.Forward(ids[pos:end])
			require.NoError(t, err)
			got = append(got, lg...)
			pos = end
		}
		require.Equal(t, len(ids), d.Len())
		require.Less(t, maxAbsDiff(want, got), 1e-3)

		// Rollback: feed 5 wrong tokens, truncate, continue with the right ones.
		d.Reset()
		_, err = d.Forward(ids[:10])
		require.NoError(t, err)
		_, err = d.Forward([]int{5, 6, 7, 8, 9})
		require.NoError(t, err)
		require.NoError(t, d.Truncate(10))
		lg, err := d.Forward(ids[10:14])
		require.NoError(t, err)
		require.Less(t, maxAbsDiff(want[10*v:14*v], lg), 1e-3)
		require.Error(t, d.Truncate(15))
	}
}

func TestDecoderSteadyStateReusesCache(t *testing.T) {
	_, draft := loadPair(t)
	d := draft.Decoder
	d.Reset()
	_, err := d.Forward([]int{1, 2, 3, 4})
	require.NoError(t, err)
	bufs := [2]*float32{&d.cache[0][0][0][0], &d.cache[1][0][0][0]}
	cacheBytes := uint64(len(d.cache[0][0][0]) * 4)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const steps = 50
	for i := 0; i < steps; i++ {
		_, err := d.Forward([]int{10 + i})
		require.NoError(t, err)
	}
	runtime.ReadMemStats(&after)
	require.Equal(t, bufs, [2]*float32{&d.cache[0][0][0][0], &d.cache[1][0][0][0]})
	perStep := (after.TotalAlloc - before.TotalAlloc) / steps
	// A few small tensor descriptors per step, far below one layer's key buffer.
	require.Less(t, perStep, cacheBytes/4, "allocated %d bytes per step", perStep)
}

func TestDecoderErrors(t *testing.T) {
	_, err := OpenDecoder("../inference/testdata/tiny.onnx", DecoderConfig{})
	require.True(t, errors.Is(err, inference.ErrMissingTensor), "%v", err)
	require.ErrorContains(t, err, "input_ids")

	_, draft := loadPair(t)
	d := draft.Decoder
	d.Reset()
	_, err = d.Forward(nil)
	require.Error(t, err)
	_, err = d.Forward([]int{d.Vocab()})
	require.ErrorContains(t, err, "outside the model vocabulary")
	long := make([]int, d.MaxLength()+1)
	_, err = d.Forward(long)
	require.Error(t, err)
	_, err = d.Forward(long[:d.MaxLength()])
	require.NoError(t, err)
	_, err = d.Forward([]int{1})
	require.True(t, errors.Is(err, ErrContextFull))
}
