package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/natsbus"
)

// metrics are the event path's own metrics (the store, hub, webhooks and API own theirs).
type metrics struct {
	// events counts stored events: mvwatch_events_total{camera,label}.
	events *prometheus.CounterVec
	// latency is the time from a clip's end to its event being stored: mvwatch_event_latency_seconds.
	latency prometheus.Histogram
	// updates counts stage results written onto stored events, by kind ("caption", "thumbnail") and
	// result ("stored", "failed", and "duplicate": a work-queue result the event already had):
	// mvwatch_event_updates_total{kind,result}.
	updates *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mvwatch_events_total", Help: "Events emitted."},
			[]string{"camera", "label"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mvwatch_event_latency_seconds",
			Help: "Time from a clip's end to its event being stored.", // 1 ms to 60 s in steps of a third: an event is stored once the eventizer's
			// gap has passed after its last clip, seconds after its end.
			Buckets: prometheus.ExponentialBucketsRange(0.001, 60, 40)}),
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mvwatch_event_updates_total",
			Help: "Caption and thumbnail results written onto stored events."}, []string{"kind", "result"}),
	}
	for _, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("event metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.events, m.latency, m.updates}
}

// initCamera creates a camera's event series at zero for every event label.
func (m *metrics) initCamera(camera string, labels []string) {
	for _, l := range labels {
		m.events.WithLabelValues(camera, l)
	}
}

// forgetCamera deletes a removed camera's series.
func (m *metrics) forgetCamera(camera string) {
	m.events.DeletePartialMatch(prometheus.Labels{"camera": camera})
}

// writeEvents takes each event from the bus, stores it durably, then fans it out to live subscribers,
// webhooks and the enrichment stages. It returns when the bus is closed and drained, or ctx ends. On
// a bus.AckBus (NATS) each event is acknowledged once stored.
func (a *App) writeEvents(ctx context.Context) {
	if ab, ok := a.bus.(bus.AckBus); ok {
		var wg sync.WaitGroup
		for range ackWriters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a.writeDeliveries(ctx, ab)
			}()
		}
		wg.Wait()
		return
	}
	for {
		ev, err := a.bus.NextEvent(ctx)
		if err != nil {
			if !errors.Is(err, bus.ErrClosed) && ctx.Err() == nil {
				a.log.Error("event bus", "err", err)
			}
			return
		}
		_ = a.write(ev) // logged; the in-process bus has no redelivery
	}
}

// ackWriters is how many events the writer stores at once from an AckBus (the store batches
// concurrent writes into one fsync; each camera's events stay in order, see bus.AckBus).
const ackWriters = 8

// writeDeliveries is writeEvents on a bus that wants an acknowledgement: each event is acknowledged
// only after the store's durable write (a failed write is delivered again), and a redelivered event
// the store already holds is acknowledged without being stored or sent on again (the store keeps
// the caption and thumbnail it may have got since).
func (a *App) writeDeliveries(ctx context.Context, ab bus.AckBus) {
	for {
		d, err := ab.NextDelivery(ctx)
		if err != nil {
			if !errors.Is(err, bus.ErrClosed) && ctx.Err() == nil {
				a.log.Error("event bus", "err", err)
			}
			return
		}
		if d.Redelivered {
			if stored, err := a.store.Get(d.Event.ID); err == nil {
				// Stored before a crash or a lost ack: its enrichment jobs may not have been
				// queued; queue what it lacks again (the stream's message ids make it once).
				a.requeue(stored)
				d.Done(nil)
				continue
			}
		}
		d.Done(a.write(d.Event))
	}
}

// write stores one event and passes it on. It returns the store's error.
func (a *App) write(ev event.Event) error {
	if err := a.store.Publish(context.Background(), ev); err != nil {
		a.log.Error("event not stored", "camera", ev.Camera, "err", err)
		return err
	}
	a.metrics.events.WithLabelValues(ev.Camera, ev.Label).Inc()
	a.metrics.latency.Observe(time.Since(ev.End).Seconds())
	if a.mqtt != nil {
		a.mqtt.PublishEvent(ev) // with its keyframe: the camera's MQTT snapshot
	}
	ev.Keyframe = nil
	a.hub.Publish(ev)
	_ = a.webhooks.Publish(context.Background(), ev) // fails only once closed, after the writer
	a.enrich(ev)
	return nil
}

// enrich submits a stored event to the caption and thumbnail stages; neither waits. Both start from
// the event itself (the thumbnail prompt comes from the label, not the caption), so they run side by
// side. On NATS they are jobs on the MVWATCH_ENRICH work queue instead (enqueue), which any
// enrichment node runs.
func (a *App) enrich(ev event.Event) {
	if q := a.enrichQueue(); q != nil {
		a.enqueue(q, ev, a.cfg.Captions.IsEnabled(), a.cfg.Thumbnails.IsEnabled())
		return
	}
	if a.captions == nil && a.thumbs == nil {
		return
	}
	cam, _ := a.bus.Cameras().Get(ev.Camera) // a camera removed since: no zone, the default scene
	if a.captions != nil {
		a.captions.Submit(ev, captionZone(cam.Zone, ev.Zones))
	}
	if a.thumbs != nil {
		a.thumbs.Submit(ev, cam.Scene)
	}
}

// enrichQueue is the work queue of enrichment jobs that a NATS bus offers (natsbus.Bus): the
// events node submits jobs and stores their results, any node with the stages runs them.
type enrichQueue interface {
	SubmitEnrich(job natsbus.EnrichJob) bool
	ServeEnrich(ctx context.Context, kind string, cfg natsbus.EnrichConfig, run natsbus.EnrichFunc) (*natsbus.Consumer, error)
	ServeEnrichResults(ctx context.Context, cfg natsbus.EnrichConfig, apply natsbus.ResultFunc) (*natsbus.Consumer, error)
}

// enrichQueue returns the bus's work queue, nil on the in-process bus (whose stages run here).
func (a *App) enrichQueue() enrichQueue {
	q, _ := a.bus.(enrichQueue)
	return q
}

// enqueue submits ev's caption and/or thumbnail jobs (never waiting; a full buffer drops and
// counts), with the camera's zone and scene as the config has them now.
func (a *App) enqueue(q enrichQueue, ev event.Event, caption, thumbnail bool) {
	if !caption && !thumbnail {
		return
	}
	cam, _ := a.bus.Cameras().Get(ev.Camera) // a camera removed since: no zone, the default scene
	ev.Keyframe = nil
	if caption {
		q.SubmitEnrich(natsbus.EnrichJob{Kind: natsbus.KindCaption, Event: ev, Place: captionZone(cam.Zone, ev.Zones)})
	}
	if thumbnail {
		q.SubmitEnrich(natsbus.EnrichJob{Kind: natsbus.KindThumbnail, Event: ev, Place: cam.Scene})
	}
}

// requeue submits again the jobs a stored (redelivered) event still lacks the results of.
func (a *App) requeue(stored event.Event) {
	if q := a.enrichQueue(); q != nil {
		a.enqueue(q, stored, a.cfg.Captions.IsEnabled() && stored.Caption == "",
			a.cfg.Thumbnails.IsEnabled() && stored.ThumbnailRef == "")
	}
}

// startEnrichJobs makes this node run the work queue's jobs of each stage it has (NATS only; a
// worker too when nats.enrich is on). The consumers stop before the stages close.
func (a *App) startEnrichJobs() error {
	q := a.enrichQueue()
	if q == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	serve := func(kind string, run natsbus.EnrichFunc) error {
		c, err := q.ServeEnrich(ctx, kind, natsbus.EnrichConfig{}, run)
		if err != nil {
			return fmt.Errorf("enrichment jobs (%s): %w", kind, err)
		}
		a.closers = append(a.closers, func() error { c.Close(); return nil })
		a.log.Info("running enrichment jobs from the work queue", "kind", kind)
		return nil
	}
	if a.captions != nil {
		if err := serve(natsbus.KindCaption, a.captionJob); err != nil {
			return err
		}
	}
	if a.thumbs != nil {
		if err := serve(natsbus.KindThumbnail, a.thumbnailJob); err != nil {
			return err
		}
	}
	return nil
}

// captionJob runs one caption job of the work queue.
func (a *App) captionJob(_ context.Context, job natsbus.EnrichJob) (natsbus.EnrichResult, error) {
	text, err := a.captions.Caption(job.Event, job.Place)
	return natsbus.EnrichResult{Text: text}, err
}

// thumbnailJob runs one thumbnail job of the work queue.
func (a *App) thumbnailJob(ctx context.Context, job natsbus.EnrichJob) (natsbus.EnrichResult, error) {
	png, err := a.thumbs.Render(ctx, job.Event, job.Place)
	return natsbus.EnrichResult{PNG: png}, err
}

// startEnrichResults makes the events node store the results of the work queue's jobs (NATS only).
// The consumer stops before the live hub and the store close.
func (a *App) startEnrichResults() error {
	q := a.enrichQueue()
	if q == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := q.ServeEnrichResults(ctx, natsbus.EnrichConfig{}, a.applyResult)
	if err != nil {
		return fmt.Errorf("enrichment results: %w", err)
	}
	a.closers = append(a.closers, func() error { c.Close(); return nil })
	return nil
}

// applyResult stores a job's result on its event through the stages' own update path (count, live
// update). A result the event already has (a redelivery after a lost ack) is acknowledged without
// a second write; an event that retention removed meanwhile is counted as failed and acknowledged;
// a failed write is returned, so that the result comes again.
func (a *App) applyResult(_ context.Context, r natsbus.EnrichResult) error {
	stored, err := a.store.Get(r.EventID)
	if errors.Is(err, event.ErrNotFound) {
		a.metrics.updates.WithLabelValues(r.Kind, "failed").Inc()
		a.log.Warn("enrichment result for an event no longer stored", "kind", r.Kind, "event", r.EventID)
		return nil
	}
	if err != nil {
		return err
	}
	switch r.Kind {
	case natsbus.KindCaption:
		if stored.Caption != "" {
			a.metrics.updates.WithLabelValues(r.Kind, "duplicate").Inc()
			return nil
		}
		return a.storeCaption(r.EventID, r.Text)
	case natsbus.KindThumbnail:
		if stored.ThumbnailRef != "" {
			a.metrics.updates.WithLabelValues(r.Kind, "duplicate").Inc()
			return nil
		}
		return a.storeThumbnail(r.EventID, r.PNG)
	}
	a.log.Warn("enrichment result of an unknown kind, dropped", "kind", r.Kind, "event", r.EventID)
	return nil
}

// onCaption stores a caption on its event and sends the updated event to live subscribers. It runs on
// the caption stage's worker.
func (a *App) onCaption(id, text string) { _ = a.storeCaption(id, text) }

// storeCaption is onCaption, returning the store's error.
func (a *App) storeCaption(id, text string) error {
	a.updateMu.Lock() // store order is publish order (see updateMu)
	defer a.updateMu.Unlock()
	ev, err := a.store.SetCaption(context.Background(), id, text)
	a.updated("caption", ev, err)
	return err
}

// onThumbnail stores a thumbnail with its event and sends the updated event to live subscribers. It
// runs on the thumbnail stage's worker.
func (a *App) onThumbnail(id string, png []byte) { _ = a.storeThumbnail(id, png) }

// storeThumbnail is onThumbnail, returning the store's error.
func (a *App) storeThumbnail(id string, png []byte) error {
	a.updateMu.Lock()
	defer a.updateMu.Unlock()
	ev, err := a.store.SetThumbnail(context.Background(), id, png)
	a.updated("thumbnail", ev, err)
	return err
}

// updated counts a stage's result and, once stored, sends the updated event live.
func (a *App) updated(kind string, ev event.Event, err error) {
	if err != nil {
		a.metrics.updates.WithLabelValues(kind, "failed").Inc()
		// event.ErrNotFound: retention removed the event meanwhile.
		a.log.Warn("event update not stored", "kind", kind, "err", err)
		return
	}
	a.metrics.updates.WithLabelValues(kind, "stored").Inc()
	a.hub.PublishUpdate(ev)
}

// captionZone is the place a caption names: the camera's zone text, and the first zone the event
// touched ("front door, driveway"), within config.MaxZoneBytes.
func captionZone(cameraZone string, zones []string) string {
	if len(zones) == 0 {
		return cameraZone
	}
	z := zones[0]
	if cameraZone != "" {
		z = cameraZone + ", " + z
	}
	if len(z) > config.MaxZoneBytes {
		return cameraZone
	}
	return z
}
