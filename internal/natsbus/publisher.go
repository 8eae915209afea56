package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mvwatch/mvwatch/internal/backoff"
	"github.com/mvwatch/mvwatch/internal/queue"
	"github.com/mvwatch/mvwatch/internal/redact"
)

// PublisherConfig configures a Publisher. Zero values take the defaults.
type PublisherConfig struct {
	// Buffer is how many messages wait while NATS is slow or away; a full buffer drops the new
	// message and counts it (reason "full"). It defaults to 10000.
	Buffer int
	// InFlight is how many messages may be sent and not yet acknowledged. It defaults to 256.
	InFlight int
	// AckTimeout is how long a publish waits for the stream's acknowledgement before it is sent
	// again (same message id, so the stream stores it once). It defaults to 5 s.
	AckTimeout time.Duration
	// Logger receives refusals (rate limited). It defaults to slog.Default().
	Logger *slog.Logger
	// OnAck, when set, is called with the message id of each message the stream acknowledged
	// (stored, or a duplicate of one stored), from the sending goroutine; it must not block.
	OnAck func(msgID string)
}

// Publisher publishes messages to JetStream without ever blocking its caller: Publish puts the
// message in a bounded buffer (internal/queue) and one goroutine sends it, up to InFlight at a
// time, and sends again what was not acknowledged (a timeout, a lost connection, a stream
// temporarily unavailable) until the stream acknowledges it. The message id (Nats-Msg-Id) makes a
// message sent twice stored once within the stream's duplicate window. A message is dropped, and
// counted in mvwatch_bus_publish_dropped_total, only when the buffer is full, the stream refuses it
// (an API error: over its limits, too large), or Close gives up on it.
type Publisher struct {
	js  jetstream.JetStream
	m   *Metrics
	cfg PublisherConfig
	q   *queue.Queue[pending]
	log *slog.Logger

	mu     sync.RWMutex
	closed bool

	closing   chan struct{} // closed by Close: drain and stop
	closeOnce sync.Once
	abort     context.CancelFunc
	ctx       context.Context
	done      chan struct{}
}

// pending is one message waiting for the stream's acknowledgement.
type pending struct {
	subject string
	id      string
	data    []byte
}

// NewPublisher starts a publisher on c. m may be nil.
func NewPublisher(c *Conn, m *Metrics, cfg PublisherConfig) (*Publisher, error) {
	if m == nil {
		m, _ = NewMetrics(nil)
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 10000
	}
	if cfg.InFlight <= 0 {
		cfg.InFlight = 256
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// A JetStream context of its own, whose async window is the publisher's.
	js, err := jetstream.New(c.nc, jetstream.WithPublishAsyncMaxPending(cfg.InFlight),
		jetstream.WithPublishAsyncTimeout(cfg.AckTimeout))
	if err != nil {
		return nil, fmt.Errorf("natsbus: publisher: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Publisher{js: js, m: m, cfg: cfg, log: cfg.Logger.With("component", "nats-publisher"),
		q:       queue.New[pending](cfg.Buffer, queue.Options{Drops: m.dropped.WithLabelValues(DropFull), Depth: m.buffer}),
		closing: make(chan struct{}), abort: cancel, ctx: ctx, done: make(chan struct{})}
	go p.run()
	return p, nil
}

// Publish queues payload for subject with message id msgID (the event id, or the id of an event's
// update) without blocking. It reports false when the message was dropped (a full buffer or a closed
// publisher; counted).
func (p *Publisher) Publish(subject, msgID string, payload []byte) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		p.m.dropped.WithLabelValues(DropClosed).Inc()
		return false
	}
	return p.q.Push(pending{subject: subject, id: msgID, data: payload})
}

// PublishEvent queues an event (or event update) of camera on EventSubject(camera). It reports false
// when the message was dropped or camera is not a valid name.
func (p *Publisher) PublishEvent(camera, msgID string, payload []byte) bool {
	subj, err := EventSubject(camera)
	if err != nil {
		p.m.dropped.WithLabelValues(DropRefused).Inc()
		return false
	}
	return p.Publish(subj, msgID, payload)
}

// Buffered returns how many messages wait in the buffer (not counting those in flight).
func (p *Publisher) Buffered() int { return p.q.Len() }

// Close stops accepting messages and sends what is buffered or in flight until the stream has
// acknowledged it all or ctx ends; what is left then is dropped (counted, reason "closed") and Close
// returns ctx's error. Close waits for the sending goroutine; a second Close returns once it is done.
func (p *Publisher) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		close(p.closing)
	})
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		p.abort()
		<-p.done
		return fmt.Errorf("natsbus: publisher closed with messages unsent: %w", ctx.Err())
	}
}

// run sends batches of up to InFlight messages and waits for their acknowledgements; what was not
// acknowledged (and not refused) is sent again first, after a backoff pause when nothing went
// through.
func (p *Publisher) run() {
	defer close(p.done)
	defer p.abort()
	bo := backoff.Backoff{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Jitter: backoff.EqualJitter}
	var retry []pending
	var lastLog time.Time
	for {
		batch := retry
		if len(batch) == 0 {
			first, ok := p.next()
			if !ok {
				return
			}
			batch = append(batch, first)
		}
		for len(batch) < p.cfg.InFlight {
			v, ok := p.q.TryPop()
			if !ok {
				break
			}
			batch = append(batch, v)
		}
		acked := 0
		retry = p.send(batch, &acked, &lastLog)
		if len(retry) == 0 {
			bo.Reset()
			continue
		}
		p.m.retries.Add(float64(len(retry)))
		if acked > 0 {
			bo.Reset()
		}
		select {
		case <-time.After(bo.Next()):
		case <-p.ctx.Done():
			p.m.dropped.WithLabelValues(DropClosed).Add(float64(len(retry)))
			p.dropRest()
			return
		}
	}
}

// next waits for the next buffered message; after Close it returns false once the buffer is empty,
// and at once when Close gave up (the rest is counted as dropped).
func (p *Publisher) next() (pending, bool) {
	if p.ctx.Err() != nil {
		p.dropRest()
		return pending{}, false
	}
	if v, ok := p.q.TryPop(); ok {
		return v, true
	}
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	go func() {
		select {
		case <-p.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	v, err := p.q.Pop(ctx)
	if err == nil {
		return v, true
	}
	if p.ctx.Err() != nil {
		p.dropRest()
		return pending{}, false
	}
	// Closing: take what is left, stop when the buffer is empty.
	return p.q.TryPop()
}

// dropRest counts everything still buffered as dropped at close.
func (p *Publisher) dropRest() {
	for {
		if _, ok := p.q.TryPop(); !ok {
			return
		}
		p.m.dropped.WithLabelValues(DropClosed).Inc()
	}
}

// send publishes batch and waits for each acknowledgement. It returns the messages to send again.
func (p *Publisher) send(batch []pending, acked *int, lastLog *time.Time) []pending {
	futures := make([]jetstream.PubAckFuture, len(batch))
	var retry []pending
	for i, v := range batch {
		msg := &nats.Msg{Subject: v.subject, Data: v.data, Header: nats.Header{}}
		if v.id != "" {
			msg.Header.Set(jetstream.MsgIDHeader, v.id)
		}
		f, err := p.js.PublishMsgAsync(msg)
		if err != nil {
			retry = append(retry, v)
			continue
		}
		futures[i] = f
	}
	p.m.inFlight.Set(float64(len(batch) - len(retry)))
	defer p.m.inFlight.Set(0)
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case ack := <-f.Ok():
			*acked++
			p.m.published.Inc()
			if ack.Duplicate {
				p.m.duplicates.Inc()
			}
			if p.cfg.OnAck != nil {
				p.cfg.OnAck(batch[i].id)
			}
		case err := <-f.Err():
			if refused(err) {
				p.m.dropped.WithLabelValues(DropRefused).Inc()
				if time.Since(*lastLog) > 10*time.Second {
					*lastLog = time.Now()
					p.log.Warn("stream refused a message (dropped, counted)", "subject", batch[i].subject,
						"id", batch[i].id, "err", redact.Error(err))
				}
				continue
			}
			retry = append(retry, batch[i])
		case <-p.ctx.Done():
			retry = append(retry, batch[i])
		}
	}
	return retry
}

// errCodeStoreFailed is JetStream's error code for a message the stream would not store (over its
// byte or message limits, too large); it comes with HTTP code 503 but is final.
const errCodeStoreFailed = 10077

// refused reports whether err is the stream's final answer (an API error: over its limits, message
// too large, ...), as opposed to a timeout, a lost connection or a stream temporarily unavailable
// (503, e.g. a cluster electing a leader), which are worth another try.
func refused(err error) bool {
	var je jetstream.JetStreamError
	if !errors.As(err, &je) || je.APIError() == nil {
		return false
	}
	ae := je.APIError()
	return ae.ErrorCode == errCodeStoreFailed || ae.Code != http.StatusServiceUnavailable
}
