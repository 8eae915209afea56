package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/redact"
)

// Enrichment kinds: the <kind> of EnrichSubject.
const (
	// KindCaption is a caption job (internal/enrich.Captions).
	KindCaption = "caption"
	// KindThumbnail is a thumbnail job (internal/enrich.Thumbnails).
	KindThumbnail = "thumbnail"
)

// The results of enrichment jobs go back to the events node on the ENRICH stream too, on their
// own subject (no kind may be called "results"), read by the durable consumer
// EnrichResultsConsumer.
const (
	// EnrichResultsSubject carries each finished job's result (EnrichResult JSON, message id
	// EnrichResultID).
	EnrichResultsSubject = "mvwatch.enrich.results"
	// EnrichResultsConsumer is the events node's durable consumer of EnrichResultsSubject.
	EnrichResultsConsumer = "enrich-results"
	// DefaultEnrichMaxDeliver is how often a job (or a result) is tried before it is counted as
	// failed and removed.
	DefaultEnrichMaxDeliver = 5
	// enrichInHand is how many jobs one node holds unacknowledged: few, so that the jobs spread
	// over the nodes and none waits in a busy node's hands past its ack wait.
	enrichInHand = 2
)

// EnrichConsumer is the durable consumer name that every node running kind's jobs shares
// ("enrich-<kind>"), so that each job goes to one of them.
func EnrichConsumer(kind string) string { return "enrich-" + kind }

// EnrichJobID is the message id of event eventID's job of kind: the stream stores a job once
// within its duplicate window, so an event delivered (and submitted) twice is enriched once.
func EnrichJobID(eventID, kind string) string { return eventID + "." + kind }

// EnrichResultID is the message id of the result of event eventID's job of kind.
func EnrichResultID(eventID, kind string) string { return eventID + "." + kind + ".result" }

// EnrichJob is one job on the work queue: what the job's node needs to run it, without asking
// the events node anything.
type EnrichJob struct {
	// Kind is KindCaption or KindThumbnail.
	Kind string `json:"kind"`
	// Event is the stored event (its keyframe left out).
	Event event.Event `json:"event"`
	// Place is the caption's zone text, or the thumbnail's scene, as the events node found them
	// in the camera's config when it stored the event.
	Place string `json:"place,omitempty"`
}

// EnrichResult is a finished job, sent back to the events node.
type EnrichResult struct {
	// Kind is the job's kind.
	Kind string `json:"kind"`
	// EventID is the event the result belongs to.
	EventID string `json:"event_id"`
	// Text is a caption.
	Text string `json:"text,omitempty"`
	// PNG is a thumbnail.
	PNG []byte `json:"png,omitempty"`
	// Node is the node that ran the job.
	Node string `json:"node,omitempty"`
}

// EnrichFunc runs one job and returns its result; an error leaves the job on the queue for
// another attempt (up to the consumer's MaxDeliver).
type EnrichFunc func(ctx context.Context, job EnrichJob) (EnrichResult, error)

// ResultFunc stores one result on its event; nil acknowledges the result (it must then be
// durable), an error has it delivered again.
type ResultFunc func(ctx context.Context, r EnrichResult) error

// EnrichConfig configures an enrichment consumer (ServeEnrich, ServeEnrichResults). Zero values
// take the defaults.
type EnrichConfig struct {
	// MaxDeliver is how often a job is tried before it is counted as failed and removed. It
	// defaults to DefaultEnrichMaxDeliver.
	MaxDeliver int
	// AckWait is how long a job may run before it is delivered again (a node that died running
	// it). It defaults to 2 minutes.
	AckWait time.Duration
	// RetryDelay is the pause before a failed job is tried again. It defaults to 1 s.
	RetryDelay time.Duration
}

func (c EnrichConfig) withDefaults() EnrichConfig {
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = DefaultEnrichMaxDeliver
	}
	if c.AckWait <= 0 {
		c.AckWait = 2 * time.Minute
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = time.Second
	}
	return c
}

// SubmitEnrich puts job on the work queue without blocking: through a bounded publish buffer of
// its own (nats.publish_buffer), sent until the stream acknowledges it, with message id
// EnrichJobID. It reports false when the job was dropped (a full buffer or a closed bus, counted
// in mvwatch_bus_enrich_jobs_total{result="dropped"} and mvwatch_bus_enrich_dropped_total); the
// stream's refusals (over its limits) are counted in the latter. Only the events node submits.
func (b *Bus) SubmitEnrich(job EnrichJob) bool {
	subj, err := EnrichSubject(job.Kind)
	if err != nil || job.Kind == "results" || b.enrichPub == nil || job.Event.ID == "" {
		b.m.enrichDropped.WithLabelValues(DropRefused).Inc()
		b.m.enrichJobs.WithLabelValues(job.Kind, JobDropped).Inc()
		return false
	}
	job.Event.Keyframe = nil
	data, err := json.Marshal(job)
	if err != nil {
		b.m.enrichDropped.WithLabelValues(DropRefused).Inc()
		b.m.enrichJobs.WithLabelValues(job.Kind, JobDropped).Inc()
		return false
	}
	if !b.enrichPub.Publish(subj, EnrichJobID(job.Event.ID, job.Kind), data) {
		b.m.enrichJobs.WithLabelValues(job.Kind, JobDropped).Inc()
		return false
	}
	b.m.enrichJobs.WithLabelValues(job.Kind, JobSubmitted).Inc()
	return true
}

// ServeEnrich consumes kind's jobs (durable consumer EnrichConsumer(kind), shared by every node
// that runs them, explicit acks) with run, and publishes each result on EnrichResultsSubject; a
// job is acknowledged, and so removed from the work queue, only once the stream has stored its
// result. A job whose run or publish fails is delivered again after RetryDelay, to any node; the
// last allowed attempt (MaxDeliver) failing counts it as failed and removes it. Jobs wait in the
// stream while no node serves them. Close the returned Consumer before what run uses.
func (b *Bus) ServeEnrich(ctx context.Context, kind string, cfg EnrichConfig, run EnrichFunc) (*Consumer, error) {
	subj, err := EnrichSubject(kind)
	if err != nil || kind == "results" {
		return nil, fmt.Errorf("natsbus: enrichment kind %q: not a job kind", kind)
	}
	cfg = cfg.withDefaults()
	durable := EnrichConsumer(kind)
	handler := func(ctx context.Context, m Msg) error {
		var job EnrichJob
		if err := json.Unmarshal(m.Data, &job); err != nil || job.Event.ID == "" || job.Kind != kind {
			b.log.Error("enrichment job does not parse, dropped", "subject", m.Subject, "id", m.ID, "err", err)
			b.m.enrichJobs.WithLabelValues(kind, JobFailed).Inc()
			return nil
		}
		err := b.runJob(ctx, job, run)
		return b.lastAttempt(kind, job.Event.ID, m, cfg.MaxDeliver, err)
	}
	return StartConsumer(ctx, b.conn, b.m, ConsumerConfig{Stream: EnrichStream, Durable: durable, FilterSubject: subj,
		AckWait: cfg.AckWait, RetryDelay: cfg.RetryDelay, MaxDeliver: cfg.MaxDeliver, MaxAckPending: enrichInHand,
		Handler: handler, Logger: b.cfg.Logger})
}

// runJob runs one job and publishes its result, waiting for the stream's acknowledgement.
func (b *Bus) runJob(ctx context.Context, job EnrichJob, run EnrichFunc) error {
	res, err := run(ctx, job)
	if err != nil {
		return fmt.Errorf("enrichment %s of %s: %w", job.Kind, job.Event.ID, err)
	}
	res.Kind, res.EventID, res.Node = job.Kind, job.Event.ID, b.cfg.Node
	data, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("enrichment result of %s: %w", job.Event.ID, err)
	}
	msg := &nats.Msg{Subject: EnrichResultsSubject, Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, EnrichResultID(job.Event.ID, job.Kind))
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ack, err := b.conn.js.PublishMsg(pctx, msg)
	if err != nil {
		return fmt.Errorf("enrichment result of %s not published: %w", job.Event.ID, err)
	}
	b.m.published.Inc()
	if ack.Duplicate { // the job ran before (its result already in the stream): stored once
		b.m.duplicates.Inc()
	}
	b.m.enrichJobs.WithLabelValues(job.Kind, JobDone).Inc()
	return nil
}

// lastAttempt turns a failed attempt into a retry, or, on the last allowed delivery, into a
// counted failure that acknowledges (removes) the message.
func (b *Bus) lastAttempt(kind, id string, m Msg, maxDeliver int, err error) error {
	if err == nil {
		return nil
	}
	if b.ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return err // closing: the message goes back for another node
	}
	if m.Delivered >= uint64(maxDeliver) {
		b.m.enrichJobs.WithLabelValues(kind, JobFailed).Inc()
		b.log.Error("enrichment failed on its last attempt, given up", "kind", kind, "event", id,
			"attempts", m.Delivered, "err", redact.Error(err))
		return nil
	}
	b.m.enrichJobs.WithLabelValues(kind, JobRetried).Inc()
	return err
}

// ServeEnrichResults consumes the results of enrichment jobs on the events node (durable consumer
// EnrichResultsConsumer, explicit acks) with apply, which stores each on its event; a result is
// acknowledged only after apply returned nil, delivered again after an error, and dropped after
// MaxDeliver attempts. Close the returned Consumer before the store.
func (b *Bus) ServeEnrichResults(ctx context.Context, cfg EnrichConfig, apply ResultFunc) (*Consumer, error) {
	cfg = cfg.withDefaults()
	handler := func(ctx context.Context, m Msg) error {
		var r EnrichResult
		if err := json.Unmarshal(m.Data, &r); err != nil || r.EventID == "" {
			b.log.Error("enrichment result does not parse, dropped", "id", m.ID, "err", err)
			return nil
		}
		err := apply(ctx, r)
		if err != nil && m.Delivered >= uint64(cfg.MaxDeliver) && b.ctx.Err() == nil {
			b.log.Error("enrichment result not stored on its last attempt, given up", "kind", r.Kind,
				"event", r.EventID, "err", redact.Error(err))
			return nil
		}
		return err
	}
	return StartConsumer(ctx, b.conn, b.m, ConsumerConfig{Stream: EnrichStream, Durable: EnrichResultsConsumer,
		FilterSubject: EnrichResultsSubject, AckWait: 30 * time.Second, RetryDelay: cfg.RetryDelay,
		MaxDeliver: cfg.MaxDeliver, MaxAckPending: 64, Handler: handler, Logger: b.cfg.Logger})
}
