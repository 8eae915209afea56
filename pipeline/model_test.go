package pipeline

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

	got, err := ResolveModelDir(own)
	require.NoError(t, err)
	require.Equal(t, own, got)
	got, err = ResolveModelDir(nested)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(nested, "mfcd"), got)

	typo := filepath.Join(dir, "mfdc")
	_, err = ResolveModelDir(typo)
	require.ErrorContains(t, err, `model directory "`+typo+`": no manifest.json`)

	t.Chdir("..")
	for _, d := range []string{"models", "models/mfcd"} {
		got, err = ResolveModelDir(d)
		require.NoError(t, err, d)
		require.Equal(t, filepath.Join("models", "mfcd"), got)
	}
	_, err = ResolveModelDir("models/mfcd-typo")
	require.Error(t, err)
}
