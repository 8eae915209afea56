package natsbus

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/event"
)

// TestEnrichJobsThroughTheWorkQueue: jobs submitted while no node runs them wait in the stream (a
// job submitted twice is stored once); a node that comes later runs each once and sends its
// result back, and each job leaves the queue once its result is stored; a result whose store
// write fails comes again; a job that keeps failing is tried MaxDeliver times, then counted as
// failed and removed.
func TestEnrichJobsThroughTheWorkQueue(t *testing.T) {
	s := startServer(t, ServerConfig{})
	ctx := ctxT(t, 60*time.Second)
	mE, err := NewMetrics(nil)
	require.NoError(t, err)
	cE := connect(t, ConnConfig{Server: s}, mE)
	events, err := OpenBus(ctx, cE, mE, BusConfig{Node: "events", Events: true, Logger: discardLog()})
	require.NoError(t, err)
	t.Cleanup(events.Close)

	t0 := time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)
	evs := []event.Event{
		{ID: event.NewEventID(t0), Camera: "door", Label: "person", Start: t0, End: t0.Add(time.Second), Keyframe: []byte("jpeg")},
		{ID: event.NewEventID(t0.Add(time.Second)), Camera: "yard", Label: "car", Start: t0, End: t0.Add(time.Second)},
	}
	for _, ev := range evs {
		require.True(t, events.SubmitEnrich(EnrichJob{Kind: KindCaption, Event: ev, Place: "front " + ev.Camera}))
	}
	require.True(t, events.SubmitEnrich(EnrichJob{Kind: KindCaption, Event: evs[0]}), "a second submit is queued...")
	require.False(t, events.SubmitEnrich(EnrichJob{Kind: "results", Event: evs[0]}), "not a job kind")
	es, err := cE.JetStream().Stream(ctx, EnrichStream)
	require.NoError(t, err)
	msgs := func() uint64 {
		info, err := es.Info(ctx)
		if err != nil {
			return 1 << 63 // not known: not empty
		}
		return info.State.Msgs
	}
	require.Eventually(t, func() bool { return testutil.ToFloat64(mE.published) == 3 }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, uint64(2), msgs(), "...and stored once (message id = event id + kind); the jobs wait for a node")
	require.Equal(t, 1.0, testutil.ToFloat64(mE.duplicates))

	// The events node's side: store each result; the first write of the second event fails once.
	var mu sync.Mutex
	stored := map[string][]EnrichResult{}
	failedOnce := false
	results, err := events.ServeEnrichResults(ctx, EnrichConfig{RetryDelay: 50 * time.Millisecond}, func(_ context.Context, r EnrichResult) error {
		mu.Lock()
		defer mu.Unlock()
		if r.EventID == evs[1].ID && !failedOnce {
			failedOnce = true
			return errors.New("store write failed (test)")
		}
		stored[r.EventID] = append(stored[r.EventID], r)
		return nil
	})
	require.NoError(t, err)
	defer results.Close()

	// An enrichment node that arrives later (neither worker nor events).
	mW, err := NewMetrics(nil)
	require.NoError(t, err)
	cW := connect(t, ConnConfig{Server: s}, mW)
	enricher, err := OpenBus(ctx, cW, mW, BusConfig{Node: "gpu1", Logger: discardLog()})
	require.NoError(t, err)
	t.Cleanup(enricher.Close)
	var runs sync.Map
	jobs, err := enricher.ServeEnrich(ctx, KindCaption, EnrichConfig{MaxDeliver: 3, RetryDelay: 50 * time.Millisecond},
		func(_ context.Context, job EnrichJob) (EnrichResult, error) {
			n, _ := runs.LoadOrStore(job.Event.ID, new(int))
			*n.(*int)++
			if job.Event.Camera == "broken" {
				return EnrichResult{}, errors.New("model failed (test)")
			}
			assert.Empty(t, job.Event.Keyframe, "jobs carry no keyframe")
			return EnrichResult{Text: job.Event.Label + " at " + job.Place}, nil
		})
	require.NoError(t, err)
	defer jobs.Close()

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(stored[evs[0].ID]) == 1 && len(stored[evs[1].ID]) == 1
	}, 20*time.Second, 10*time.Millisecond, "both results stored")
	mu.Lock()
	require.Equal(t, "person at front door", stored[evs[0].ID][0].Text)
	require.Equal(t, "gpu1", stored[evs[0].ID][0].Node)
	require.Equal(t, KindCaption, stored[evs[1].ID][0].Kind)
	require.True(t, failedOnce)
	mu.Unlock()
	for _, ev := range evs {
		n, _ := runs.Load(ev.ID)
		require.Equal(t, 1, *n.(*int), "each job run once (the failed store write redelivers the result, not the job)")
	}
	require.Equal(t, 2.0, testutil.ToFloat64(mW.enrichJobs.WithLabelValues(KindCaption, JobDone)))
	require.Eventually(t, func() bool { return msgs() == 0 }, 10*time.Second, 10*time.Millisecond,
		"jobs and results leave the work queue once acknowledged")

	// A job that keeps failing: tried MaxDeliver (3) times, then counted as failed and removed.
	bad := event.Event{ID: event.NewEventID(t0.Add(2 * time.Second)), Camera: "broken", Label: "person", Start: t0, End: t0}
	require.True(t, events.SubmitEnrich(EnrichJob{Kind: KindCaption, Event: bad}))
	require.Eventually(t, func() bool { return testutil.ToFloat64(mW.enrichJobs.WithLabelValues(KindCaption, JobFailed)) == 1 },
		20*time.Second, 10*time.Millisecond)
	n, _ := runs.Load(bad.ID)
	require.Equal(t, 3, *n.(*int))
	require.Equal(t, 2.0, testutil.ToFloat64(mW.enrichJobs.WithLabelValues(KindCaption, JobRetried)))
	require.Eventually(t, func() bool { return msgs() == 0 }, 10*time.Second, 10*time.Millisecond, "the failed job is removed")
	require.Equal(t, 4.0, testutil.ToFloat64(mE.enrichJobs.WithLabelValues(KindCaption, JobSubmitted)))
	require.Equal(t, 1.0, testutil.ToFloat64(mE.enrichJobs.WithLabelValues("results", JobDropped)))
	mu.Lock()
	require.Empty(t, stored[bad.ID])
	mu.Unlock()
}
