package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestResolveModelDir: a directory with a manifest (or an mfcd subfolder with one) is used; a typo'd
// directory is an error naming it, never a silent fallback to the shipped model; only the default
// directories fall back to the shipped model.
func TestResolveModelDir(t *testing.T) {
	dir := t.TempDir()
	own := filepath.Join(dir, "own")
	nested := filepath.Join(dir, "nested")
	require.NoError(t, os.MkdirAll(own, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(nested, "mfcd"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(own, "manifest.json"), []byte("{}"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(nested, "mfcd", "manifest.json"), []byte("{}"), 0o644))

	got, err := resolveModelDir(own)
	require.NoError(t, err)
	require.Equal(t, own, got)
	got, err = resolveModelDir(nested)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(nested, "mfcd"), got)

	typo := filepath.Join(dir, "mfdc")
	_, err = resolveModelDir(typo)
	require.ErrorContains(t, err, `model directory "`+typo+`": no manifest.json`)

	t.Chdir(filepath.Join("..", ".."))
	for _, d := range []string{"models", "models/mfcd"} {
		got, err = resolveModelDir(d)
		require.NoError(t, err, d)
		require.Equal(t, filepath.Join("models", "mfcd"), got)
	}
	_, err = resolveModelDir("models/mfcd-typo")
	require.Error(t, err)
}

// TestServeAndAnalyzeRejectBadFlags: bad flag values stop the command with exit status 2 before
// anything starts: an unknown -precision never becomes fp32, a typo'd -model never becomes the shipped
// model, and the listen flags are validated like the config.
func TestServeAndAnalyzeRejectBadFlags(t *testing.T) {
	for _, k := range []string{"MVWATCH_HTTP_ADDR", "MVWATCH_RTSP_ADDR", "MVWATCH_MODEL_DIR", "MVWATCH_STORE_PATH"} {
		t.Setenv(k, "")
	}
	typo := filepath.Join(t.TempDir(), "mfdc")
	store := filepath.Join(t.TempDir(), "ev.db")
	for _, args := range [][]string{
		{"-precision", "fp16", "-store", store},
		{"-precision", "FP32", "-store", store},
		{"-model", typo, "-store", store},
		{"-http", "8080", "-store", store},
		{"-rtsp", ":70000", "-store", store},
	} {
		require.Equal(t, 2, runServe(args), "serve %v", args)
	}
	clip := filepath.Join(t.TempDir(), "clip.264")
	require.NoError(t, os.WriteFile(clip, nil, 0o644))
	require.Equal(t, 2, runAnalyze([]string{"-precision", "int4", clip}))
	require.Equal(t, 2, runAnalyze([]string{"-model", typo, clip}))
}
