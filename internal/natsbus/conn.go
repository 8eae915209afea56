package natsbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/mvwatch/mvwatch/internal/redact"
)

// ConnConfig configures a client connection to NATS. Credentials are used, never logged: every URL
// that reaches a log line or an error goes through redact.URL.
type ConnConfig struct {
	// URL is one or more nats://host:port URLs, comma separated (a cluster's servers). It is
	// ignored when Server is set.
	URL string
	// Server, when set, connects in-process to this embedded server (no socket).
	Server *Server
	// User and Password, Token, or NKeySeed (an "SU..." user seed) authenticate the connection.
	User     string
	Password string
	Token    string
	NKeySeed string
	// Name names the connection in the server's monitoring (e.g. "mvwatch worker node-1").
	Name string
	// ConnectTimeout bounds the first connection and the JetStream check. It defaults to 5 s.
	ConnectTimeout time.Duration
	// ReconnectWait is the pause between reconnection attempts (jittered). It defaults to 250 ms.
	// The connection retries forever once it was up; only Close ends it.
	ReconnectWait time.Duration
	// Logger receives connection events. It defaults to slog.Default().
	Logger *slog.Logger
}

// Conn is a NATS connection with JetStream.
type Conn struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	m   *Metrics
	log *slog.Logger
}

// ErrAuth marks a connection refused for its credentials (wrong user/password, token or nkey).
var ErrAuth = errors.New("NATS refused the credentials (check user/password, token or nkey)")

// ErrUnreachable marks a first connection that reached no server.
var ErrUnreachable = errors.New("no NATS server reachable")

// Connect connects to NATS as cfg says and checks that JetStream answers. A first connection that
// fails returns at once with a clear error (ErrUnreachable, ErrAuth, or JetStream missing); once up,
// the connection reconnects forever, buffering publishes meanwhile. m may be nil.
func Connect(ctx context.Context, cfg ConnConfig, m *Metrics) (*Conn, error) {
	if m == nil {
		m, _ = NewMetrics(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.ReconnectWait <= 0 {
		cfg.ReconnectWait = 250 * time.Millisecond
	}
	where := redactURLs(cfg.URL)
	if cfg.Server != nil {
		where = "in-process server " + cfg.Server.Name()
	} else if strings.TrimSpace(cfg.URL) == "" {
		return nil, errors.New("natsbus: connect: no NATS URL")
	}
	log := cfg.Logger.With("component", "nats", "nats", where)
	c := &Conn{m: m, log: log}
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.Timeout(cfg.ConnectTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(cfg.ReconnectWait),
		nats.ReconnectJitter(cfg.ReconnectWait/2, cfg.ReconnectWait/2),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return // Close: not an outage
			}
			m.connected.Set(0)
			m.disconnects.Inc()
			log.Warn("NATS disconnected", "err", redact.Error(err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			m.connected.Set(1)
			m.reconnects.Inc()
			log.Info("NATS reconnected", "url", redact.URL(nc.ConnectedUrlRedacted()))
		}),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			log.Warn("NATS error", "err", redact.Error(err))
		}),
	}
	switch {
	case cfg.NKeySeed != "":
		kp, err := nkeys.FromSeed([]byte(cfg.NKeySeed))
		if err != nil {
			return nil, errors.New("natsbus: connect: the nkey seed does not parse")
		}
		pub, err := kp.PublicKey()
		if err != nil {
			return nil, errors.New("natsbus: connect: the nkey seed has no public key")
		}
		opts = append(opts, nats.Nkey(pub, kp.Sign))
	case cfg.Token != "":
		opts = append(opts, nats.Token(cfg.Token))
	case cfg.User != "" || cfg.Password != "":
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	url := cfg.URL
	if cfg.Server != nil {
		opts = append(opts, nats.InProcessServer(cfg.Server.srv))
		url = ""
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		switch {
		case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired),
			strings.Contains(strings.ToLower(err.Error()), "authorization"):
			return nil, fmt.Errorf("natsbus: connect %s: %w", where, ErrAuth)
		case cfg.Server != nil && errors.Is(err, io.ErrClosedPipe):
			// The embedded server closes an in-process connection it does not authorize.
			return nil, fmt.Errorf("natsbus: connect %s: %w", where, ErrAuth)
		case errors.Is(err, nats.ErrNoServers), errors.Is(err, nats.ErrTimeout):
			return nil, fmt.Errorf("natsbus: connect %s: %w (%s)", where, ErrUnreachable, redact.Error(err))
		}
		return nil, fmt.Errorf("natsbus: connect %s: %s", where, redact.Error(err))
	}
	m.connected.Set(1)
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsbus: jetstream on %s: %w", where, err)
	}
	cctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	if _, err := js.AccountInfo(cctx); err != nil {
		nc.Close()
		m.connected.Set(0)
		return nil, fmt.Errorf("natsbus: JetStream on %s does not answer (is it enabled on the server and the account?): %w", where, err)
	}
	c.nc, c.js = nc, js
	if cfg.Server != nil {
		log.Info("NATS connected")
	} else {
		log.Info("NATS connected", "url", redact.URL(nc.ConnectedUrlRedacted()))
	}
	return c, nil
}

// redactURLs redacts each URL of a comma-separated list.
func redactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		parts[i] = redact.URL(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

// NATS returns the underlying connection.
func (c *Conn) NATS() *nats.Conn { return c.nc }

// JetStream returns the connection's JetStream context.
func (c *Conn) JetStream() jetstream.JetStream { return c.js }

// Close closes the connection. Close the publisher, consumers and assigners that use it first.
func (c *Conn) Close() {
	c.nc.Close()
	c.m.connected.Set(0)
}
