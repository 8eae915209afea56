package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCaptionCommand(t *testing.T) {
	dir := t.TempDir()
	ev := filepath.Join(dir, "event.json")
	require.NoError(t, os.WriteFile(ev, []byte(`{"camera":"dock-2","zone":"loading bay","label":"object_right",
		"direction":"left-to-right","duration_s":12,"time":"14:02","confidence":0.93}`), 0o644))
	models := filepath.Join("..", "..", "models", "caption")
	args := []string{"-target", filepath.Join(models, "target"), "-draft", filepath.Join(models, "draft"), "-max-tokens", "24"}
	require.Equal(t, 0, runCaption(append(args, ev)))
	require.Equal(t, 0, runCaption(append(args, "-json", "-temperature", "0.7", ev)))

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"label":"pan","confidence":3}`), 0o644))
	require.Equal(t, 1, runCaption(append(args, bad)))
	require.Equal(t, 1, runCaption(append(args, filepath.Join(dir, "absent.json"))))
	require.Equal(t, 2, runCaption(args))
	require.Equal(t, 1, runCaption([]string{"-target", dir, ev}))
}

func TestBenchCaptionCommand(t *testing.T) {
	models := filepath.Join("..", "..", "models", "caption")
	args := []string{"-target", filepath.Join(models, "target"), "-draft", filepath.Join(models, "draft"), "-n", "2", "-max-tokens", "8"}
	require.Equal(t, 0, runBenchCaption(args))
	require.Equal(t, 1, runBenchCaption(append(args, "-draft", "none")))
	require.Equal(t, 2, runBenchCaption([]string{"-bogus"}))
}
