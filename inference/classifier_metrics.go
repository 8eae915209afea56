package inference

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ClassifierMetrics are Prometheus metrics of a Classifier and its Batcher, for a process that does
// not feed the pipeline's metrics (which use the same names, so register only one of the two on a
// registry). Wire them with ClassifierConfig.Hooks = m.Hooks() and BatcherConfig.OnDrop = m.Drop.
type ClassifierMetrics struct {
	// Seconds is the wall time of one Classify call: mvwatch_inference_seconds.
	Seconds prometheus.Histogram
	// BatchSize is the number of clips per Classify call: mvwatch_inference_batch_size.
	BatchSize prometheus.Histogram
	// Exits counts clips by the 1-based stage whose exit decided them: mvwatch_early_exits_total{stage}.
	Exits *prometheus.CounterVec
	// Dropped counts clips a full batcher queue refused: mvwatch_inference_dropped_total.
	Dropped prometheus.Counter
}

// NewClassifierMetrics creates the metrics and registers them on reg (never the global registry).
func NewClassifierMetrics(reg prometheus.Registerer) (*ClassifierMetrics, error) {
	m := &ClassifierMetrics{
		Seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mvwatch_inference_seconds",
			Help:    "Time of one inference batch.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 17),
		}),
		BatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mvwatch_inference_batch_size",
			Help:    "Clips per inference batch.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128},
		}),
		Exits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mvwatch_early_exits_total",
			Help: "Clips by the model stage whose exit decided them.",
		}, []string{"stage"}),
		Dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mvwatch_inference_dropped_total",
			Help: "Clips refused by a full inference batcher queue.",
		}),
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.Seconds, m.BatchSize, m.Exits, m.Dropped} {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("inference: classifier metrics: %w", err)
	}
	return m, nil
}

// Hooks returns ClassifierHooks that feed these metrics.
func (m *ClassifierMetrics) Hooks() ClassifierHooks {
	return ClassifierHooks{
		Batch: func(clips int, elapsed time.Duration) {
			m.BatchSize.Observe(float64(clips))
			m.Seconds.Observe(elapsed.Seconds())
		},
		Exit: func(stage int) { m.Exits.WithLabelValues(strconv.Itoa(stage)).Inc() },
	}
}

// Drop counts one clip refused by a full batcher queue; it fits BatcherConfig.OnDrop.
func (m *ClassifierMetrics) Drop() { m.Dropped.Inc() }
