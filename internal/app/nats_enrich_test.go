package app

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/natsbus"
	"github.com/mvwatch/mvwatch/mvextract"
)

// TestEnrichmentOnTheNATSWorkQueue: an events node with no models stores an event and queues its
// caption and thumbnail jobs on MVWATCH_ENRICH; they wait there while no node runs enrichment.
// A worker started later with the shipped caption and thumbnail models (nats.enrich) runs them,
// and the results land on the stored event exactly once each, through the update path (counted,
// sent live). A job submitted again under its own message id is a duplicate the stream refuses;
// one run again (a redelivery past the duplicate window) is not stored twice. The queue ends empty.
func TestEnrichmentOnTheNATSWorkQueue(t *testing.T) {
	s, err := natsbus.StartServer(natsbus.ServerConfig{DataDir: t.TempDir(), Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(s.Shutdown) // after the buses' cleanups
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	ecfg := testConfig(t)
	ecfg.Webhooks = nil
	events, err := New(Options{Config: ecfg, Role: RoleEvents, Bus: natsBusFor(t, s, RoleEvents, "events"),
		Registry: prometheus.NewRegistry(), Logger: quietLogger()})
	require.NoError(t, err)
	require.NoError(t, events.Start())
	defer events.Close()
	live := events.hub.Subscribe(func(event.Event) bool { return true })
	defer live.Close()
	camBus := natsBusFor(t, s, RoleWorker, "w1") // publishes like a camera worker

	insp, err := natsbus.Connect(ctx, natsbus.ConnConfig{Server: s, Logger: quietLogger()}, nil)
	require.NoError(t, err)
	t.Cleanup(insp.Close)
	es, err := insp.JetStream().Stream(ctx, natsbus.EnrichStream)
	require.NoError(t, err)
	queued := func() uint64 {
		info, err := es.Info(ctx)
		if err != nil {
			return 1 << 63
		}
		return info.State.Msgs
	}

	t0 := time.Now().Add(-time.Minute)
	ev1 := event.Event{ID: event.NewEventID(t0), Camera: "door", Label: "object_left", Score: 0.9, Start: t0, End: t0.Add(time.Second)}
	require.True(t, camBus.PublishEvent(ev1))
	eventually(t, 20*time.Second, func() bool { _, err := events.Store().Get(ev1.ID); return err == nil }, "the event stored")
	eventually(t, 10*time.Second, func() bool { return queued() == 2 }, "its caption and thumbnail jobs wait on the queue")
	got, err := events.Store().Get(ev1.ID)
	require.NoError(t, err)
	require.Empty(t, got.Caption+got.ThumbnailRef, "no node enriches yet")

	// An enrichment-capable worker joins (serve --role worker -enrich).
	wreg := prometheus.NewRegistry()
	caps, thumbs := openShippedStages(t, wreg)
	breg := prometheus.NewRegistry() // the enrichment node's bus metrics
	enricher, err := New(Options{Config: testConfig(t), Role: RoleWorker, Bus: natsBusWithMetrics(t, s, "gpu1", breg),
		Classifier: &alternatingClassifier{}, Registry: wreg, Logger: quietLogger(), Captions: caps, Thumbnails: thumbs,
		Features: mvextract.FeatureSpec{Clip: mvextract.ClipConfig{Length: 4, Width: 16, Height: 16}}})
	require.NoError(t, err)
	require.NoError(t, enricher.Start())
	defer enricher.Close()

	updates := events.metrics.updates
	stored := func(kind string) float64 { return testutil.ToFloat64(updates.WithLabelValues(kind, "stored")) }
	enriched := func(id string) bool {
		ev, err := events.Store().Get(id)
		return err == nil && ev.Caption != "" && ev.ThumbnailRef != ""
	}
	eventually(t, 90*time.Second, func() bool { return enriched(ev1.ID) }, "the waiting jobs done by the worker")
	ev2 := ev1
	ev2.ID, ev2.Start, ev2.End = event.NewEventID(t0.Add(time.Second)), t0.Add(time.Second), t0.Add(2*time.Second)
	require.True(t, camBus.PublishEvent(ev2))
	eventually(t, 90*time.Second, func() bool { return enriched(ev2.ID) }, "a new event's jobs done as they come")
	eventually(t, 10*time.Second, func() bool { return stored("caption") == 2 && stored("thumbnail") == 2 }, "each result stored")
	got, err = events.Store().Get(ev1.ID)
	require.NoError(t, err)
	require.Equal(t, event.ThumbnailPath(ev1.ID), got.ThumbnailRef)
	png, err := events.Store().Thumbnail(ev1.ID)
	require.NoError(t, err)
	require.Equal(t, []byte("\x89PNG"), png[:4])

	// The same job again: under its message id the stream stores it once (a redelivered event
	// queues nothing twice) ...
	job, err := json.Marshal(natsbus.EnrichJob{Kind: natsbus.KindCaption, Event: ev1})
	require.NoError(t, err)
	subj, err := natsbus.EnrichSubject(natsbus.KindCaption)
	require.NoError(t, err)
	msg := &nats.Msg{Subject: subj, Data: job, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, natsbus.EnrichJobID(ev1.ID, natsbus.KindCaption))
	ack, err := insp.JetStream().PublishMsg(ctx, msg)
	require.NoError(t, err)
	require.True(t, ack.Duplicate, "message id = event id + kind")
	// ... and a job run again anyway (another message id) sends a result the stream already
	// holds under its id (<event id>.caption.result): stored once.
	msg.Header.Set(jetstream.MsgIDHeader, "again-"+ev1.ID)
	_, err = insp.JetStream().PublishMsg(ctx, msg)
	require.NoError(t, err)
	eventually(t, 60*time.Second, func() bool {
		return gatheredWith(t, breg, "mvwatch_bus_enrich_jobs_total", map[string]string{"kind": "caption", "result": "done"}) == 3
	}, "the job run again")
	require.Equal(t, 1.0, gatheredWith(t, breg, "mvwatch_bus_publish_duplicates_total", nil), "its result a duplicate in the stream")
	// A result delivered again (an acknowledgement lost, or past the duplicate window) is
	// recognised by the events node and not written twice.
	res, err := json.Marshal(natsbus.EnrichResult{Kind: natsbus.KindCaption, EventID: ev1.ID, Text: "another caption"})
	require.NoError(t, err)
	rmsg := &nats.Msg{Subject: natsbus.EnrichResultsSubject, Data: res, Header: nats.Header{}}
	rmsg.Header.Set(jetstream.MsgIDHeader, "again-result-"+ev1.ID)
	_, err = insp.JetStream().PublishMsg(ctx, rmsg)
	require.NoError(t, err)
	eventually(t, 20*time.Second, func() bool { return testutil.ToFloat64(updates.WithLabelValues("caption", "duplicate")) == 1 },
		"the repeated result recognised")
	require.Equal(t, 2.0, stored("caption"), "stored once per event")
	again, err := events.Store().Get(ev1.ID)
	require.NoError(t, err)
	require.Equal(t, got.Caption, again.Caption)
	eventually(t, 10*time.Second, func() bool { return queued() == 0 }, "jobs and results leave the work queue")
	require.Zero(t, testutil.ToFloat64(updates.WithLabelValues("caption", "failed")))

	// The results went live as updates, each with its event's id.
	ups := 0
	for {
		lctx, lcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		m, err := live.Next(lctx)
		lcancel()
		if err != nil {
			break
		}
		if m.Update {
			ups++
			require.Contains(t, []string{ev1.ID, ev2.ID}, m.Event.ID)
		}
	}
	require.Equal(t, 4, ups, "one live update per stored result")
	require.NoError(t, enricher.Close())
	require.NoError(t, events.Close())
}

// natsBusWithMetrics opens a worker's bus on s with its metrics on reg, closed at the test's end
// after its App.
func natsBusWithMetrics(t *testing.T, s *natsbus.Server, node string, reg prometheus.Registerer) *natsbus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := natsbus.NewMetrics(reg)
	require.NoError(t, err)
	c, err := natsbus.Connect(ctx, natsbus.ConnConfig{Server: s, Logger: quietLogger()}, m)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	b, err := natsbus.OpenBus(ctx, c, m, natsbus.BusConfig{Node: node, Worker: true, KeepOnNATSLoss: true, Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(b.Close)
	return b
}

// gatheredWith returns the value of the counter name in reg whose labels include labels (0 when
// absent).
func gatheredWith(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
