package ingest

import (
	"bytes"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/mvwatch/mvwatch/internal/testcam"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// eventually polls cond every 10 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: "+msg, append([]any{timeout}, args...)...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sink collects delivered access units and state changes.
type sink struct {
	testcam.Sink
	mu     sync.Mutex
	states []State
}

func (s *sink) onState(st ClientState) {
	s.mu.Lock()
	s.states = append(s.states, st.State)
	s.mu.Unlock()
}

func (s *sink) stateLog() []State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]State(nil), s.states...)
}

// syncBuffer is a goroutine-safe log destination.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// captureLog returns a debug-level logger that writes JSON lines to the returned buffer.
func captureLog() (*slog.Logger, *syncBuffer) {
	b := &syncBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// startCamera starts a test camera on a random loopback port, playing the looped built-in clip unless
// cfg has a source, and closes it at the end of the test.
func startCamera(t *testing.T, cfg testcam.Config) *testcam.Camera {
	t.Helper()
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1:0"
	}
	if cfg.Source == nil {
		cfg.Source = defaultSource(t, true)
	}
	cam := testcam.New(cfg)
	require.NoError(t, cam.Start())
	t.Cleanup(cam.Close)
	return cam
}

// newTestClient makes a client with test-friendly timings and closes it at the end of the test.
func newTestClient(t *testing.T, cfg ClientConfig) *Client {
	t.Helper()
	if cfg.InitialBackoff == 0 {
		cfg.InitialBackoff = 50 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 400 * time.Millisecond
	}
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = 3 * time.Second
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := NewClient(cfg)
	t.Cleanup(func() { c.Close() })
	return c
}

// closedPort returns a loopback address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// udpPortPair finds an even/odd pair of free loopback UDP ports.
func udpPortPair(t *testing.T) (string, string) {
	t.Helper()
	for range 50 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		port := pc.LocalAddr().(*net.UDPAddr).Port
		pc.Close()
		if port%2 == 1 {
			port--
		}
		a, errA := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", itoa(port)))
		b, errB := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", itoa(port+1)))
		if a != nil {
			a.Close()
		}
		if b != nil {
			b.Close()
		}
		if errA == nil && errB == nil {
			return net.JoinHostPort("127.0.0.1", itoa(port)), net.JoinHostPort("127.0.0.1", itoa(port+1))
		}
	}
	t.Fatal("no free UDP port pair")
	return "", ""
}

func itoa(n int) string {
	return strconv.Itoa(n)
}

// startStreamServer starts a bare RTSP server at any path serving desc; tests write RTP packets to the
// returned stream themselves.
func startStreamServer(t *testing.T, desc *description.Session) (*testcam.Server, *gortsplib.ServerStream) {
	t.Helper()
	srv := testcam.NewServer(testcam.ServerConfig{})
	require.NoError(t, srv.Start())
	t.Cleanup(srv.Close)
	stream := &gortsplib.ServerStream{Server: srv.RTSP(), Desc: desc}
	require.NoError(t, stream.Initialize())
	srv.SetStream(stream)
	return srv, stream
}

// defaultSource is the built-in test clip, optionally looped.
func defaultSource(t testing.TB, loop bool) *AnnexBSource {
	t.Helper()
	src, err := NewAnnexBSource(testcam.DefaultClip(), AnnexBOptions{Loop: loop})
	require.NoError(t, err)
	return src
}

// discardLog is a logger that drops everything.
func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
