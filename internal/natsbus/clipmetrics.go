package natsbus

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Drop reasons of mvwatch_bus_clip_puts_dropped_total: why a worker's stored clip did not reach the
// clip bucket.
const (
	ClipDropFull     = "full"      // the put queue was full (the bucket slow or NATS away for long)
	ClipDropRefused  = "refused"   // the bucket refused it (over its bound even after making room, ...)
	ClipDropTooLarge = "too_large" // the clip exceeds the clip object bound
	ClipDropGone     = "gone"      // the worker's clip store deleted it before it was put
	ClipDropFailed   = "failed"    // transient failures every time, until the attempts ran out
	ClipDropClosed   = "closed"    // the node stopped with it still queued
)

// Results of mvwatch_bus_clip_reads_total.
const (
	ReadOK       = "ok"
	ReadNotFound = "not_found"
	ReadTooLarge = "too_large"
	ReadError    = "error"
)

// ClipMetrics are the clip bucket's metrics; NewClipMetrics registers them all at zero.
type ClipMetrics struct {
	put         prometheus.Counter
	putBytes    prometheus.Counter
	putSeconds  prometheus.Histogram
	retries     prometheus.Counter
	dropped     *prometheus.CounterVec
	queue       prometheus.Gauge
	evicted     prometheus.Counter
	reads       *prometheus.CounterVec
	stored      prometheus.Gauge
	storedBytes prometheus.Gauge
}

// NewClipMetrics creates the clip bucket's metrics and registers them on reg (nil: not
// registered).
func NewClipMetrics(reg prometheus.Registerer) (*ClipMetrics, error) {
	m := &ClipMetrics{
		put: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_bus_clips_put_total",
			Help: "Event clips this worker put into the clip bucket."}),
		putBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_bus_clips_put_bytes_total",
			Help: "Bytes of the event clips this worker put into the clip bucket."}),
		putSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mvwatch_bus_clip_put_seconds",
			Help: "Time to put one event clip into the clip bucket.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_bus_clip_put_retries_total",
			Help: "Clip puts tried again after a transient failure."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mvwatch_bus_clip_puts_dropped_total",
			Help: "Stored event clips that did not reach the clip bucket, by reason."}, []string{"reason"}),
		queue: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_bus_clip_put_queue",
			Help: "Stored event clips waiting to be put into the clip bucket."}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_bus_clips_evicted_total",
			Help: "Oldest clips this node deleted from the clip bucket to make room for a new one."}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mvwatch_bus_clip_reads_total",
			Help: "Event clips read from the clip bucket for the API, by result."}, []string{"result"}),
		stored: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_bus_clips_stored",
			Help: "Event clips in the clip bucket, as this node's index sees them."}),
		storedBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_bus_clips_stored_bytes",
			Help: "Bytes of the event clips in the clip bucket, as this node's index sees them."}),
	}
	for _, r := range []string{ClipDropFull, ClipDropRefused, ClipDropTooLarge, ClipDropGone, ClipDropFailed, ClipDropClosed} {
		m.dropped.WithLabelValues(r)
	}
	for _, r := range []string{ReadOK, ReadNotFound, ReadTooLarge, ReadError} {
		m.reads.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.put, m.putBytes, m.putSeconds, m.retries, m.dropped, m.queue,
		m.evicted, m.reads, m.stored, m.storedBytes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("natsbus: register clip metrics: %w", err)
		}
	}
	return m, nil
}
