package inference

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// shippedModel is the committed MFCD-Net model directory.
const shippedModel = "../models/mfcd"

func TestLoadModelAcceptsShippedModel(t *testing.T) {
	initForTest(t)
	m, err := LoadModel(shippedModel)
	require.NoError(t, err)
	require.Equal(t, ManifestSchema, m.Schema)
	require.NotEmpty(t, m.Labels)
	require.Len(t, m.Stages, 3)
	require.True(t, m.HasPrecision(PrecisionFP32))
	require.True(t, m.HasPrecision(PrecisionINT8))
	require.Equal(t, []int64{-1, int64(len(m.Input.Channels)), int64(m.Input.ClipLen), int64(m.Input.Height),
		int64(m.Input.Width)}, m.Input.Shape)
	for i, s := range m.Stages[:len(m.Stages)-1] {
		require.Greater(t, s.Threshold, 0.0, "stage %d", i)
		require.LessOrEqual(t, s.Threshold, 1.0, "stage %d", i)
	}
	p, err := m.StagePath(0, PrecisionINT8)
	require.NoError(t, err)
	require.FileExists(t, p)
	_, err = m.StagePath(3, PrecisionFP32)
	require.Error(t, err)
}

// copyModel copies the shipped model into a temporary directory and returns it with its manifest
// decoded as a generic map for editing.
func copyModel(t *testing.T) (string, map[string]any) {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(shippedModel)
	require.NoError(t, err)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(shippedModel, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644))
	}
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(data, &raw))
	return dir, raw
}

func writeManifest(t *testing.T, dir string, raw map[string]any) {
	t.Helper()
	data, err := json.MarshalIndent(raw, "", " ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestFile), data, 0o644))
}

func stage(raw map[string]any, i int) map[string]any {
	return raw["stages"].([]any)[i].(map[string]any)
}

func tensor(list any, i int) map[string]any { return list.([]any)[i].(map[string]any) }

func TestReadManifestRefusesBrokenCopies(t *testing.T) {
	cases := []struct {
		name string
		edit func(t *testing.T, dir string, raw map[string]any)
		want string
	}{
		{"wrong schema", func(t *testing.T, dir string, raw map[string]any) { raw["schema"] = "other.v9" }, `schema "other.v9"`},
		{"no labels", func(t *testing.T, dir string, raw map[string]any) { raw["labels"] = []any{} }, "labels are empty"},
		{"duplicate label", func(t *testing.T, dir string, raw map[string]any) {
			l := raw["labels"].([]any)
			l[1] = l[0]
		}, "appears twice"},
		{"blank label", func(t *testing.T, dir string, raw map[string]any) { raw["labels"].([]any)[2] = " " }, "label 2 is empty"},
		{"misspelt key", func(t *testing.T, dir string, raw map[string]any) { stage(raw, 0)["treshold"] = 0.5 }, `unknown field "treshold"`},
		{"threshold above 1", func(t *testing.T, dir string, raw map[string]any) { stage(raw, 0)["threshold"] = 1.5 }, "threshold 1.5"},
		{"threshold zero", func(t *testing.T, dir string, raw map[string]any) { delete(stage(raw, 1), "threshold") }, "want a value in (0, 1]"},
		{"threshold on last", func(t *testing.T, dir string, raw map[string]any) { stage(raw, 2)["threshold"] = 0.5 }, "last stage"},
		{"missing file", func(t *testing.T, dir string, raw map[string]any) {
			require.NoError(t, os.Remove(filepath.Join(dir, "stage2.onnx")))
		}, "stage2.onnx"},
		{"missing int8 file", func(t *testing.T, dir string, raw map[string]any) {
			require.NoError(t, os.Remove(filepath.Join(dir, "stage3.int8.onnx")))
		}, "stage3.int8.onnx"},
		{"file outside dir", func(t *testing.T, dir string, raw map[string]any) { stage(raw, 0)["file"] = "../stage1.onnx" }, "inside the model directory"},
		{"input rank", func(t *testing.T, dir string, raw map[string]any) {
			raw["input"].(map[string]any)["shape"] = []any{-1, 3, 64, 64}
		}, "rank 4"},
		{"clip len disagrees", func(t *testing.T, dir string, raw map[string]any) {
			raw["input"].(map[string]any)["clip_len"] = 16
		}, "clip_len 16"},
		{"layout", func(t *testing.T, dir string, raw map[string]any) { raw["input"].(map[string]any)["layout"] = "NTCHW" }, `layout "NTCHW"`},
		{"zero std", func(t *testing.T, dir string, raw map[string]any) {
			raw["input"].(map[string]any)["normalisation"].(map[string]any)["std"].([]any)[1] = 0
		}, "std > 0"},
		{"unknown transform", func(t *testing.T, dir string, raw map[string]any) {
			raw["input"].(map[string]any)["normalisation"].(map[string]any)["transform"] = "sqrt"
		}, `transform "sqrt"`},
		{"stage 1 input differs from clip input", func(t *testing.T, dir string, raw map[string]any) {
			tensor(stage(raw, 0)["inputs"], 0)["name"] = "clip"
		}, "want exactly the clip input"},
		{"broken chain", func(t *testing.T, dir string, raw map[string]any) {
			tensor(stage(raw, 1)["inputs"], 0)["name"] = "feat9"
		}, "not an output of stage stage1"},
		{"chain shape mismatch", func(t *testing.T, dir string, raw map[string]any) {
			tensor(stage(raw, 1)["inputs"], 0)["shape"].([]any)[1] = 7
		}, "does not match stage stage1 output"},
		{"logits not an output", func(t *testing.T, dir string, raw map[string]any) { stage(raw, 2)["logits"] = "nope" }, `logits "nope"`},
		{"logits width vs labels", func(t *testing.T, dir string, raw map[string]any) {
			raw["labels"] = append(raw["labels"].([]any), "extra")
		}, "for 12 labels"},
		{"dynamic non-batch dim", func(t *testing.T, dir string, raw map[string]any) {
			tensor(stage(raw, 2)["outputs"], 0)["shape"] = []any{-1, -1}
		}, "dimension 1 is -1"},
		{"dtype", func(t *testing.T, dir string, raw map[string]any) {
			tensor(stage(raw, 0)["outputs"], 0)["dtype"] = "float16"
		}, `dtype "float16"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, raw := copyModel(t)
			tc.edit(t, dir, raw)
			writeManifest(t, dir, raw)
			_, err := ReadManifest(dir)
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrBadManifest), "%v", err)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestReadManifestRefusesMissingAndGarbage(t *testing.T) {
	_, err := ReadManifest(t.TempDir())
	require.ErrorIs(t, err, ErrBadManifest)
	require.ErrorIs(t, err, os.ErrNotExist)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestFile), []byte(`{"schema": `), 0o644))
	_, err = ReadManifest(dir)
	require.ErrorIs(t, err, ErrBadManifest)
	require.ErrorContains(t, err, "decode")

	require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestFile), []byte(`{} {}`), 0o644))
	_, err = ReadManifest(dir)
	require.ErrorContains(t, err, "trailing data")
}

func TestVerifyRefusesGraphsThatDisagree(t *testing.T) {
	initForTest(t)
	cases := []struct {
		name string
		edit func(t *testing.T, dir string, raw map[string]any)
		want string
	}{
		{"swapped graph files", func(t *testing.T, dir string, raw map[string]any) {
			a, b := filepath.Join(dir, "stage1.onnx"), filepath.Join(dir, "stage2.onnx")
			da, err := os.ReadFile(a)
			require.NoError(t, err)
			db, err := os.ReadFile(b)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(a, db, 0o644))
			require.NoError(t, os.WriteFile(b, da, 0o644))
		}, `graph has no input "features"`},
		{"renamed output everywhere", func(t *testing.T, dir string, raw map[string]any) {
			tensor(stage(raw, 2)["outputs"], 0)["name"] = "scores"
			stage(raw, 2)["logits"] = "scores"
		}, `graph has no output "scores"`},
		{"fixed dim differs from graph", func(t *testing.T, dir string, raw map[string]any) {
			in := raw["input"].(map[string]any)
			in["shape"].([]any)[3] = 32
			in["height"] = 32
			tensor(stage(raw, 0)["inputs"], 0)["shape"].([]any)[3] = 32
		}, "dimension 3 differs"},
		{"corrupt int8 graph", func(t *testing.T, dir string, raw map[string]any) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "stage3.int8.onnx"), []byte("not onnx"), 0o644))
		}, "stage3.int8.onnx"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, raw := copyModel(t)
			tc.edit(t, dir, raw)
			writeManifest(t, dir, raw)
			_, err := LoadModel(dir)
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrBadManifest), "%v", err)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestMatchTensors(t *testing.T) {
	want := []TensorSpec{{Name: "x", DType: DTypeFloat32, Shape: []int64{-1, 4}}}
	require.NoError(t, matchTensors("input", want, []TensorInfo{{Name: "x", DType: DTypeFloat32, Shape: []int64{-1, 4}}}, true))
	// A fixed manifest dimension runs on a dynamic graph dimension.
	fixed := []TensorSpec{{Name: "x", DType: DTypeFloat32, Shape: []int64{2, 4}}}
	require.NoError(t, matchTensors("input", fixed, []TensorInfo{{Name: "x", DType: DTypeFloat32, Shape: []int64{-1, 4}}}, true))
	// A dynamic manifest batch on a fixed graph batch would fail at run time.
	require.ErrorContains(t, matchTensors("input", want, []TensorInfo{{Name: "x", DType: DTypeFloat32, Shape: []int64{1, 4}}}, true), "dimension 0 differs")
	require.ErrorContains(t, matchTensors("input", want, []TensorInfo{{Name: "x", DType: DTypeInt64, Shape: []int64{-1, 4}}}, true), "graph has x:int64")
	require.ErrorContains(t, matchTensors("input", want, []TensorInfo{
		{Name: "x", DType: DTypeFloat32, Shape: []int64{-1, 4}},
		{Name: "mask", DType: DTypeFloat32, Shape: []int64{-1}},
	}, true), "mask:float32[?] is not in the manifest")
	// Extra graph outputs are allowed.
	require.NoError(t, matchTensors("output", want, []TensorInfo{
		{Name: "x", DType: DTypeFloat32, Shape: []int64{-1, 4}},
		{Name: "extra", DType: DTypeFloat32, Shape: []int64{-1}},
	}, false))
}

func FuzzParseManifest(f *testing.F) {
	data, err := os.ReadFile(filepath.Join(shippedModel, ManifestFile))
	require.NoError(f, err)
	f.Add(data)
	f.Add([]byte(`{"schema":"mvwatch.model.v1"}`))
	f.Add([]byte(`{"schema":"mvwatch.model.v1","name":"x","labels":["a"],"stages":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			require.ErrorIs(t, err, ErrBadManifest)
			return
		}
		// Whatever parses is internally consistent.
		require.NoError(t, m.Validate())
		require.NotEmpty(t, m.Labels)
	})
}
