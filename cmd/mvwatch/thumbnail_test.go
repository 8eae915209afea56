package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	thumbModel     = filepath.Join("..", "..", "models", "thumbnail")
	thumbPredictor = filepath.Join("..", "..", "models", "steppredictor")
)

func TestThumbnailCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "t.png")
	base := []string{"-model", thumbModel, "-predictor", thumbPredictor}
	// Flags may follow the prompt.
	require.Equal(t, 0, runThumbnail(append(base, "two cars moving left on the street at night", "--steps", "8", "--out", out)))
	st, err := os.Stat(out)
	require.NoError(t, err)
	require.Greater(t, st.Size(), int64(100))
	jpg := filepath.Join(dir, "t.jpg")
	require.Equal(t, 0, runThumbnail(append(base, "--steps", "auto", "--out", jpg, "--json", "empty park at day")))
	require.Equal(t, 0, runThumbnail(append(base, "--steps", "6", "--scheduler", "euler_a", "--out", out, "a person moving right in the driveway at day")))
}

// TestThumbnailAutoEveryScheduler runs --steps auto with every scheduler the shipped predictor has a head for.
func TestThumbnailAutoEveryScheduler(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(thumbPredictor, "manifest.json"))
	require.NoError(t, err)
	var m struct {
		Schedulers []string `json:"schedulers"`
	}
	require.NoError(t, json.Unmarshal(b, &m))
	require.Subset(t, m.Schedulers, []string{"ddim", "euler", "euler_a", "heun", "dpm2_karras", "unipc"})
	out := filepath.Join(t.TempDir(), "t.png")
	for _, s := range m.Schedulers {
		require.Equal(t, 0, runThumbnail([]string{"-model", thumbModel, "-predictor", thumbPredictor, "--steps", "auto",
			"--scheduler", s, "--out", out, "two cars moving left on the street at night"}), s)
	}
	// A scheduler the package knows but the predictor has no head for, and one nobody knows.
	require.Equal(t, 1, runThumbnail([]string{"-model", thumbModel, "-predictor", thumbPredictor, "--steps", "auto",
		"--scheduler", "pndm", "--out", out, "a car"}))
	require.Equal(t, 1, runThumbnail([]string{"-model", thumbModel, "-predictor", thumbPredictor, "--steps", "auto",
		"--scheduler", "plms", "--out", out, "a car"}))
}

func TestThumbnailCommandBadInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "t.png")
	base := []string{"-model", thumbModel, "-predictor", thumbPredictor, "-out", out}
	require.Equal(t, 2, runThumbnail(base))                                                         // no prompt
	require.Equal(t, 2, runThumbnail(append(base, "a", "b")))                                       // two prompts
	require.Equal(t, 2, runThumbnail(append(base, "--bogus", "a")))                                 // unknown flag
	require.Equal(t, 1, runThumbnail(append(base, "   ")))                                          // empty prompt
	long := strings.Repeat("car moving left ", 40)                                                  // more than 75 tokens
	require.Equal(t, 1, runThumbnail(append(base, long)))                                           // overlong for the text encoder
	require.Equal(t, 1, runThumbnail(append(base, "--steps", "auto", strings.Repeat("car ", 200)))) // and for the predictor
	require.Equal(t, 1, runThumbnail(append(base, "--scheduler", "plms", "a car")))
	require.Equal(t, 1, runThumbnail(append(base, "--steps", "0", "a car")))
	require.Equal(t, 1, runThumbnail(append(base, "--steps", "many", "a car")))
	require.Equal(t, 1, runThumbnail(append(base, "--out", filepath.Join(dir, "t.gif"), "a car")))
	require.Equal(t, 1, runThumbnail(append(base, "--predictor", dir, "a car"))) // auto without a predictor

	// A model directory with a missing part.
	partial := filepath.Join(dir, "partial")
	for _, part := range []string{"text_encoder", "unet", "tokenizer", "scheduler"} {
		abs, err := filepath.Abs(filepath.Join(thumbModel, part))
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(partial, 0o755))
		require.NoError(t, os.Symlink(abs, filepath.Join(partial, part)))
	}
	require.Equal(t, 1, runThumbnail(append(base, "--model", partial, "--steps", "4", "a car")))
	_, err := os.Stat(out)
	require.True(t, os.IsNotExist(err), "no image is written on bad input")
}

func TestBenchThumbnailCommand(t *testing.T) {
	base := []string{"-model", thumbModel, "-predictor", thumbPredictor, "-prompts",
		filepath.Join(thumbPredictor, "heldout.txt"), "-n", "2", "-default-steps", "10"}
	require.Equal(t, 0, runBenchThumbnail(base))
	require.Equal(t, 1, runBenchThumbnail(append(base, "-prompts", filepath.Join(t.TempDir(), "absent.txt"))))
	require.Equal(t, 0, runBenchThumbnail(append(base, "-scheduler", "heun", "-seeds", "2")))
	require.Equal(t, 1, runBenchThumbnail(append(base, "-scheduler", "pndm"))) // the predictor has no PNDM head
	require.Equal(t, 1, runBenchThumbnail(append(base, "-scheduler", "plms"))) // no such scheduler
	require.Equal(t, 1, runBenchThumbnail(append(base, "-seeds", "0")))
	require.Equal(t, 2, runBenchThumbnail([]string{"-bogus"}))
}
