// Package httpserver builds mvwatch's HTTP server with every limit set: header, body, write and
// idle timeouts, a header size cap, a cap on open connections, and a cap on long-lived streams
// (Server-Sent Events) that also lifts the timeouts for them alone.
package httpserver

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"
)

// Config configures New and Listen. Zero fields take their defaults.
type Config struct {
	// Handler serves the requests. Required.
	Handler http.Handler
	// ReadHeaderTimeout bounds reading a request's headers. It defaults to 10 seconds.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included, so a slow body is cut. It defaults
	// to 30 seconds.
	ReadTimeout time.Duration
	// WriteTimeout bounds a response (streams lift it, see Streams). It defaults to 60 seconds.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle this long. It defaults to 60 seconds.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps a request's headers. It defaults to 64 KiB.
	MaxHeaderBytes int
	// MaxConnections caps the open connections (Listen); more wait in the accept queue. It defaults
	// to 512.
	MaxConnections int
	// Log receives the server's own errors (TLS handshakes, panics). It defaults to slog.Default().
	Log *slog.Logger
}

// Defaults.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultMaxConnections    = 512
)

func (c *Config) applyDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&c.ReadTimeout, DefaultReadTimeout)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// New returns an http.Server with every timeout and the header cap set; serve it on Listen's
// listener.
func New(c Config) *http.Server {
	c.applyDefaults()
	return &http.Server{
		Handler:           c.Handler,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    c.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(c.Log.Handler(), slog.LevelWarn),
	}
}

// Listen listens on a TCP address and accepts at most c.MaxConnections connections at once.
func Listen(addr string, c Config) (net.Listener, error) {
	c.applyDefaults()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http listen %s: %w", addr, err)
	}
	return netutil.LimitListener(ln, c.MaxConnections), nil
}

// Streams caps the long-lived responses (those isStream reports, e.g. Server-Sent Events) in flight
// at max: one more gets 429 Too Many Requests with a Retry-After. For the streams it admits it lifts
// the server's read and write deadlines (through http.ResponseController): the stream lives until
// its client or the server ends it, and the server's timeouts keep bounding everything else.
// Rejected counts the refused streams (may be nil).
func Streams(max int, isStream func(*http.Request) bool, rejected func(), next http.Handler) http.Handler {
	var open atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isStream(r) {
			next.ServeHTTP(w, r)
			return
		}
		if open.Add(1) > int64(max) {
			open.Add(-1)
			if rejected != nil {
				rejected()
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = fmt.Fprintf(w, "{\"error\":\"too many live streams (at most %d)\"}\n", max)
			return
		}
		defer open.Add(-1)
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Time{}) // an expired read deadline would cancel the request's context
		_ = rc.SetWriteDeadline(time.Time{})
		next.ServeHTTP(w, r)
	})
}

// IsEventStream reports a request for Server-Sent Events: a GET whose path is path.
func IsEventStream(path string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Method == http.MethodGet && r.URL.Path == path }
}

// IsLoopback reports whether a listen address (host:port) is on loopback only: 127.0.0.0/8, ::1 or
// localhost. ":8080" and "0.0.0.0:8080" listen on every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
