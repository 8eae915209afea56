package diffusion

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// ThumbnailMetrics are the Thumbnailer's metrics.
type ThumbnailMetrics struct {
	// Steps is the step count chosen per thumbnail: mvwatch_thumbnail_steps{scheduler}.
	Steps *prometheus.HistogramVec
	// Evaluations counts UNet evaluations run: mvwatch_thumbnail_unet_evaluations_total.
	Evaluations prometheus.Counter
	// Saved counts UNet evaluations saved against the fixed default step count (negative choices, more steps
	// than the default, subtract nothing): mvwatch_thumbnail_unet_evaluations_saved_total.
	Saved prometheus.Counter
	// Seconds is the wall time of one thumbnail (step choice, generation, encoding): mvwatch_thumbnail_seconds.
	Seconds prometheus.Histogram
	// Results counts finished jobs by result ("ok" or "error"): mvwatch_thumbnails_total{result}.
	Results *prometheus.CounterVec
	// Dropped counts jobs refused by a full queue or after Close: mvwatch_thumbnail_dropped_total.
	Dropped prometheus.Counter
}

// NewThumbnailMetrics creates the metrics and registers them on reg (never the global registry).
func NewThumbnailMetrics(reg prometheus.Registerer) (*ThumbnailMetrics, error) {
	m := &ThumbnailMetrics{
		Steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mvwatch_thumbnail_steps",
			Help:    "Denoising steps chosen per thumbnail.",
			Buckets: []float64{5, 10, 15, 20, 25, 30, 40, 50, 75, 100},
		}, []string{"scheduler"}),
		Evaluations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mvwatch_thumbnail_unet_evaluations_total",
			Help: "UNet evaluations run for thumbnails.",
		}),
		Saved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mvwatch_thumbnail_unet_evaluations_saved_total",
			Help: "UNet evaluations saved against the fixed default step count.",
		}),
		Seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mvwatch_thumbnail_seconds",
			Help:    "Wall time of one thumbnail.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		Results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mvwatch_thumbnails_total",
			Help: "Finished thumbnail jobs by result.",
		}, []string{"result"}),
		Dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mvwatch_thumbnail_dropped_total",
			Help: "Thumbnail jobs refused by a full queue.",
		}),
	}
	for _, r := range []string{"ok", "error"} {
		m.Results.WithLabelValues(r)
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.Steps, m.Evaluations, m.Saved, m.Seconds, m.Results, m.Dropped} {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("diffusion: thumbnail metrics: %w", err)
	}
	return m, nil
}
