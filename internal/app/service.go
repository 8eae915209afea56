package app

// The event service part of the App: building it (newEvents) and starting it (startEvents).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mvwatch/mvwatch/internal/api"
	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/enrich"
	"github.com/mvwatch/mvwatch/internal/httpserver"
	"github.com/mvwatch/mvwatch/internal/livehub"
	"github.com/mvwatch/mvwatch/internal/mqtt"
	"github.com/mvwatch/mvwatch/internal/store"
	"github.com/mvwatch/mvwatch/internal/webhook"
)

// newEvents builds the event service's parts; none starts a goroutine.
func (a *App) newEvents() error {
	reg := a.opts.Registry
	var err error
	if a.metrics, err = newMetrics(reg); err != nil {
		return err
	}
	if a.storeM, err = store.NewMetrics(reg); err != nil {
		return err
	}
	hm, err := livehub.NewMetrics(reg)
	if err != nil {
		return err
	}
	a.hub = livehub.New(256, hm)
	a.sessions = newSessions(a.users)
	wm, err := webhook.NewMetrics(reg)
	if err != nil {
		return err
	}
	a.webhooks = webhook.New(a.cfg.Webhooks, webhook.Options{Metrics: wm, Logger: a.log, PublicURL: a.cfg.PublicURL})
	if a.apiM, err = api.NewMetrics(reg); err != nil {
		return err
	}
	for _, kind := range []string{"caption", "thumbnail"} {
		for _, r := range []string{"stored", "failed", "duplicate"} {
			a.metrics.updates.WithLabelValues(kind, r)
		}
	}
	for _, c := range a.cfg.Cameras {
		a.metrics.initCamera(c.Name, a.opts.Labels)
	}
	if a.cfg.MQTT.Enabled() {
		a.mqtt, err = mqtt.New(a.cfg.MQTT, mqtt.Options{Labels: a.opts.Labels, States: a.cameraStates,
			Version: a.opts.Version, Logger: a.log, Registerer: reg})
		if err != nil {
			return fmt.Errorf("mqtt: %w", err)
		}
	}
	return nil
}

// cameraStates lists every camera's state, for MQTT.
func (a *App) cameraStates() []bus.CameraState {
	cams := a.bus.Cameras()
	var out []bus.CameraState
	for _, c := range cams.List() {
		if st, err := cams.State(c.Name); err == nil {
			out = append(out, st)
		}
	}
	return out
}

// closeStages closes the stages that are set.
func closeStages(c *enrich.Captions, t *enrich.Thumbnails) error {
	var errs []error
	if c != nil {
		errs = append(errs, c.Close())
	}
	if t != nil {
		errs = append(errs, t.Close())
	}
	return errors.Join(errs...)
}

// startEvents starts the event service: store, stages, webhooks, HTTP server and event writer.
func (a *App) startEvents() error {
	so := store.Options{Logger: a.log, Metrics: a.storeM}
	if a.cfg.Store.MaxAge != nil {
		so.MaxAge = a.cfg.Store.MaxAge.D()
	}
	if a.cfg.Store.MaxEvents != nil {
		so.MaxEvents = *a.cfg.Store.MaxEvents
	}
	st, err := store.Open(a.cfg.Store.Path, so)
	if err != nil {
		return err
	}
	a.store = st
	// Closed after everything that writes to it (closers run in reverse).
	a.closers = append([]func() error{st.Close}, a.closers...)
	cams := a.bus.Cameras()
	if seeder, ok := cams.(bus.CameraSeeder); ok {
		// A shared camera set (NATS): the configured cameras join it unless it has them already.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := seeder.SeedCameras(ctx, a.startCameras())
		cancel()
		if err != nil {
			a.log.Error("configured cameras not all added to the camera set", "err", err)
		}
	}
	if cams != nil {
		cams = savedCameras{Cameras: cams, store: st}
	}
	a.api = api.New(api.Options{
		Users:        a.users,
		AuthMetrics:  a.authM,
		AllowedHosts: a.cfg.HTTP.AllowedHosts,
		CameraPolicy: a.cfg.CameraPolicy,
		Cameras:      cams,
		Events:       st,
		Clips:        a.clipReader(),
		Hub:          a.hub,
		Gatherer:     a.opts.Registry,
		Metrics:      a.apiM,
		Gate:         a.cfg.Gate,
		Logger:       a.log,
		Reload:       a.reloadHandler(),
		Session:      a.sessions,
		SessionAuth:  a.sessionIdentity,
		LiveView:     a.liveHandler(),
	})
	a.webhooks.Start()
	a.closers = append(a.closers, func() error { a.webhooks.Close(); return nil })
	if a.mqtt != nil {
		if err := a.mqtt.Start(context.Background()); err != nil {
			return fmt.Errorf("mqtt: %w", err)
		}
		a.closers = append(a.closers, func() error { a.mqtt.Close(); return nil })
	}
	if a.thumbs != nil {
		a.thumbs.Start(a.onThumbnail)
	}
	if a.captions != nil {
		if err := a.captions.Start(a.onCaption); err != nil {
			return err
		}
	}
	hc := httpserver.Config{MaxConnections: a.cfg.HTTP.MaxConnections, Log: a.log,
		Handler: httpserver.Streams(a.cfg.HTTP.MaxSSESubscribers, httpserver.IsEventStream("/api/v1/events/live"), nil, a.handler())}
	ln, err := httpserver.Listen(a.cfg.Listen.HTTP, hc)
	if err != nil {
		return err
	}
	a.httpLn = ln
	a.http = httpserver.New(hc)
	a.served = make(chan struct{})
	go func() {
		defer close(a.served)
		if err := a.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http server", "err", err)
		}
	}()
	a.closers = append(a.closers, a.closeHTTP)
	ctx, cancel := context.WithCancel(context.Background())
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		a.writeEvents(ctx)
	}()
	a.closers = append(a.closers, func() error {
		if a.opts.Bus == nil {
			a.bus.Close() // our own bus: the writer drains what the cameras published, then returns
		} else {
			cancel()
		}
		<-writerDone
		cancel()
		return nil
	})
	// On NATS: the results of the work queue's caption and thumbnail jobs (stopped first).
	return a.startEnrichResults()
}

// closeHTTP ends the live streams (so the server can shut down), stops the server and joins its
// goroutine.
func (a *App) closeHTTP() error {
	a.hub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := a.http.Shutdown(ctx)
	<-a.served
	return err
}
