package clip

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Failure reasons of mvwatch_clips_failed_total.
const (
	FailQueueFull  = "queue_full"  // the writer's queue was full: the recording was dropped
	FailNoKeyframe = "no_keyframe" // no keyframe arrived before the event closed: nothing to play
	FailMux        = "mux"         // the remuxer refused the units
	FailStore      = "store"       // writing or renaming the file failed
	FailTooLarge   = "too_large"   // the clip alone exceeds clips.max_bytes
	FailTooMany    = "too_many"    // a camera had too many recordings open
)

var failReasons = []string{FailQueueFull, FailNoKeyframe, FailMux, FailStore, FailTooLarge, FailTooMany}

// Metrics are the clips' metrics; every series exists from the start at zero.
type Metrics struct {
	// Written counts clips stored: mvwatch_clips_written_total.
	Written prometheus.Counter
	// Failed counts recordings that became no clip, by reason: mvwatch_clips_failed_total{reason}.
	Failed *prometheus.CounterVec
	// Deleted counts clips removed by retention, by reason ("age", "size"): mvwatch_clips_deleted_total{reason}.
	Deleted *prometheus.CounterVec
	// StoredBytes and Stored are the clips on disk now: mvwatch_clips_stored_bytes, mvwatch_clips_stored.
	StoredBytes prometheus.Gauge
	Stored      prometheus.Gauge
	// Truncated counts clips cut short by clips.max_duration or clips.max_clip_bytes:
	// mvwatch_clips_truncated_total.
	Truncated prometheus.Counter
	// BufferDrops counts access units dropped from the cameras' pre-roll buffers to stay within
	// clips.buffer_bytes: mvwatch_clip_buffer_dropped_total.
	BufferDrops prometheus.Counter
	// QueueDrops and QueueDepth are the writer queue's: mvwatch_clip_queue_dropped_total,
	// mvwatch_clip_queue_depth.
	QueueDrops prometheus.Counter
	QueueDepth prometheus.Gauge
	// WriteSeconds is the time to remux and store one clip: mvwatch_clip_write_seconds.
	WriteSeconds prometheus.Histogram
}

// NewMetrics creates the clips' metrics and registers them on reg (never the global registry).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Written: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_clips_written_total", Help: "Event clips stored."}),
		Failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mvwatch_clips_failed_total",
			Help: "Event recordings that became no clip, by reason."}, []string{"reason"}),
		Deleted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mvwatch_clips_deleted_total",
			Help: "Event clips deleted by retention, by reason (age, size)."}, []string{"reason"}),
		StoredBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_clips_stored_bytes", Help: "Bytes of event clips on disk."}),
		Stored:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_clips_stored", Help: "Event clips on disk."}),
		Truncated: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_clips_truncated_total",
			Help: "Event clips cut short by clips.max_duration or clips.max_clip_bytes."}),
		BufferDrops: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_clip_buffer_dropped_total",
			Help: "Access units dropped from the cameras' pre-roll buffers to stay within clips.buffer_bytes."}),
		QueueDrops: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_clip_queue_dropped_total",
			Help: "Finished recordings dropped because the clip writer's queue was full."}),
		QueueDepth: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_clip_queue_depth", Help: "Recordings waiting for the clip writer."}),
		WriteSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mvwatch_clip_write_seconds",
			Help: "Time to remux and store one event clip.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
	}
	for _, r := range failReasons {
		m.Failed.WithLabelValues(r)
	}
	m.Deleted.WithLabelValues("age")
	m.Deleted.WithLabelValues("size")
	for _, c := range m.Collectors() {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("clip metrics: %w", err)
		}
	}
	return m, nil
}

// Collectors lists the clips' metrics.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Written, m.Failed, m.Deleted, m.StoredBytes, m.Stored, m.Truncated,
		m.BufferDrops, m.QueueDrops, m.QueueDepth, m.WriteSeconds}
}
