package natsbus

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Drop reasons of mvwatch_bus_publish_dropped_total.
const (
	// DropFull: the publish buffer was full (NATS slow or absent for longer than the buffer lasts).
	DropFull = "full"
	// DropRefused: the stream answered with an error (over its limits, message too large, ...).
	DropRefused = "refused"
	// DropClosed: the publisher was closed with the event still buffered and NATS unreachable.
	DropClosed = "closed"
)

// Metrics are the mvwatch_bus_* metrics shared by a node's connection, publisher, consumers and
// assigner. NewMetrics registers all of them at once, so every series exists from the start at zero
// whichever parts a node runs.
type Metrics struct {
	published     prometheus.Counter
	duplicates    prometheus.Counter
	retries       prometheus.Counter
	dropped       *prometheus.CounterVec
	buffer        prometheus.Gauge
	inFlight      prometheus.Gauge
	consumed      *prometheus.CounterVec
	handlerErrors *prometheus.CounterVec
	redelivered   *prometheus.CounterVec
	connected     prometheus.Gauge
	reconnects    prometheus.Counter
	disconnects   prometheus.Counter
	camerasOwned  prometheus.Gauge
	leaseClaims   prometheus.Counter
	leaseReleases prometheus.Counter
	leaseLosses   prometheus.Counter
	leaseErrors   prometheus.Counter
	liveNodes     prometheus.Gauge
	// The enrichment work queue (enrich.go).
	enrichJobs    *prometheus.CounterVec
	enrichDropped *prometheus.CounterVec
	enrichBuffer  prometheus.Gauge
	enrichFlight  prometheus.Gauge
}

// Results of mvwatch_bus_enrich_jobs_total.
const (
	// JobSubmitted: the events node put the job in its bounded publish buffer.
	JobSubmitted = "submitted"
	// JobDropped: the buffer was full or closed (the stream's refusals are counted by reason in
	// mvwatch_bus_enrich_dropped_total).
	JobDropped = "dropped"
	// JobDone: an enrichment node ran the job and published its result.
	JobDone = "done"
	// JobRetried: an attempt failed; the job is delivered again (to any enrichment node).
	JobRetried = "retried"
	// JobFailed: the last allowed attempt failed (MaxDeliver); the job is removed.
	JobFailed = "failed"
)

// NewMetrics creates the bus metrics and registers them on reg (nil: not registered, for tests).
// consumers names the durable consumers whose per-consumer series should exist from the start
// (e.g. "events", "enrich"); others appear on first use.
func NewMetrics(reg prometheus.Registerer, consumers ...string) (*Metrics, error) {
	m := &Metrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_bus_published_total",
			Help: "Messages the stream acknowledged (stored), duplicates included."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_bus_publish_duplicates_total",
			Help: "Publishes the stream acknowledged as duplicates of a message id it already held."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_bus_publish_retries_total",
			Help: "Publishes sent again after a timeout or a lost connection."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mvwatch_bus_publish_dropped_total",
			Help: "Messages not published, by reason (full buffer, refused by the stream, closed)."}, []string{"reason"}),
		buffer: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_bus_publish_buffer",
			Help: "Messages waiting in the publish buffer."}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_bus_publish_in_flight",
			Help: "Messages sent and not yet acknowledged by the stream."}),
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mvwatch_bus_consumed_total",
			Help: "Messages handled and acknowledged, by consumer."}, []string{"consumer"}),
		handlerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mvwatch_bus_handler_errors_total",
			Help: "Messages whose handler failed (not acknowledged, redelivered later), by consumer."}, []string{"consumer"}),
		redelivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mvwatch_bus_redelivered_total",
			Help: "Messages delivered more than once, by consumer."}, []string{"consumer"}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_bus_connected",
			Help: "1 while the NATS connection is up."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_bus_reconnects_total",
			Help: "NATS reconnections."}),
		disconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_bus_disconnects_total",
			Help: "NATS disconnections."}),
		camerasOwned: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_bus_cameras_owned",
			Help: "Cameras this node holds a lease on."}),
		leaseClaims: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_bus_lease_claims_total",
			Help: "Camera leases this node took (free or expired cameras)."}),
		leaseReleases: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_bus_lease_releases_total",
			Help: "Camera leases this node gave up for rebalancing or because the camera was removed."}),
		leaseLosses: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_bus_lease_losses_total",
			Help: "Camera leases this node lost (not renewed in time, or taken by another node)."}),
		leaseErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_bus_lease_errors_total",
			Help: "Failed lease bucket operations (renewals, claims, scans)."}),
		liveNodes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_bus_live_nodes",
			Help: "Worker nodes with a live heartbeat, as this node last saw them."}),
		enrichJobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mvwatch_bus_enrich_jobs_total",
			Help: "Enrichment jobs on the MVWATCH_ENRICH work queue, by kind and result (submitted, dropped: on the events node; done, retried, failed: on the node that ran them)."},
			[]string{"kind", "result"}),
		enrichDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mvwatch_bus_enrich_dropped_total",
			Help: "Enrichment jobs not put on the work queue, by reason (full buffer, refused by the stream, closed)."}, []string{"reason"}),
		enrichBuffer: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_bus_enrich_buffer",
			Help: "Enrichment jobs waiting in the events node's publish buffer."}),
		enrichFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_bus_enrich_in_flight",
			Help: "Enrichment jobs sent and not yet acknowledged by the stream."}),
	}
	for _, r := range []string{DropFull, DropRefused, DropClosed} {
		m.enrichDropped.WithLabelValues(r)
	}
	for _, k := range []string{KindCaption, KindThumbnail} {
		for _, r := range []string{JobSubmitted, JobDropped, JobDone, JobRetried, JobFailed} {
			m.enrichJobs.WithLabelValues(k, r)
		}
	}
	for _, r := range []string{DropFull, DropRefused, DropClosed} {
		m.dropped.WithLabelValues(r)
	}
	for _, c := range consumers {
		m.consumed.WithLabelValues(c)
		m.handlerErrors.WithLabelValues(c)
		m.redelivered.WithLabelValues(c)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.published, m.duplicates, m.retries, m.dropped, m.buffer,
		m.inFlight, m.consumed, m.handlerErrors, m.redelivered, m.connected, m.reconnects, m.disconnects,
		m.camerasOwned, m.leaseClaims, m.leaseReleases, m.leaseLosses, m.leaseErrors, m.liveNodes,
		m.enrichJobs, m.enrichDropped, m.enrichBuffer, m.enrichFlight} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("natsbus: register metrics: %w", err)
		}
	}
	return m, nil
}
