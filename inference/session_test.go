package inference

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

const tinyModel = "testdata/tiny.onnx"

func TestSessionReadsMetadataAndRuns(t *testing.T) {
	initForTest(t)
	s, err := OpenSession(tinyModel, SessionConfig{})
	require.NoError(t, err)
	defer s.Close()

	require.Equal(t, []TensorInfo{
		{Name: "x", DType: DTypeFloat32, Shape: []int64{-1, 4}},
		{Name: "k", DType: DTypeInt64, Shape: []int64{-1}},
	}, s.Inputs())
	require.Equal(t, []TensorInfo{
		{Name: "y", DType: DTypeFloat32, Shape: []int64{-1, 4}},
		{Name: "s", DType: DTypeFloat32, Shape: []int64{-1}},
	}, s.Outputs())
	require.Equal(t, "x:float32[?,4]", s.Inputs()[0].String())

	for _, batch := range []int{1, 3, 0} {
		x := make([]float32, batch*4)
		k := make([]int64, batch)
		for i := range x {
			x[i] = float32(i) - 2.5
		}
		for i := range k {
			k[i] = int64(10 * i)
		}
		y := make([]float32, batch*4)
		sum := make([]float32, batch)
		b := int64(batch)
		require.NoError(t, s.Run(
			[]Value{Float32([]int64{b, 4}, x), Int64([]int64{b}, k)},
			[]Value{Float32([]int64{b, 4}, y), Float32([]int64{b}, sum)}))
		for i := range x {
			require.Equal(t, x[i]*2+1, y[i])
		}
		for r := 0; r < batch; r++ {
			want := float32(k[r])
			for c := 0; c < 4; c++ {
				want += x[r*4+c]
			}
			require.InDelta(t, want, sum[r], 1e-5)
		}
	}
}

func TestSessionSelectsTensorsAndRejectsMissing(t *testing.T) {
	initForTest(t)
	s, err := OpenSession(tinyModel, SessionConfig{Inputs: []string{"x", "k"}, Outputs: []string{"s"}})
	require.NoError(t, err)
	require.Len(t, s.Outputs(), 1)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	require.ErrorContains(t, s.Run(nil, nil), "session closed")

	_, err = OpenSession(tinyModel, SessionConfig{Inputs: []string{"x", "past_key_values.0.key"}})
	require.True(t, errors.Is(err, ErrMissingTensor))
	require.ErrorContains(t, err, "past_key_values.0.key")

	_, err = OpenSession("testdata/absent.onnx", SessionConfig{})
	require.ErrorContains(t, err, "absent.onnx")

	ins, outs, err := ModelInputs(tinyModel)
	require.NoError(t, err)
	require.Len(t, ins, 2)
	require.Len(t, outs, 2)
}

func TestSessionRunRejectsBadValues(t *testing.T) {
	initForTest(t)
	s, err := OpenSession(tinyModel, SessionConfig{})
	require.NoError(t, err)
	defer s.Close()
	good := func() ([]Value, []Value) {
		return []Value{Float32([]int64{1, 4}, make([]float32, 4)), Int64([]int64{1}, make([]int64, 1))},
			[]Value{Float32([]int64{1, 4}, make([]float32, 4)), Float32([]int64{1}, make([]float32, 1))}
	}
	cases := map[string]struct {
		edit func(in, out []Value) ([]Value, []Value)
		msg  string
	}{
		"too few inputs":  {func(in, out []Value) ([]Value, []Value) { return in[:1], out }, "got 1 inputs"},
		"too few outputs": {func(in, out []Value) ([]Value, []Value) { return in, out[:1] }, "got 1 outputs"},
		"wrong dtype": {func(in, out []Value) ([]Value, []Value) {
			in[1] = Int32([]int64{1}, make([]int32, 1))
			return in, out
		}, "element type int32"},
		"wrong rank": {func(in, out []Value) ([]Value, []Value) {
			in[0] = Float32([]int64{4}, make([]float32, 4))
			return in, out
		}, "rank 1"},
		"wrong fixed dim": {func(in, out []Value) ([]Value, []Value) {
			in[0] = Float32([]int64{1, 5}, make([]float32, 5))
			return in, out
		}, "shape [1 5]"},
		"short slice": {func(in, out []Value) ([]Value, []Value) {
			in[0] = Float32([]int64{2, 4}, make([]float32, 4))
			return in, out
		}, "needs 8 elements"},
		"unsupported data": {func(in, out []Value) ([]Value, []Value) {
			in[0] = Value{Shape: []int64{1, 4}, Data: []string{"a"}}
			return in, out
		}, "unsupported Go data"},
		"batch mismatch": {func(in, out []Value) ([]Value, []Value) {
			out[0] = Float32([]int64{2, 4}, make([]float32, 8))
			return in, out
		}, "run testdata/tiny.onnx"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			in, out := good()
			in, out = c.edit(in, out)
			require.ErrorContains(t, s.Run(in, out), c.msg)
		})
	}
	in, out := good()
	require.NoError(t, s.Run(in, out))
}
