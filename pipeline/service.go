package pipeline

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

	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/liveview"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/queue"
	"github.com/mvwatch/mvwatch/internal/restream"
	"github.com/mvwatch/mvwatch/mvextract"
	"github.com/mvwatch/mvwatch/web"
)

// ServiceOptions configures a Service.
type ServiceOptions struct {
	// Config is the validated configuration. Required.
	Config *config.Config
	// Classifier runs the model on clips. Required.
	Classifier Classifier
	// Features is the feature configuration the model takes (Model.Features).
	Features mvextract.FeatureSpec
	// IdleLabels are the model labels that are no event (e.g. "idle"). It defaults to {"idle"}.
	IdleLabels []string
	// Registry receives every metric and serves /metrics. Required.
	Registry *prometheus.Registry
	// Metrics are the service's metrics, registered on Registry. It defaults to NewMetrics(Registry);
	// pass them when something else (the model) feeds them too.
	Metrics *Metrics
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// EventQueue bounds the events waiting to be stored. It defaults to 4096.
	EventQueue int
	// Captions, when set, captions every stored event (see OpenStages). The Service owns it: Close
	// (or a failed NewService or Start) closes it.
	Captions *CaptionStage
	// Thumbnails, when set, draws a thumbnail for every stored event (see OpenStages). The Service owns
	// it like Captions.
	Thumbnails *ThumbnailStage
}

// Service is `mvwatch serve`: the cameras (Fleet), the event path (store, live hub, webhooks), the HTTP
// API and the RTSP restream server. Events flow one way: camera runners -> event queue -> writer
// goroutine -> store (durable, acknowledged) -> live subscribers and webhooks -> caption and thumbnail
// stages (bounded queues that drop, never wait). A stage's result is stored on the event and sent to
// live subscribers as an update; webhooks get the event once, at detection.
type Service struct {
	opts     ServiceOptions
	cfg      *config.Config
	log      *slog.Logger
	metrics  *Metrics
	store    *Store
	hub      *Hub
	webhooks *WebhookSink
	fleet    *Fleet
	restream *restream.Server
	live     *liveview.Hub // WebRTC (WHEP) live view for the dashboard
	api      *API
	captions *CaptionStage
	thumbs   *ThumbnailStage
	http     *http.Server
	httpLn   net.Listener

	events     *queue.Queue[Event]
	writerDone chan struct{}
	cancel     context.CancelFunc
	closeOnce  sync.Once
	closeErr   error
}

// NewService opens the store and builds the service; Start makes it listen and starts the cameras.
func NewService(opts ServiceOptions) (_ *Service, err error) {
	defer func() {
		if err != nil {
			err = errors.Join(err, closeStages(opts.Captions, opts.Thumbnails))
		}
	}()
	if opts.Config == nil || opts.Classifier == nil || opts.Registry == nil {
		return nil, errors.New("pipeline: ServiceOptions needs Config, Classifier and Registry")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.EventQueue <= 0 {
		opts.EventQueue = 4096
	}
	if len(opts.IdleLabels) == 0 {
		opts.IdleLabels = []string{"idle"}
	}
	cfg := opts.Config
	s := &Service{opts: opts, cfg: cfg, log: opts.Logger, writerDone: make(chan struct{}),
		captions: opts.Captions, thumbs: opts.Thumbnails}
	s.metrics = opts.Metrics
	if s.metrics == nil {
		if s.metrics, err = NewMetrics(opts.Registry); err != nil {
			return nil, err
		}
	}
	so := StoreOptions{Logger: s.log}
	if cfg.Store.MaxAge != nil {
		so.MaxAge = cfg.Store.MaxAge.D()
	}
	if cfg.Store.MaxEvents != nil {
		so.MaxEvents = *cfg.Store.MaxEvents
	}
	if s.store, err = OpenStore(cfg.Store.Path, so); err != nil {
		return nil, err
	}
	s.hub = NewHub(256, s.metrics)
	s.webhooks = NewWebhookSink(cfg.Webhooks, WebhookOptions{Metrics: s.metrics, Logger: s.log})
	s.events = queue.New[Event](opts.EventQueue, queue.Options{
		Drops: s.metrics.QueueDrops.WithLabelValues("events", ""),
		Depth: s.metrics.QueueDepth.WithLabelValues("events", ""),
	})
	idle := map[string]bool{}
	for _, l := range opts.IdleLabels {
		idle[l] = true
	}
	s.restream = restream.New(restream.Config{Address: cfg.Listen.RTSP, Log: s.log})
	if s.live, err = liveview.New(liveview.Config{Log: s.log}); err != nil {
		return nil, errors.Join(err, s.store.Close())
	}
	deps := &cameraDeps{
		features:   opts.Features,
		classifier: opts.Classifier,
		thresholds: cfg.Thresholds,
		idleLabels: idle,
		publish:    s.publish,
		metrics:    s.metrics,
		log:        s.log,
		jobQueue:   4,
		onAccessUnit: func(camera string, au media.AccessUnit) {
			_ = s.restream.WriteAccessUnit(camera, au) // a camera without viewers is no error worth a log line
			s.live.WriteAccessUnit(camera, au)
		},
		onRemove: func(camera string) { s.restream.RemoveCamera(camera); s.live.RemoveCamera(camera) },
	}
	s.fleet = newFleet(cfg.Gate, deps)
	s.api = NewAPI(APIOptions{
		Token:    cfg.APIToken,
		Cameras:  s.fleet,
		Events:   s.store,
		Hub:      s.hub,
		Gatherer: opts.Registry,
		Metrics:  s.metrics,
		Gate:     cfg.Gate,
		Logger:   s.log,
	})
	if s.thumbs != nil {
		s.thumbs.deliver = s.onThumbnail
	}
	return s, nil
}

// closeStages closes the stages that are set.
func closeStages(c *CaptionStage, t *ThumbnailStage) error {
	var errs []error
	if c != nil {
		errs = append(errs, c.Close())
	}
	if t != nil {
		errs = append(errs, t.Close())
	}
	return errors.Join(errs...)
}

// Start listens on the HTTP and RTSP addresses, starts the event writer and the configured cameras.
// A camera that fails to start is logged and shown as failed; the others run.
func (s *Service) Start() error {
	fail := func(err error) error {
		return errors.Join(err, closeStages(s.captions, s.thumbs), s.store.Close())
	}
	if s.captions != nil {
		if err := s.captions.start(s.onCaption); err != nil {
			return fail(err)
		}
	}
	ln, err := net.Listen("tcp", s.cfg.Listen.HTTP)
	if err != nil {
		return fail(fmt.Errorf("http listen %s: %w", s.cfg.Listen.HTTP, err))
	}
	if err := s.restream.Start(); err != nil {
		ln.Close()
		return fail(fmt.Errorf("rtsp restream: %w", err))
	}
	s.httpLn = ln
	s.http = &http.Server{Handler: web.MountToken(s.api, s.cfg.APIToken, s.live.Handler(web.LivePrefix)), ReadHeaderTimeout: 10 * time.Second} // dashboard at /, session login
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server", "err", err)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.writeEvents(ctx)
	for _, cam := range s.cfg.Cameras {
		if err := s.fleet.Add(context.Background(), cam); err != nil {
			s.log.Error("camera not started", "camera", cam.Name, "err", err)
		}
	}
	return nil
}

// HTTPAddr is the address the API listens on (useful with port 0).
func (s *Service) HTTPAddr() string { return s.httpLn.Addr().String() }

// RTSPAddr is the address of the restream server.
func (s *Service) RTSPAddr() string { return s.restream.Addr() }

// Fleet returns the camera manager.
func (s *Service) Fleet() *Fleet { return s.fleet }

// Store returns the event store.
func (s *Service) Store() *Store { return s.store }

// publish queues an event for the writer; a full queue drops it with an error log (never blocks a
// camera).
func (s *Service) publish(ev Event) {
	if !s.events.Push(ev) {
		s.log.Error("event queue full, event dropped", "camera", ev.Camera, "label", ev.Label)
	}
}

// writeEvents stores each event durably, then fans it out to live subscribers and webhooks. It drains
// the queue when ctx ends, so events published before Close are not lost.
func (s *Service) writeEvents(ctx context.Context) {
	defer close(s.writerDone)
	write := func(ev Event) {
		start := time.Now()
		if err := s.store.Publish(context.Background(), ev); err != nil {
			s.log.Error("event not stored", "camera", ev.Camera, "err", err)
			return
		}
		s.metrics.StoreWriteSeconds.Observe(time.Since(start).Seconds())
		s.metrics.Events.WithLabelValues(ev.Camera, ev.Label).Inc()
		s.metrics.EventLatency.Observe(time.Since(ev.End).Seconds())
		ev.Keyframe = nil
		_ = s.hub.Publish(ctx, ev)
		_ = s.webhooks.Publish(ctx, ev)
		s.enrich(ev)
	}
	for {
		ev, err := s.events.Pop(ctx)
		if err != nil {
			for {
				ev, ok := s.events.TryPop()
				if !ok {
					return
				}
				write(ev)
			}
		}
		write(ev)
	}
}

// enrich submits a stored event to the caption and thumbnail stages; neither waits. Both start from
// the event itself (the thumbnail prompt comes from the label, not the caption), so they run side by
// side.
func (s *Service) enrich(ev Event) {
	if s.captions == nil && s.thumbs == nil {
		return
	}
	cam, _ := s.fleet.Get(ev.Camera) // a camera removed since: no zone, the default scene
	if s.captions != nil {
		s.captions.submit(ev, cam.Zone)
	}
	if s.thumbs != nil {
		s.thumbs.submit(ev, cam.Scene)
	}
}

// onCaption stores a caption on its event and sends the updated event to live subscribers. It runs on
// the caption stage's worker.
func (s *Service) onCaption(id, text string) {
	ev, err := s.store.SetCaption(context.Background(), id, text)
	s.updated("caption", ev, err)
}

// onThumbnail stores a thumbnail apart from its event, sets the event's thumbnail_ref and sends the
// updated event to live subscribers. It runs on the thumbnail stage's worker.
func (s *Service) onThumbnail(id string, png []byte) {
	ev, err := s.store.SetThumbnail(context.Background(), id, png)
	s.updated("thumbnail", ev, err)
}

// updated counts a stage's store update and publishes the updated event live.
func (s *Service) updated(kind string, ev Event, err error) {
	if err != nil {
		s.metrics.EventUpdates.WithLabelValues(kind, "failed").Inc()
		// ErrNotFound: retention removed the event meanwhile.
		s.log.Warn("event update not stored", "kind", kind, "err", err)
		return
	}
	s.metrics.EventUpdates.WithLabelValues(kind, "stored").Inc()
	ev.update = true
	_ = s.hub.Publish(context.Background(), ev)
}

// Close shuts down gracefully: cameras stop and publish their open events, the writer stores every
// queued event, the caption and thumbnail stages stop (events still queued there keep no caption or
// thumbnail), live streams end, the HTTP server stops, webhooks drain and the store closes.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var errs []error
		s.fleet.Close()
		if s.cancel != nil {
			s.cancel()
			<-s.writerDone
		}
		// The stages' workers end here, so no update reaches the store after it closes.
		errs = append(errs, closeStages(s.captions, s.thumbs))
		s.hub.Close() // ends the live streams, so the HTTP server can shut down
		if s.http != nil {
			errs = append(errs, s.http.Shutdown(ctx))
		}
		s.restream.Close()
		errs = append(errs, s.live.Close())
		s.webhooks.Close()
		errs = append(errs, s.store.Close())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
