package diffusion

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mvwatch/mvwatch/inference"
	"github.com/stretchr/testify/require"
)

func TestStepPredictorMatchesOnnxRuntimePython(t *testing.T) {
	require.NoError(t, inference.Init(inference.RuntimeConfig{}))
	p, err := LoadStepPredictor("testdata/steppred", 1)
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()
	b, err := os.ReadFile("testdata/steppred_reference.json")
	require.NoError(t, err)
	var ref struct {
		Cases []struct {
			Prompt string
			Logits [][]float64
			Steps  map[string]int
		}
	}
	require.NoError(t, json.Unmarshal(b, &ref))
	seen := map[int]bool{}
	for _, c := range ref.Cases {
		for head, sched := range p.Manifest().Schedulers {
			got, err := p.Predict(c.Prompt, sched)
			require.NoError(t, err)
			require.Equal(t, c.Steps[sched], got.Steps, "%q %s", c.Prompt, sched)
			seen[got.Steps] = true
			// softmax of the reference logits
			row := c.Logits[head]
			m := math.Inf(-1)
			for _, v := range row {
				m = math.Max(m, v)
			}
			sum := 0.0
			for _, v := range row {
				sum += math.Exp(v - m)
			}
			for i, v := range row {
				require.InDelta(t, math.Exp(v-m)/sum, got.Probabilities[i], 1e-4)
			}
		}
	}
	require.Greater(t, len(seen), 1, "fixture should exercise more than one class")

	_, err = p.Predict("", "ddim")
	require.ErrorIs(t, err, ErrEmptyPrompt)
	_, err = p.Predict(strings.Repeat("camera ", 40), "ddim")
	require.ErrorIs(t, err, ErrPromptTooLong)
	_, err = p.Predict("a car", "heun")
	require.ErrorIs(t, err, ErrUnknownScheduler)
	_, err = p.Predict("a car", "lms")
	require.ErrorIs(t, err, ErrUnknownScheduler)
	got, err := p.Predict("a car", "DDIMScheduler")
	require.NoError(t, err)
	require.Contains(t, p.Manifest().Ladder, got.Steps)
}

func TestLoadStepPredictorErrors(t *testing.T) {
	require.NoError(t, inference.Init(inference.RuntimeConfig{}))
	_, err := LoadStepPredictor(t.TempDir(), 1)
	require.Error(t, err)
	good, err := os.ReadFile("testdata/steppred/manifest.json")
	require.NoError(t, err)
	for name, edit := range map[string]func(m map[string]any){
		"schema":     func(m map[string]any) { m["schema"] = "v0" },
		"ladder":     func(m map[string]any) { m["ladder"] = []int{10, 5} },
		"scheduler":  func(m map[string]any) { m["schedulers"] = []string{"ddim", "lms"} },
		"max length": func(m map[string]any) { m["max_length"] = 2 },
		"heads":      func(m map[string]any) { m["schedulers"] = []string{"ddim", "euler", "heun"} },
		"model file": func(m map[string]any) { m["model"] = "missing.onnx" },
		"quantile":   func(m map[string]any) { m["quantile"] = 1.5 },
		"decision":   func(m map[string]any) { m["decision"] = "median" },
		"utility quantile": func(m map[string]any) {
			m["decision"], m["quantile"] = "utility", 0.5
		},
		"ok": func(map[string]any) {}, // control: the copy itself loads
	} {
		var m map[string]any
		require.NoError(t, json.Unmarshal(good, &m))
		edit(m)
		dir := t.TempDir()
		m["tokenizer"] = "vocab.txt"
		for f, src := range map[string]string{"model.onnx": "testdata/steppred/model.onnx",
			"vocab.txt": "testdata/minilm/vocab.txt"} {
			abs, err := filepath.Abs(src)
			require.NoError(t, err)
			require.NoError(t, os.Symlink(abs, filepath.Join(dir, f)))
		}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest.json"), b, 0o644))
		sp, err := LoadStepPredictor(dir, 1)
		if name == "ok" {
			require.NoError(t, err)
			require.NoError(t, sp.Close())
			continue
		}
		require.Error(t, err, name)
		if name != "model file" {
			require.ErrorIs(t, err, ErrBadPredictor, name)
		}
	}
}

// TestStepPredictorExternal loads a trained predictor named by $MVWATCH_STEPPRED_DIR (e.g. the output of
// step_predictor.py train) and predicts for a few prompts.
func TestStepPredictorExternal(t *testing.T) {
	dir := os.Getenv("MVWATCH_STEPPRED_DIR")
	if dir == "" {
		t.Skip("set MVWATCH_STEPPRED_DIR to a step predictor directory")
	}
	require.NoError(t, inference.Init(inference.RuntimeConfig{}))
	p, err := LoadStepPredictor(dir, 0)
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()
	for _, prompt := range []string{"a person walking left to right at night", "camera lens covered"} {
		for _, s := range p.Manifest().Schedulers {
			got, err := p.Predict(prompt, s)
			require.NoError(t, err)
			t.Logf("%s %q -> %d steps %v", s, prompt, got.Steps, got.Probabilities)
		}
	}
}

// TestStepPredictorQuantile: with manifest quantile q, Predict picks the smallest ladder count whose
// cumulative predicted probability reaches q.
func TestStepPredictorQuantile(t *testing.T) {
	require.NoError(t, inference.Init(inference.RuntimeConfig{}))
	good, err := os.ReadFile("testdata/steppred/manifest.json")
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(good, &m))
	dir := t.TempDir()
	m["tokenizer"] = "vocab.txt"
	m["quantile"] = 0.3
	for f, src := range map[string]string{"model.onnx": "testdata/steppred/model.onnx",
		"vocab.txt": "testdata/minilm/vocab.txt"} {
		abs, err := filepath.Abs(src)
		require.NoError(t, err)
		require.NoError(t, os.Symlink(abs, filepath.Join(dir, f)))
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest.json"), b, 0o644))
	sp, err := LoadStepPredictor(dir, 1)
	require.NoError(t, err)
	defer func() { require.NoError(t, sp.Close()) }()
	for _, prompt := range []string{"car enters the driveway", "a dog", "x", "two people loiter near the gate at dusk"} {
		got, err := sp.Predict(prompt, "ddim")
		require.NoError(t, err)
		cum, want := 0.0, -1
		for i, pr := range got.Probabilities {
			if cum += pr; cum >= 0.3-1e-12 {
				want = got.Ladder[i]
				break
			}
		}
		require.Equal(t, want, got.Steps, prompt)
	}
}
