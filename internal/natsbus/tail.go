package natsbus

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Tail delivers the messages of a stream as they arrive, on an ordered ephemeral consumer: no
// acknowledgements and no state kept on the server, gaps refilled after a reconnect (it resumes
// after the last sequence it delivered). It suits what every node needs to see once, as it happens:
// the live hub's fan-out of the fleet's events. Work that must happen once per message (the store,
// webhooks, enrichment) uses a durable Consumer instead.
type Tail struct {
	cc jetstream.ConsumeContext
}

// TailConfig configures a Tail.
type TailConfig struct {
	// Stream is the stream to read (EventsStream).
	Stream string
	// Subject filters the stream (e.g. EventsSubjects, or one camera's EventSubject). It defaults
	// to the whole stream.
	Subject string
	// FromSeq, when not 0, starts at this stream sequence (a live view catching up); 0 starts
	// with the next message published.
	FromSeq uint64
	// Handler receives each message in stream order, from one goroutine. It must not block for
	// long (hand the message to a bounded queue).
	Handler func(Msg)
}

// StartTail starts a tail.
func StartTail(ctx context.Context, c *Conn, cfg TailConfig) (*Tail, error) {
	oc := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy}
	if cfg.Subject != "" {
		oc.FilterSubjects = []string{cfg.Subject}
	}
	if cfg.FromSeq > 0 {
		oc.DeliverPolicy, oc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, cfg.FromSeq
	}
	cons, err := c.js.OrderedConsumer(ctx, cfg.Stream, oc)
	if err != nil {
		return nil, fmt.Errorf("natsbus: tail %s: %w", cfg.Stream, err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		m := Msg{Subject: msg.Subject(), Data: msg.Data(), ID: msg.Headers().Get(jetstream.MsgIDHeader)}
		if md, err := msg.Metadata(); err == nil {
			m.Delivered, m.Sequence = md.NumDelivered, md.Sequence.Stream
		}
		cfg.Handler(m)
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: tail %s: %w", cfg.Stream, err)
	}
	return &Tail{cc: cc}, nil
}

// Close stops the tail and waits until the handler is no longer called.
func (t *Tail) Close() {
	t.cc.Stop()
	<-t.cc.Closed()
}
