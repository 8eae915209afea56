package inference

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// LibraryName is the file name of the ONNX Runtime shared library that Init looks for.
const LibraryName = "libonnxruntime.so.1"

// LibraryEnv is the environment variable that names the ONNX Runtime shared library.
const LibraryEnv = "MVWATCH_ORT_LIB"

// Execution providers that RuntimeConfig.Provider accepts.
const (
	ProviderCPU      = "cpu"
	ProviderCUDA     = "cuda"
	ProviderOpenVINO = "openvino"
)

// ErrNotInitialized is returned by functions that need the ONNX Runtime environment before Init
// succeeded.
var ErrNotInitialized = errors.New("inference: ONNX Runtime not initialised (call inference.Init first)")

// RuntimeConfig configures the one process-wide ONNX Runtime environment.
type RuntimeConfig struct {
	// LibraryPath is the ONNX Runtime shared library. It defaults to $MVWATCH_ORT_LIB, then
	// libonnxruntime.so.1 next to the executable (or in third_party/onnxruntime/ there), then
	// third_party/onnxruntime/libonnxruntime.so.1 in the working directory or any directory above it.
	LibraryPath string
	// Provider is the execution provider: "cpu", "cuda" or "openvino". It defaults to "cpu". A
	// provider that the library or the machine lacks is logged and replaced by the CPU.
	Provider string
	// IntraOpThreads is the number of threads one session uses inside an operator. It defaults to
	// the number of CPUs of the machine (runtime.NumCPU), at most 8.
	IntraOpThreads int
	// Logger receives the start-up and fallback lines. It defaults to slog.Default().
	Logger *slog.Logger
}

// runtimeState is the process-wide environment; mu guards all of it.
type runtimeState struct {
	mu       sync.Mutex
	ready    bool
	library  string
	provider string
	threads  int
	logger   *slog.Logger
}

var rt runtimeState

// Init starts the process-wide ONNX Runtime environment. It is idempotent and safe for concurrent
// callers: the first successful call decides the library, provider and thread count, and later
// calls return nil without changing them. A failed call leaves nothing behind, so it may be retried.
func Init(cfg RuntimeConfig) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.ready {
		return nil
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	lib, err := findLibrary(cfg.LibraryPath)
	if err != nil {
		return err
	}
	threads := cfg.IntraOpThreads
	if threads <= 0 {
		threads = min(runtime.NumCPU(), 8)
	}
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("inference: start ONNX Runtime from %s: %w", lib, err)
	}
	provider, err := probeProvider(cfg.Provider, logger)
	if err != nil {
		return errors.Join(err, ort.DestroyEnvironment())
	}
	rt.ready = true
	rt.library = lib
	rt.provider = provider
	rt.threads = threads
	rt.logger = logger
	logger.Info("onnx runtime ready", "version", ort.GetVersion(), "library", lib,
		"provider", provider, "intra_op_threads", threads)
	return nil
}

// RuntimeInfo describes the started environment.
type RuntimeInfo struct {
	// Library is the path of the loaded shared library.
	Library string
	// Version is the ONNX Runtime version the library reports.
	Version string
	// Provider is the execution provider sessions use after any fallback.
	Provider string
	// IntraOpThreads is the per-session intra-op thread count.
	IntraOpThreads int
}

// Info returns the started environment, or ErrNotInitialized.
func Info() (RuntimeInfo, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if !rt.ready {
		return RuntimeInfo{}, ErrNotInitialized
	}
	return RuntimeInfo{Library: rt.library, Version: ort.GetVersion(), Provider: rt.provider,
		IntraOpThreads: rt.threads}, nil
}

// findLibrary returns the first existing library path, or an error naming every place tried.
func findLibrary(explicit string) (string, error) {
	var tried []string
	check := func(p string) bool {
		if p == "" {
			return false
		}
		tried = append(tried, p)
		st, err := os.Stat(p)
		return err == nil && !st.IsDir()
	}
	if explicit != "" {
		if check(explicit) {
			return explicit, nil
		}
		return "", fmt.Errorf("inference: ONNX Runtime library %s (RuntimeConfig.LibraryPath) not found", explicit)
	}
	if env := os.Getenv(LibraryEnv); env != "" {
		if check(env) {
			return env, nil
		}
		return "", fmt.Errorf("inference: ONNX Runtime library %s (from $%s) not found", env, LibraryEnv)
	}
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		for _, p := range []string{
			filepath.Join(dir, LibraryName),
			filepath.Join(dir, "third_party", "onnxruntime", LibraryName),
			filepath.Join(dir, "..", "third_party", "onnxruntime", LibraryName),
		} {
			if check(p) {
				return p, nil
			}
		}
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; {
			p := filepath.Join(dir, "third_party", "onnxruntime", LibraryName)
			if check(p) {
				return p, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("inference: ONNX Runtime library %s not found; set $%s or RuntimeConfig.LibraryPath (tried: %s)",
		LibraryName, LibraryEnv, strings.Join(tried, ", "))
}

// probeProvider checks that the named execution provider can be attached to a session and returns
// the provider to use: the requested one, or "cpu" after a logged fallback. Only an unknown name is
// an error. The environment must be initialised.
func probeProvider(name string, logger *slog.Logger) (string, error) {
	switch name {
	case "", ProviderCPU:
		return ProviderCPU, nil
	case ProviderCUDA, ProviderOpenVINO:
	default:
		return "", fmt.Errorf("inference: unknown execution provider %q (want %s, %s or %s)",
			name, ProviderCPU, ProviderCUDA, ProviderOpenVINO)
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return "", fmt.Errorf("inference: session options: %w", err)
	}
	defer destroy(opts)
	if err := appendProvider(opts, name); err != nil {
		logger.Warn("execution provider unavailable, falling back to cpu", "provider", name, "err", err)
		return ProviderCPU, nil
	}
	logger.Info("execution provider available", "provider", name)
	return name, nil
}

// appendProvider attaches the named non-CPU provider to opts.
func appendProvider(opts *ort.SessionOptions, name string) error {
	switch name {
	case ProviderCUDA:
		cuda, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return fmt.Errorf("cuda provider options: %w", err)
		}
		defer destroy(cuda)
		return opts.AppendExecutionProviderCUDA(cuda)
	case ProviderOpenVINO:
		return opts.AppendExecutionProviderOpenVINO(map[string]string{})
	}
	return nil
}

// newSessionOptions returns session options for the started environment's provider and threads.
func newSessionOptions(threads int) (*ort.SessionOptions, error) {
	rt.mu.Lock()
	ready, provider := rt.ready, rt.provider
	if threads <= 0 {
		threads = rt.threads
	}
	rt.mu.Unlock()
	if !ready {
		return nil, ErrNotInitialized
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("inference: session options: %w", err)
	}
	if err := opts.SetIntraOpNumThreads(threads); err != nil {
		return nil, errors.Join(fmt.Errorf("inference: intra-op threads: %w", err), opts.Destroy())
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, errors.Join(fmt.Errorf("inference: inter-op threads: %w", err), opts.Destroy())
	}
	if provider != ProviderCPU {
		if err := appendProvider(opts, provider); err != nil {
			return nil, errors.Join(fmt.Errorf("inference: provider %s: %w", provider, err), opts.Destroy())
		}
	}
	return opts, nil
}
