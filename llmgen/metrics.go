package llmgen

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Captioner's Prometheus series.
type metrics struct {
	captions     *prometheus.CounterVec
	dropped      prometheus.Counter
	queueLen     prometheus.Gauge
	tokens       prometheus.Counter
	seconds      prometheus.Counter
	tokensPerSec prometheus.Gauge
	drafted      prometheus.Counter
	accepted     prometheus.Counter
	rounds       prometheus.Counter
	acceptRate   prometheus.Gauge
	meanAccepted prometheus.Gauge
	draftLen     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		captions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mvwatch_captions_total",
			Help: "Captions generated, by result (ok, error)."}, []string{"result"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_caption_dropped_total",
			Help: "Events not captioned because the caption queue was full."}),
		queueLen: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_caption_queue_length",
			Help: "Events waiting for a caption."}),
		tokens: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_caption_tokens_total",
			Help: "Tokens generated."}),
		seconds: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_caption_generation_seconds_total",
			Help: "Time spent generating (tokens_total / this = tokens per second)."}),
		tokensPerSec: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_caption_tokens_per_second",
			Help: "Tokens per second of the last caption."}),
		drafted: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_caption_draft_tokens_total",
			Help: "Draft tokens proposed by speculative decoding."}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_caption_accepted_tokens_total",
			Help: "Draft tokens accepted by the target."}),
		rounds: prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_caption_rounds_total",
			Help: "Speculative draft-and-verify rounds."}),
		acceptRate: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_caption_acceptance_rate",
			Help: "Accepted / drafted tokens since start."}),
		meanAccepted: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_caption_mean_accepted_length",
			Help: "Mean draft tokens accepted per round since start."}),
		draftLen: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_caption_draft_length",
			Help: "Current adaptive draft length K."}),
	}
	for _, r := range []string{"ok", "error"} {
		m.captions.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.captions, m.dropped, m.queueLen, m.tokens, m.seconds,
		m.tokensPerSec, m.drafted, m.accepted, m.rounds, m.acceptRate, m.meanAccepted, m.draftLen} {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}
