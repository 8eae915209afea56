package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/httpserver"
	"github.com/mvwatch/mvwatch/internal/natsbus"
	"github.com/mvwatch/mvwatch/internal/redact"
)

// natsNode is this process's part of a NATS fleet: the embedded server (when nats.listen is set),
// the connection and the bus.
type natsNode struct {
	server *natsbus.Server
	conn   *natsbus.Conn
	bus    *natsbus.Bus
}

// NodeName returns nats.node, or the host name made a valid node id.
func NodeName(cfg config.NATS) string {
	if cfg.Node != "" {
		return cfg.Node
	}
	h, _ := os.Hostname()
	h = strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' || r == '-' {
			return r
		}
		return '-'
	}, h)
	if h == "" {
		h = "mvwatch"
	}
	return h[:min(len(h), 64)]
}

// openNATS starts what cfg.NATS says for role: an embedded server when nats.listen is set, a
// connection (to nats.url, or in-process to the embedded server), the streams and buckets, and the
// bus. Errors are clear and carry no credential: an unreachable URL (natsbus.ErrUnreachable),
// refused credentials (natsbus.ErrAuth), a stream made with other settings
// (natsbus.ErrStreamConflict).
func openNATS(ctx context.Context, cfg *config.Config, role Role, reg prometheus.Registerer, log *slog.Logger) (_ *natsNode, err error) {
	nc := cfg.NATS
	if !nc.Enabled() {
		return nil, fmt.Errorf("role %s needs NATS: set nats.url (-nats-url) or run an embedded server with nats.listen (-nats-listen)", role)
	}
	node := NodeName(nc)
	n := &natsNode{}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	m, err := natsbus.NewMetrics(reg, natsbus.StoreConsumer, natsbus.EnrichResultsConsumer,
		natsbus.EnrichConsumer(natsbus.KindCaption), natsbus.EnrichConsumer(natsbus.KindThumbnail))
	if err != nil {
		return nil, err
	}
	if nc.Listen != "" {
		sc := natsbus.ServerConfig{DataDir: cfg.NATSStoreDir(), Name: node, Listen: nc.Listen, ClusterName: nc.ClusterName,
			ClusterListen: nc.ClusterListen, Routes: nc.Routes, User: nc.User, Password: nc.Password, Token: nc.Token,
			SyncAlways: nc.SyncAlways, Logger: log}
		if nc.NKeySeed != "" {
			kp, err := nkeys.FromSeed([]byte(nc.NKeySeed))
			if err != nil {
				return nil, errors.New("nats.nkey_seed does not parse")
			}
			pub, err := kp.PublicKey()
			if err != nil {
				return nil, errors.New("nats.nkey_seed has no public key")
			}
			sc.NKeys = []string{pub}
		}
		if err := os.MkdirAll(cfg.NATSStoreDir(), 0o700); err != nil {
			return nil, fmt.Errorf("nats store: %w", err)
		}
		if n.server, err = natsbus.StartServer(sc); err != nil {
			return nil, err
		}
		if nc.ClusterListen != "" {
			log.Info("embedded NATS server: waiting for the cluster's JetStream (a majority of its servers)", "routes", redactAll(nc.Routes))
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err = n.server.WaitJetStream(wctx)
		cancel()
		if err != nil {
			return nil, err
		}
		log.Info("embedded NATS server ready", "clients", n.server.ClientURL(), "routes", n.server.ClusterURL(), "store", cfg.NATSStoreDir())
	}
	cc := natsbus.ConnConfig{URL: nc.URL, User: nc.User, Password: nc.Password, Token: nc.Token, NKeySeed: nc.NKeySeed,
		Name: fmt.Sprintf("mvwatch %s %s", role, node), Logger: log}
	if nc.URL == "" {
		cc.Server = n.server
	}
	if n.conn, err = natsbus.Connect(ctx, cc, m); err != nil {
		return nil, err
	}
	bc := natsbus.BusConfig{Node: node, Worker: role.worker(), Events: role.events(),
		Streams:   natsbus.StreamsConfig{Replicas: nc.Replicas},
		Publisher: natsbus.PublisherConfig{Buffer: nc.PublishBuffer, Logger: log},
		LeaseTTL:  nc.LeaseTTL.D(), KeepOnNATSLoss: true, Gate: cfg.Gate, Logger: log,
		OnPublished: func(id string) { log.Info("event published", "component", "nats-bus", "event", id) }}
	if bc.Clips, err = natsClips(cfg, reg, log); err != nil {
		return nil, err
	}
	// A cluster still electing its leaders answers "unavailable" for a while: retry that, not a
	// stream made with other settings.
	deadline := time.Now().Add(time.Minute)
	for {
		octx, cancel := context.WithTimeout(ctx, 15*time.Second)
		n.bus, err = natsbus.OpenBus(octx, n.conn, m, bc)
		cancel()
		if err == nil || errors.Is(err, natsbus.ErrStreamConflict) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		log.Warn("NATS streams not ready, retrying", "err", redact.Error(err))
		time.Sleep(time.Second)
	}
	if err != nil {
		return nil, err
	}
	if role.events() {
		if err := reg.Register(n.bus.Collector()); err != nil {
			return nil, fmt.Errorf("nats metrics: %w", err)
		}
	}
	return n, nil
}

// natsClips sizes the clip bucket from the clips section (nil when clips are off): every node of a
// fleet should have the same one, as the bucket's limits follow the node that opened it last.
func natsClips(cfg *config.Config, reg prometheus.Registerer, log *slog.Logger) (*natsbus.ClipsConfig, error) {
	cl := cfg.Clips.WithDefaults()
	if !cl.IsEnabled() {
		return nil, nil
	}
	m, err := natsbus.NewClipMetrics(reg)
	if err != nil {
		return nil, err
	}
	cc := &natsbus.ClipsConfig{MaxBytes: *cl.MaxBytes, TTL: cl.MaxAge.D(), MaxClipBytes: natsbus.ClipObjectLimit(cl.MaxClipBytes),
		Metrics: m, Logger: log}
	return cc, nil
}

func redactAll(urls []string) []string {
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = redact.URL(u)
	}
	return out
}

// close closes the bus, the connection and the server, in that order; nil parts are skipped.
func (n *natsNode) close() {
	if n == nil {
		return
	}
	if n.bus != nil {
		n.bus.Close()
	}
	if n.conn != nil {
		n.conn.Close()
	}
	if n.server != nil {
		n.server.Shutdown()
	}
}

// workerHTTP is a worker's small HTTP server: /metrics (the worker's and the bus's series) and
// /healthz, public as on the events node's API; a worker serves no API.
type workerHTTP struct {
	srv    *http.Server
	ln     net.Listener
	served chan struct{}
}

// serveWorkerHTTP listens on listen.http and serves the worker's metrics.
func serveWorkerHTTP(cfg *config.Config, reg *prometheus.Registry, log *slog.Logger) (*workerHTTP, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	hc := httpserver.Config{MaxConnections: cfg.HTTP.MaxConnections, Log: log, Handler: mux}
	ln, err := httpserver.Listen(cfg.Listen.HTTP, hc)
	if err != nil {
		return nil, fmt.Errorf("worker metrics: %w", err)
	}
	w := &workerHTTP{srv: httpserver.New(hc), ln: ln, served: make(chan struct{})}
	go func() {
		defer close(w.served)
		if err := w.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("worker metrics server", "err", err)
		}
	}()
	return w, nil
}

// Addr is the address it listens on.
func (w *workerHTTP) Addr() string { return w.ln.Addr().String() }

// close stops the server and joins its goroutine.
func (w *workerHTTP) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = w.srv.Shutdown(ctx)
	<-w.served
}
