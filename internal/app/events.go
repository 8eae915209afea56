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
)

// metrics are the event path's own metrics (the store, hub, webhooks and API own theirs).
type metrics struct {
	// events counts stored events: mvwatch_events_total{camera,label}.
	events *prometheus.CounterVec
	// latency is the time from a clip's end to its event being stored: mvwatch_event_latency_seconds.
	latency prometheus.Histogram
	// updates counts stage results written onto stored events, by kind ("caption", "thumbnail") and
	// result ("stored", "failed"): mvwatch_event_updates_total{kind,result}.
	updates *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mvwatch_events_total", Help: "Events emitted."},
			[]string{"camera", "label"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mvwatch_event_latency_seconds",
			Help: "Time from a clip's end to its event being stored.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 17)}),
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
			if _, err := a.store.Get(d.Event.ID); err == nil {
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
// side.
func (a *App) enrich(ev event.Event) {
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

// onCaption stores a caption on its event and sends the updated event to live subscribers. It runs on
// the caption stage's worker.
func (a *App) onCaption(id, text string) {
	a.updateMu.Lock() // store order is publish order (see updateMu)
	defer a.updateMu.Unlock()
	ev, err := a.store.SetCaption(context.Background(), id, text)
	a.updated("caption", ev, err)
}

// onThumbnail stores a thumbnail with its event and sends the updated event to live subscribers. It
// runs on the thumbnail stage's worker.
func (a *App) onThumbnail(id string, png []byte) {
	a.updateMu.Lock()
	defer a.updateMu.Unlock()
	ev, err := a.store.SetThumbnail(context.Background(), id, png)
	a.updated("thumbnail", ev, err)
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
