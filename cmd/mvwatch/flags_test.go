package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

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
		{"-enrich=maybe", "-store", store},
	} {
		require.Equal(t, 2, runServe(args), "serve %v", args)
	}
	clip := filepath.Join(t.TempDir(), "clip.264")
	require.NoError(t, os.WriteFile(clip, nil, 0o644))
	require.Equal(t, 2, runAnalyze([]string{"-precision", "int4", clip}))
	require.Equal(t, 2, runAnalyze([]string{"-model", typo, clip}))
}
