package natsbus

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testLog collects log output so that tests can check what was (not) logged.
type testLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *testLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startServer starts an embedded server on dir, stopped at the test's end.
func startServer(t *testing.T, cfg ServerConfig) *Server {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := StartServer(cfg)
	require.NoError(t, err)
	t.Cleanup(s.Shutdown)
	return s
}

// connect connects to s in-process (or to url when s is nil), closed at the test's end.
func connect(t *testing.T, cfg ConnConfig, m *Metrics) *Conn {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := Connect(context.Background(), cfg, m)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// freeAddr returns a loopback host:port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func itoa(i int) string { return strconv.Itoa(i) }

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// recorder is a consumer handler that records each message id, like the store (dedup by id).
type recorder struct {
	mu    sync.Mutex
	seen  map[string]int
	total int
	fail  func(Msg) bool
}

func newRecorder() *recorder { return &recorder{seen: map[string]int{}} }

func (r *recorder) handle(_ context.Context, m Msg) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil && r.fail(m) {
		return errTest
	}
	r.seen[m.ID]++
	r.total++
	return nil
}

func (r *recorder) unique() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[id]
}

type testErr string

func (e testErr) Error() string { return string(e) }

const errTest = testErr("handler failed (test)")
