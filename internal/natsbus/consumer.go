package natsbus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mvwatch/mvwatch/internal/backoff"
	"github.com/mvwatch/mvwatch/internal/redact"
)

// Msg is one message handed to a consumer's handler.
type Msg struct {
	// Subject is the message's subject (e.g. mvwatch.events.<camera>).
	Subject string
	// ID is the publisher's message id (Nats-Msg-Id): the event id, or the id of an update.
	ID string
	// Data is the payload.
	Data []byte
	// Delivered counts deliveries of this message, 1 the first time; above 1 it is a redelivery
	// (the handler failed, or its acknowledgement was lost), which the handler must tolerate (the
	// store deduplicates by event id).
	Delivered uint64
	// Sequence is the message's sequence in the stream.
	Sequence uint64
}

// Handler handles one message. It returns nil only once the message's effect is durable (for the
// event store: after its fsync); then the message is acknowledged. An error leaves it
// unacknowledged: it is delivered again after ConsumerConfig.RetryDelay.
type Handler func(ctx context.Context, m Msg) error

// ConsumerConfig configures a durable pull consumer. Zero values take the defaults.
type ConsumerConfig struct {
	// Stream is the stream to consume (EventsStream or EnrichStream).
	Stream string
	// Durable is the consumer's durable name, shared by every node that does the same work (they
	// then split the messages between them), e.g. "store" or "enrich-caption".
	Durable string
	// FilterSubject restricts the consumer to some subjects (e.g. "mvwatch.enrich.caption"). It
	// defaults to the whole stream.
	FilterSubject string
	// AckWait is how long a delivered message may stay unacknowledged before it is delivered
	// again (a handler that hangs, a node that died). It defaults to 30 s.
	AckWait time.Duration
	// MaxAckPending caps the messages delivered and not yet acknowledged. It defaults to 1000.
	MaxAckPending int
	// RetryDelay is the pause before a message whose handler failed is delivered again. It
	// defaults to 1 s.
	RetryDelay time.Duration
	// Replicas is the consumer's replica count in a cluster (0: the stream's).
	Replicas int
	// MaxDeliver bounds how often a message is delivered (a handler that keeps failing); the
	// handler sees Msg.Delivered and decides what to do with the last attempt. It defaults to 0:
	// no bound.
	MaxDeliver int
	// Handler handles each message (required).
	Handler Handler
	// Concurrency is how many messages are handled at once (so that a store batching concurrent
	// writes into one fsync can). Messages of one subject (one camera) always go to the same
	// handler goroutine, in stream order. It defaults to 1.
	Concurrency int
	// Logger receives handler failures and reconnections (rate limited). It defaults to
	// slog.Default().
	Logger *slog.Logger
}

// Consumer runs a handler over a durable pull consumer with explicit acknowledgements: a message is
// acknowledged only after its handler returned nil; otherwise (an error, a crash, a node gone) it is
// delivered again, to this node or another one sharing the durable name.
type Consumer struct {
	cfg    ConsumerConfig
	js     jetstream.JetStream
	m      *Metrics
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	logMu   sync.Mutex
	lastLog time.Time // of a handler failure
}

// StartConsumer creates (or updates) the durable consumer and starts handling its messages. The
// stream must exist (EnsureStreams). m may be nil.
func StartConsumer(ctx context.Context, c *Conn, m *Metrics, cfg ConsumerConfig) (*Consumer, error) {
	if m == nil {
		m, _ = NewMetrics(nil)
	}
	if cfg.Stream == "" || cfg.Durable == "" || cfg.Handler == nil {
		return nil, errors.New("natsbus: consumer needs a stream, a durable name and a handler")
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.MaxAckPending <= 0 {
		cfg.MaxAckPending = 1000
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	k := &Consumer{cfg: cfg, js: c.js, m: m, done: make(chan struct{}),
		log: cfg.Logger.With("component", "nats-consumer", "stream", cfg.Stream, "consumer", cfg.Durable)}
	cons, err := k.ensure(ctx)
	if err != nil {
		return nil, err
	}
	k.ctx, k.cancel = context.WithCancel(context.Background())
	go k.run(cons)
	return k, nil
}

func (k *Consumer) ensure(ctx context.Context) (jetstream.Consumer, error) {
	cons, err := k.js.CreateOrUpdateConsumer(ctx, k.cfg.Stream, jetstream.ConsumerConfig{
		Durable:       k.cfg.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       k.cfg.AckWait,
		MaxDeliver:    maxDeliver(k.cfg.MaxDeliver),
		MaxAckPending: k.cfg.MaxAckPending,
		FilterSubject: k.cfg.FilterSubject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		Replicas:      k.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: consumer %s on %s: %w", k.cfg.Durable, k.cfg.Stream, err)
	}
	return cons, nil
}

// maxDeliver is the server's MaxDeliver for n (0 or less: -1, no bound).
func maxDeliver(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// Close stops taking messages, waits for the handler running now (its context is cancelled) and
// returns. Messages delivered and not acknowledged are delivered again after AckWait.
func (k *Consumer) Close() {
	k.cancel()
	<-k.done
}

func (k *Consumer) run(cons jetstream.Consumer) {
	defer close(k.done)
	lanes := make([]chan jetstream.Msg, k.cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range lanes {
		lanes[i] = make(chan jetstream.Msg, 16)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for msg := range lanes[i] {
				if k.ctx.Err() != nil {
					_ = msg.Nak() // closing: back to the stream for another consumer
					continue
				}
				k.handle(msg)
			}
		}()
	}
	defer func() {
		for _, l := range lanes {
			close(l)
		}
		wg.Wait()
	}()
	bo := backoff.Backoff{Initial: 200 * time.Millisecond, Max: 5 * time.Second, Jitter: backoff.EqualJitter}
	for k.ctx.Err() == nil {
		if cons == nil {
			var err error
			if cons, err = k.ensure(k.ctx); err != nil {
				k.pause(&bo, "consumer not available", err)
				continue
			}
		}
		if err := k.consume(cons, lanes); err != nil {
			cons = nil // it may have been deleted or the stream recreated: ensure it again
			k.pause(&bo, "consumer interrupted", err)
			continue
		}
		bo.Reset()
	}
}

func (k *Consumer) pause(bo *backoff.Backoff, what string, err error) {
	if k.ctx.Err() != nil {
		return
	}
	if bo.Attempts() < 3 || bo.Attempts()%20 == 0 {
		k.log.Warn(what, "err", redact.Error(err))
	}
	select {
	case <-time.After(bo.Next()):
	case <-k.ctx.Done():
	}
}

// consume handles messages from one iterator until it fails or Close; nil means Close.
func (k *Consumer) consume(cons jetstream.Consumer, lanes []chan jetstream.Msg) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(min(k.cfg.MaxAckPending, 256)))
	if err != nil {
		return err
	}
	for {
		msg, err := it.Next(jetstream.NextContext(k.ctx))
		if err != nil {
			if k.ctx.Err() != nil {
				k.handBack(it)
				return nil //nolint:nilerr // closing: the iterator's error is only the shutdown's
			}
			it.Stop()
			return err
		}
		lane := 0
		if len(lanes) > 1 {
			h := fnv.New32a()
			h.Write([]byte(msg.Subject()))
			lane = int(h.Sum32() % uint32(len(lanes)))
		}
		lanes[lane] <- msg
	}
}

// handBack gives the messages pulled and not handled back to the stream at Close (a negative
// acknowledgement), so that another consumer gets them at once rather than after AckWait.
func (k *Consumer) handBack(it jetstream.MessagesContext) {
	it.Drain()
	for {
		msg, err := it.Next(jetstream.NextMaxWait(time.Second))
		if err != nil {
			return
		}
		_ = msg.Nak()
	}
}

func (k *Consumer) handle(msg jetstream.Msg) {
	m := Msg{Subject: msg.Subject(), Data: msg.Data(), ID: msg.Headers().Get(jetstream.MsgIDHeader)}
	if md, err := msg.Metadata(); err == nil {
		m.Delivered, m.Sequence = md.NumDelivered, md.Sequence.Stream
	}
	if m.Delivered > 1 {
		k.m.redelivered.WithLabelValues(k.cfg.Durable).Inc()
	}
	if err := k.cfg.Handler(k.ctx, m); err != nil {
		k.m.handlerErrors.WithLabelValues(k.cfg.Durable).Inc()
		k.logMu.Lock()
		quiet := time.Since(k.lastLog) < 10*time.Second
		if !quiet {
			k.lastLog = time.Now()
		}
		k.logMu.Unlock()
		if quiet {
			_ = msg.NakWithDelay(k.cfg.RetryDelay)
			return
		}
		k.log.Warn("handler failed; message will be delivered again", "subject", m.Subject, "id", m.ID,
			"delivered", m.Delivered, "err", redact.Error(err))
		if err := msg.NakWithDelay(k.cfg.RetryDelay); err != nil {
			k.log.Debug("nak failed (redelivered after the ack wait)", "err", err)
		}
		return
	}
	if err := msg.Ack(); err != nil {
		// The effect is durable; the message comes again after AckWait and the handler sees a
		// duplicate it already has.
		k.log.Warn("ack failed; message will be delivered again", "id", m.ID, "err", redact.Error(err))
		return
	}
	k.m.consumed.WithLabelValues(k.cfg.Durable).Inc()
}
