package inference

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// initForTest starts the shared environment the way the binary does (env var or a walk up from the
// working directory to third_party/).
func initForTest(t *testing.T) {
	t.Helper()
	require.NoError(t, Init(RuntimeConfig{}))
}

func TestInitConcurrentIdempotent(t *testing.T) {
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = Init(RuntimeConfig{IntraOpThreads: 1 + i})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	info, err := Info()
	require.NoError(t, err)
	require.Equal(t, "1.30.0", info.Version)
	require.Equal(t, ProviderCPU, info.Provider)
	require.GreaterOrEqual(t, info.IntraOpThreads, 1)
	require.FileExists(t, info.Library)
}

func TestProbeProviderFallsBackToCPU(t *testing.T) {
	initForTest(t)
	for _, name := range []string{ProviderCUDA, ProviderOpenVINO} {
		var buf bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&buf, nil))
		got, err := probeProvider(name, logger)
		require.NoError(t, err)
		// The CPU-only library shipped here has neither provider.
		require.Equal(t, ProviderCPU, got, name)
		require.Contains(t, buf.String(), "falling back to cpu")
		require.Contains(t, buf.String(), "provider="+name)
	}
	got, err := probeProvider("", slog.Default())
	require.NoError(t, err)
	require.Equal(t, ProviderCPU, got)
	_, err = probeProvider("tpu", slog.Default())
	require.ErrorContains(t, err, `unknown execution provider "tpu"`)
}

func TestFindLibraryNamesEveryPlaceTried(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv(LibraryEnv, "")
	_, err := findLibrary("")
	require.Error(t, err)
	msg := err.Error()
	require.Contains(t, msg, LibraryEnv)
	require.Contains(t, msg, filepath.Join(dir, "third_party", "onnxruntime", LibraryName))
	require.Contains(t, msg, filepath.Join("/", "third_party", "onnxruntime", LibraryName))
	exe, _ := os.Executable()
	require.Contains(t, msg, filepath.Join(filepath.Dir(exe), LibraryName))

	t.Setenv(LibraryEnv, filepath.Join(dir, "nope.so"))
	_, err = findLibrary("")
	require.ErrorContains(t, err, "nope.so")
	require.ErrorContains(t, err, LibraryEnv)

	_, err = findLibrary(filepath.Join(dir, "explicit.so"))
	require.ErrorContains(t, err, "explicit.so")

	lib := filepath.Join(dir, "third_party", "onnxruntime", LibraryName)
	require.NoError(t, os.MkdirAll(filepath.Dir(lib), 0o755))
	require.NoError(t, os.WriteFile(lib, nil, 0o644))
	sub := filepath.Join(dir, "a", "b")
	require.NoError(t, os.MkdirAll(sub, 0o755))
	t.Chdir(sub)
	t.Setenv(LibraryEnv, "")
	got, err := findLibrary("")
	require.NoError(t, err)
	require.Equal(t, lib, got)
}

func TestInitBadLibraryIsCleanError(t *testing.T) {
	// Init of the real environment may already have happened in this process; a failed lookup
	// must still not panic and must name the path when nothing is started yet.
	_, err := findLibrary(filepath.Join(t.TempDir(), "missing", LibraryName))
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "missing"))
}
