// Package app is mvwatch's one assembly: it builds the camera worker (pipeline.Fleet and the RTSP
// restream), the bus between them and the event service (store, live hub, webhooks, enrichment, HTTP
// API) from a validated config, starts them in order, and closes each exactly once in reverse.
// `mvwatch serve` and `mvwatch bench serve` both use it.
//
// Life cycle: New builds and registers metrics but starts nothing; Start listens and starts every
// goroutine (a failed Start closes what it started and leaks nothing); Close shuts down gracefully and
// joins every goroutine; Wait blocks until Close has finished.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mvwatch/mvwatch/internal/api"
	"github.com/mvwatch/mvwatch/internal/auth"
	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/clip"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/decodelimit"
	"github.com/mvwatch/mvwatch/internal/enrich"
	"github.com/mvwatch/mvwatch/internal/httpserver"
	"github.com/mvwatch/mvwatch/internal/livehub"
	"github.com/mvwatch/mvwatch/internal/liveview"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/mqtt"
	"github.com/mvwatch/mvwatch/internal/queue"
	"github.com/mvwatch/mvwatch/internal/restream"
	"github.com/mvwatch/mvwatch/internal/session"
	"github.com/mvwatch/mvwatch/internal/store"
	"github.com/mvwatch/mvwatch/internal/webhook"
	"github.com/mvwatch/mvwatch/mvextract"
	"github.com/mvwatch/mvwatch/pipeline"
)

// Options configures an App.
type Options struct {
	// Config is the validated configuration. Required.
	Config *config.Config
	// Role is what to run. It defaults to RoleBoth. A worker-only and an events-only App talk through
	// a Bus given to both (in one process, a shared bus.Local; across processes, a natsbus.Bus each).
	Role Role
	// Bus connects the worker and the event service. It defaults to an in-process bus.Local, which
	// the App owns: Close closes it and the writer stores what it still holds. A Bus given here is not
	// closed; events still in it at Close stay there (for the next consumer). On a bus.AckBus
	// (natsbus.Bus) the writer acknowledges each event after the store's write; a bus.Assigning bus
	// runs the cameras it assigns instead of the config's, which the event service seeds into a
	// bus.CameraSeeder's camera set.
	Bus bus.Bus
	// Classifier runs the model on clips. Required for the worker.
	Classifier pipeline.Classifier
	// Features is the feature configuration the model takes (pipeline.Model.Features).
	Features mvextract.FeatureSpec
	// IdleLabels are the model labels that are no event. It defaults to {"idle"}.
	IdleLabels []string
	// Registry receives every metric and serves /metrics. Required.
	Registry *prometheus.Registry
	// WorkerMetrics are the camera worker's metrics, registered on Registry. It defaults to
	// pipeline.NewMetrics(Registry); pass them when something else (the model) feeds them too.
	WorkerMetrics *pipeline.Metrics
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// EventQueue bounds the events waiting to be stored. It defaults to 4096.
	EventQueue int
	// EventGap is how far apart two clips may be and still extend the same event
	// (pipeline.FleetOptions.EventGap). It defaults to 2 seconds.
	EventGap time.Duration
	// Captions, when set, captions every stored event (enrich.Open). On a NATS bus it runs the
	// caption jobs of the MVWATCH_ENRICH work queue instead, whatever the role (the events node
	// queues them). The App owns it: Close (or a failed New or Start) closes it.
	Captions *enrich.Captions
	// Thumbnails, when set, draws a thumbnail for every stored event. The App owns it like Captions.
	Thumbnails *enrich.Thumbnails
	// Labels are the model's event labels (idle ones excluded), for MQTT's per-label sensors. It
	// defaults to none.
	Labels []string
	// Version is reported to MQTT / Home Assistant. It defaults to empty.
	Version string
	// LoadConfig loads the config file again, as at start: SIGHUP (Serve) and POST
	// /api/v1/config/reload use it with ReloadFile. It defaults to nil: no reload.
	LoadConfig func() (*config.Config, error)
}

// App is one mvwatch process: see the package documentation.
type App struct {
	opts Options
	cfg  *config.Config
	log  *slog.Logger
	role Role
	bus  bus.Bus
	// users and authM authenticate the API (events) and the restream (worker).
	users *auth.Users
	authM *auth.Metrics

	// The worker.
	wmetrics *pipeline.Metrics
	fleet    *pipeline.Fleet
	restream *restream.Server
	live     *liveview.Hub // the dashboard's WebRTC live view; nil unless both roles run here
	clips    *clip.Service // event clips; nil when off

	// The event service.
	metrics  *metrics
	storeM   *store.Metrics
	store    *store.Store
	hub      *livehub.Hub
	sessions *session.Store // the dashboard's browser sessions
	webhooks *webhook.Sink
	apiM     *api.Metrics
	api      *api.API
	captions *enrich.Captions
	thumbs   *enrich.Thumbnails
	mqtt     *mqtt.Publisher // nil unless mqtt.url is set
	// updateMu makes a stage's store write and its live update one step, so that live "update"s
	// arrive in store order and each carries what earlier ones had (a caption and a thumbnail
	// finishing together would otherwise race).
	updateMu sync.Mutex
	// fileCfg is the config as last loaded from the file (Reload compares against it); reloadMu
	// serialises reloads.
	fileCfg  *config.Config
	reloadMu sync.Mutex
	http     *http.Server
	httpLn   net.Listener

	// closers undo what Start started, in reverse order.
	closers  []func() error
	served   chan struct{} // closed when the HTTP server's goroutine returns
	started  bool
	stopOnce sync.Once
	stopErr  error
	done     chan struct{}
}

// New builds an App and registers its metrics; it starts nothing.
func New(opts Options) (_ *App, err error) {
	defer func() {
		if err != nil {
			err = errors.Join(err, closeStages(opts.Captions, opts.Thumbnails))
		}
	}()
	if opts.Role == "" {
		opts.Role = RoleBoth
	}
	if opts.Config == nil || opts.Registry == nil {
		return nil, errors.New("app: Options needs Config and Registry")
	}
	if !opts.Role.worker() && !opts.Role.events() {
		return nil, fmt.Errorf("app: unknown role %q (want both, worker or events)", opts.Role)
	}
	if opts.Role != RoleBoth && opts.Bus == nil {
		return nil, fmt.Errorf("app: role %s needs a Bus shared with the other role", opts.Role)
	}
	if opts.Role.worker() && opts.Classifier == nil {
		return nil, errors.New("app: the worker needs a Classifier")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	cfg := opts.Config
	a := &App{opts: opts, cfg: cfg, fileCfg: cfg, log: opts.Logger, role: opts.Role, done: make(chan struct{}),
		captions: opts.Captions, thumbs: opts.Thumbnails}
	if a.users, err = auth.FromConfig(cfg); err != nil {
		return nil, err
	}
	if a.authM, err = auth.NewMetrics(opts.Registry); err != nil {
		return nil, err
	}
	a.wmetrics = opts.WorkerMetrics
	if a.wmetrics == nil && (opts.Role.worker() || opts.Bus == nil) { // the worker's, and the own bus's queue series
		if a.wmetrics, err = pipeline.NewMetrics(opts.Registry); err != nil {
			return nil, err
		}
	}
	a.bus = opts.Bus
	if a.bus == nil {
		a.bus = bus.NewLocal(bus.LocalOptions{EventQueue: opts.EventQueue, Queue: queue.Options{
			Drops: a.wmetrics.QueueDrops.WithLabelValues("events", ""),
			Depth: a.wmetrics.QueueDepth.WithLabelValues("events", ""),
		}})
	}
	if opts.Role.events() {
		if err := a.newEvents(); err != nil {
			return nil, err
		}
	}
	if opts.Role.worker() {
		a.restream = restream.New(restream.Config{Address: cfg.Listen.RTSP, UDPAddress: udpAddress(cfg.Listen.RTSPUDP),
			Users: a.users, Metrics: a.authM, Log: a.log})
		if opts.Role.events() { // the live view is served by this process's HTTP server
			if a.live, err = liveview.New(liveview.Config{Log: a.log}); err != nil {
				return nil, err
			}
		}
		limitMetrics, err := decodelimit.NewMetrics(opts.Registry)
		if err != nil {
			return nil, err
		}
		if err := a.newClips(); err != nil {
			return nil, err
		}
		a.fleet, err = pipeline.NewFleet(pipeline.FleetOptions{
			Bus: a.bus, Limits: decodelimit.FromConfig(cfg.Decode), LimitMetrics: limitMetrics, Classifier: opts.Classifier, Features: opts.Features, Gate: cfg.Gate,
			Thresholds: cfg.Thresholds, IdleLabels: opts.IdleLabels, Metrics: a.wmetrics, Logger: a.log, EventGap: opts.EventGap,
			PreGate:     &cfg.PreGate,
			Clips:       a.clips,
			DialContext: (&net.Dialer{Timeout: 10 * time.Second, Control: cfg.CameraPolicy.DialControl}).DialContext,
			OnAccessUnit: func(camera string, au media.AccessUnit) {
				_ = a.restream.WriteAccessUnit(camera, au) // a camera without viewers is no error worth a log line
				if a.live != nil {
					a.live.WriteAccessUnit(camera, au)
				}
			},
			OnRemove: func(camera string) {
				a.restream.RemoveCamera(camera)
				if a.live != nil {
					a.live.RemoveCamera(camera)
				}
				if a.metrics != nil {
					a.metrics.forgetCamera(camera)
				}
			},
		})
		if err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Start opens the store, listens on the HTTP and RTSP addresses and starts the event writer, the
// webhooks, the stages and the configured cameras. A camera that fails to start is logged and shown as
// failed; the others run. When Start fails it has closed everything (the stages too) and left no
// goroutine behind; Close then returns at once.
func (a *App) Start() (err error) {
	if a.started {
		return errors.New("app: Start called twice")
	}
	a.started = true
	defer func() {
		if err != nil {
			err = errors.Join(err, a.shutdown())
		}
	}()
	// The stages are closed last in shutdown order (after the writer, before the store).
	a.closers = append(a.closers, func() error { return closeStages(a.captions, a.thumbs) })
	a.warnOpen()
	if err := a.startClips(); err != nil { // before the API (which serves them) and the cameras
		return err
	}
	if a.role.events() {
		if err := a.startEvents(); err != nil {
			return err
		}
	}
	if err := a.startEnrichJobs(); err != nil { // NATS: this node's stages run the work queue's jobs
		return err
	}
	if a.role.worker() {
		if err := a.restream.Start(); err != nil {
			return fmt.Errorf("rtsp restream: %w", err)
		}
		a.closers = append(a.closers, func() error { a.restream.Close(); return nil })
		if a.live != nil {
			a.closers = append(a.closers, a.live.Close) // after the cameras (closers run in reverse)
		}
		a.bus.ServeCameras(a.fleet)
		a.closers = append(a.closers, func() error { a.fleet.Close(); return nil })
		if bus.AssignsCameras(a.bus) {
			return nil // the bus adds the cameras this worker leases (NATS)
		}
		for _, cam := range a.startCameras() {
			if err := a.fleet.Add(context.Background(), cam); err != nil {
				a.log.Error("camera not started", "camera", cam.Name, "err", err)
			}
		}
	}
	return nil
}

// warnOpen warns when no credential is configured and the API or the restream listens beyond
// loopback.
func (a *App) warnOpen() {
	if a.cfg.AuthConfigured() {
		return
	}
	if (a.role.events() && !httpserver.IsLoopback(a.cfg.Listen.HTTP)) || (a.role.worker() && !httpserver.IsLoopback(a.cfg.Listen.RTSP)) {
		a.log.Warn("no users or api_token configured: the HTTP API and the restream are open to anyone who can reach them",
			"http", a.cfg.Listen.HTTP, "rtsp", a.cfg.Listen.RTSP)
	}
}

// udpAddress maps listen.rtsp_udp to the restream's UDPAddress (config.UDPOff: none).
func udpAddress(a string) string {
	if a == config.UDPOff {
		return ""
	}
	return a
}

// HTTPAddr is the address the API listens on (useful with port 0); empty before Start.
func (a *App) HTTPAddr() string {
	if a.httpLn == nil {
		return ""
	}
	return a.httpLn.Addr().String()
}

// RTSPAddr is the address of the restream server; empty without a worker.
func (a *App) RTSPAddr() string {
	if a.restream == nil {
		return ""
	}
	return a.restream.Addr()
}

// Fleet returns the cameras (nil without a worker).
func (a *App) Fleet() *pipeline.Fleet { return a.fleet }

// Store returns the event store (nil before Start and without the event service).
func (a *App) Store() *store.Store { return a.store }

// Close shuts down gracefully, in this order: cameras stop and publish their open events, the writer
// stores every queued event, the HTTP server (live streams first) stops, the webhooks drain, the
// restream stops, the caption and thumbnail stages stop (events still queued there keep no caption or
// thumbnail) and the store closes. Everything is closed exactly once; later calls return the same
// error.
func (a *App) Close() error {
	return a.shutdown()
}

func (a *App) shutdown() error {
	a.stopOnce.Do(func() {
		defer close(a.done)
		if !a.started {
			a.stopErr = closeStages(a.captions, a.thumbs)
			return
		}
		var errs []error
		for i := len(a.closers) - 1; i >= 0; i-- {
			errs = append(errs, a.closers[i]())
		}
		a.closers = nil
		a.stopErr = errors.Join(errs...)
	})
	return a.stopErr
}

// Wait blocks until Close (or a failed Start) has finished and returns its error.
func (a *App) Wait() error {
	<-a.done
	return a.stopErr
}
