package httpserver_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/mvwatch/mvwatch/internal/httpserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start serves h with cfg on a loopback port and returns its address.
func start(t *testing.T, cfg httpserver.Config) string {
	t.Helper()
	ln, err := httpserver.Listen("127.0.0.1:0", cfg)
	require.NoError(t, err)
	srv := httpserver.New(cfg)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		require.ErrorIs(t, <-done, http.ErrServerClosed)
	})
	return ln.Addr().String()
}

// closedWithin reports whether the server closes c (a read gives EOF or a reset) within d, after
// whatever response it sends.
func closedWithin(t *testing.T, c net.Conn, d time.Duration) (time.Duration, bool) {
	t.Helper()
	begin := time.Now()
	require.NoError(t, c.SetReadDeadline(begin.Add(d)))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return time.Since(begin), false
	}
	return time.Since(begin), true
}

func readAll(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
}

// TestSlowBodyIsCut: a client that sends headers, then its body a byte at a time (or not at all),
// loses the connection once ReadTimeout is up (before: only ReadHeaderTimeout was set, and a slow
// body held its socket for 83 s and more).
func TestSlowBodyIsCut(t *testing.T) {
	addr := start(t, httpserver.Config{Handler: readAll(nil), ReadTimeout: 300 * time.Millisecond, WriteTimeout: time.Second})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "POST /api/v1/cameras HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"na")
	require.NoError(t, err)
	took, closed := closedWithin(t, c, 3*time.Second)
	require.True(t, closed, "a stalled body still holds the socket after %v", took)
	require.Less(t, took, 2*time.Second)
	t.Logf("stalled body cut after %v (ReadTimeout 300ms)", took.Round(time.Millisecond))
}

// TestIdleKeepAliveIsClosed: a keep-alive connection that sends nothing after its response is closed
// after IdleTimeout.
func TestIdleKeepAliveIsClosed(t *testing.T) {
	addr := start(t, httpserver.Config{Handler: readAll(nil), IdleTimeout: 300 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	require.False(t, res.Close, "keep-alive")
	took, closed := closedWithin(t, c, 3*time.Second)
	require.True(t, closed, "an idle keep-alive socket is still open after %v", took)
	t.Logf("idle keep-alive closed after %v (IdleTimeout 300ms)", took.Round(time.Millisecond))
}

// TestHeadersBounded: a client that never finishes its headers is cut after ReadHeaderTimeout; huge
// headers get 431.
func TestHeadersBounded(t *testing.T) {
	addr := start(t, httpserver.Config{Handler: readAll(nil), ReadHeaderTimeout: 200 * time.Millisecond, MaxHeaderBytes: 4096})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	require.NoError(t, err)
	_, closed := closedWithin(t, c, 3*time.Second)
	require.True(t, closed)

	req, err := http.NewRequest("GET", "http://"+addr+"/", nil)
	require.NoError(t, err)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, res.StatusCode)
	http.DefaultClient.CloseIdleConnections()
}

// TestConnectionCap: beyond MaxConnections a connection is not served until another closes.
func TestConnectionCap(t *testing.T) {
	addr := start(t, httpserver.Config{Handler: readAll(nil), MaxConnections: 2})
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		res.Body.Close()
		held = append(held, c) // kept alive: each holds a slot
	}
	third, err := net.Dial("tcp", addr) // the kernel accepts it; the server does not take it yet
	require.NoError(t, err)
	defer third.Close()
	_, err = io.WriteString(third, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(third)
	require.NoError(t, third.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
	_, err = br.ReadByte()
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "the third connection was served: %v", err)

	held[0].Close()
	require.NoError(t, third.SetReadDeadline(time.Now().Add(3*time.Second)))
	res, err := http.ReadResponse(br, nil)
	require.NoError(t, err, "served once a slot is free")
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
}

// TestStreams: the stream cap answers 429 beyond it, and an admitted stream outlives the server's
// read and write timeouts.
func TestStreams(t *testing.T) {
	stop := make(chan struct{})
	var rejected atomic.Int64
	sse := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		w.Header().Set("Content-Type", "text/event-stream")
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-r.Context().Done():
				return
			case <-stop:
				return
			case <-tick.C:
				if _, err := fmt.Fprintf(w, "data: %d\n\n", i); err != nil {
					return
				}
				if rc.Flush() != nil {
					return
				}
			}
		}
	})
	h := httpserver.Streams(1, httpserver.IsEventStream("/live"), func() { rejected.Add(1) }, sse)
	addr := start(t, httpserver.Config{Handler: h, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	defer close(stop)

	res, err := http.Get("http://" + addr + "/live")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 200, res.StatusCode)

	res2, err := http.Get("http://" + addr + "/live")
	require.NoError(t, err)
	b, _ := io.ReadAll(res2.Body)
	res2.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, res2.StatusCode)
	require.Equal(t, "5", res2.Header.Get("Retry-After"))
	require.Contains(t, string(b), "too many live streams")
	require.Equal(t, int64(1), rejected.Load())

	// The admitted stream is still delivering well after the 200 ms timeouts.
	sc := bufio.NewScanner(res.Body)
	begin := time.Now()
	n := 0
	for time.Since(begin) < 800*time.Millisecond && sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data:") {
			n++
		}
	}
	require.NoError(t, sc.Err())
	require.GreaterOrEqual(t, n, 10, "the stream stalled")
	http.DefaultClient.CloseIdleConnections()
}
