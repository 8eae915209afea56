package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/mvwatch/mvwatch/internal/redact"
)

// ServerConfig configures an embedded NATS server with JetStream.
type ServerConfig struct {
	// DataDir is the directory of JetStream's file store (required). A restart on the same
	// directory recovers every stream, consumer and bucket.
	DataDir string
	// Name is the server's name, unique within a cluster. It defaults to "mvwatch".
	Name string
	// Listen is the client listener, host:port (port 0: a free port). Empty (the default): no
	// listening port at all; only in-process connections (Server.Connect) reach the server.
	Listen string
	// ClusterName, ClusterListen and Routes make the server one of a cluster of servers
	// (JetStream clustered, streams replicated as StreamsConfig.Replicas says). ClusterListen is
	// the route listener host:port; Routes are the nats-route://host:port URLs of the other servers
	// (all of them, or a seed). Empty ClusterListen: no cluster.
	ClusterName   string
	ClusterListen string
	Routes        []string
	// User and Password, or Token, when set, are required of every client, in-process included.
	// At most one of the two forms may be set. NKeys lists the public user nkeys ("U...") allowed
	// instead (they may not be combined with User or Token).
	User     string
	Password string
	Token    string
	NKeys    []string
	// SyncAlways makes JetStream fsync each write before acknowledging it. Without it (the
	// default) the file store is fsynced every 2 minutes: an acknowledged message survives a
	// process crash (kill -9) but a machine crash can lose the last ones, unless the streams have
	// 3 replicas on other machines.
	SyncAlways bool
	// MaxStore caps JetStream's file store in bytes; 0: the server's default (a share of the disk).
	MaxStore int64
	// Logger receives the server's notices, warnings and errors (debug and trace are off). It
	// defaults to slog.Default().
	Logger *slog.Logger
	// ReadyTimeout bounds the wait for the server to accept connections. It defaults to 10 s.
	ReadyTimeout time.Duration
}

// Server is an embedded NATS server with JetStream on.
type Server struct {
	srv *server.Server
	cfg ServerConfig
}

// StartServer starts an embedded NATS server as cfg says and waits until it accepts connections.
func StartServer(cfg ServerConfig) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("natsbus: server: a data directory is required")
	}
	if cfg.Name == "" {
		cfg.Name = "mvwatch"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 10 * time.Second
	}
	opts := &server.Options{
		ServerName:        cfg.Name,
		JetStream:         true,
		StoreDir:          cfg.DataDir,
		JetStreamMaxStore: cfg.MaxStore,
		SyncAlways:        cfg.SyncAlways,
		NoSigs:            true,
		DontListen:        cfg.Listen == "",
	}
	if cfg.Listen != "" {
		host, port, err := splitListen(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("natsbus: server listen: %w", err)
		}
		opts.Host, opts.Port = host, port
	}
	if cfg.ClusterListen != "" {
		host, port, err := splitListen(cfg.ClusterListen)
		if err != nil {
			return nil, fmt.Errorf("natsbus: server cluster listen: %w", err)
		}
		opts.Cluster = server.ClusterOpts{Name: cfg.ClusterName, Host: host, Port: port}
		if opts.Cluster.Name == "" {
			opts.Cluster.Name = "mvwatch"
		}
		for _, r := range cfg.Routes {
			u, err := url.Parse(r)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("natsbus: server route %q: not a nats-route://host:port URL", r)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	switch {
	case (cfg.User != "" || cfg.Password != "") && cfg.Token != "":
		return nil, errors.New("natsbus: server: set a user and password or a token, not both")
	case len(cfg.NKeys) > 0 && (cfg.User != "" || cfg.Token != ""):
		return nil, errors.New("natsbus: server: nkeys cannot be combined with a user or a token")
	}
	opts.Username, opts.Password, opts.Authorization = cfg.User, cfg.Password, cfg.Token
	for _, k := range cfg.NKeys {
		opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: k})
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsbus: server: %w", err)
	}
	srv.SetLogger(&serverLogger{log: cfg.Logger.With("component", "nats-server", "server", cfg.Name)}, false, false)
	srv.Start()
	if !srv.ReadyForConnections(cfg.ReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("natsbus: server %s not ready after %v (store %s)", cfg.Name, cfg.ReadyTimeout, cfg.DataDir)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("natsbus: server %s: JetStream did not start (store %s)", cfg.Name, cfg.DataDir)
	}
	return &Server{srv: srv, cfg: cfg}, nil
}

// splitListen parses host:port; port 0 becomes the server's "any free port".
func splitListen(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: bad port", addr)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// ClientURL returns the nats://host:port URL of the client listener, or "" when the server has none.
func (s *Server) ClientURL() string {
	if s.cfg.Listen == "" {
		return ""
	}
	return s.srv.ClientURL()
}

// ClusterURL returns the nats-route://host:port URL of the route listener, or "" without a cluster.
func (s *Server) ClusterURL() string {
	if s.cfg.ClusterListen == "" {
		return ""
	}
	a := s.srv.ClusterAddr()
	if a == nil {
		return ""
	}
	return "nats-route://" + net.JoinHostPort(a.IP.String(), strconv.Itoa(a.Port))
}

// WaitJetStream waits until JetStream is ready for streams: at once for a single server; in a
// cluster, until the servers have elected a meta leader (which needs a majority of them up). It
// returns the last health error when ctx ends first.
func (s *Server) WaitJetStream(ctx context.Context) error {
	for {
		h := s.srv.Healthz(&server.HealthzOptions{JSMetaOnly: true})
		if h.Status == "ok" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("natsbus: server %s: JetStream not ready (%s): %w", s.cfg.Name, h.Error, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Name returns the server's name.
func (s *Server) Name() string { return s.cfg.Name }

// Shutdown stops the server and waits until it has stopped (its store flushed and closed). It is safe
// to call more than once.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}

// serverLogger forwards the server's log lines to slog.
type serverLogger struct{ log *slog.Logger }

// Every line goes through redact.Text: a route or client URL in it keeps no credentials.
func (l *serverLogger) line(level slog.Level, format string, v []any) {
	l.log.Log(context.Background(), level, redact.Text(fmt.Sprintf(format, v...)))
}

func (l *serverLogger) Noticef(format string, v ...any) { l.line(slog.LevelInfo, format, v) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.line(slog.LevelWarn, format, v) }
func (l *serverLogger) Fatalf(format string, v ...any)  { l.line(slog.LevelError, format, v) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.line(slog.LevelError, format, v) }
func (l *serverLogger) Debugf(format string, v ...any)  { l.line(slog.LevelDebug, format, v) }
func (l *serverLogger) Tracef(format string, v ...any)  { l.line(slog.LevelDebug, format, v) }
