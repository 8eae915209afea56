// Package livehub fans stored events out to live subscribers (the API's Server-Sent Events stream).
// Each subscriber has its own bounded queue (internal/queue): when a slow subscriber's queue is full
// the event is dropped for that subscriber only and counted; publishing never blocks. It owns
// mvwatch_sse_subscribers and mvwatch_sse_dropped_total.
package livehub

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/queue"
)

// ErrClosed is returned by Subscription.Next once the subscription or the hub is closed.
var ErrClosed = errors.New("livehub: subscription closed")

// Message is what a subscriber receives: a newly stored event, or (Update) a stored event sent again
// because a stage (caption, thumbnail) added to it.
type Message struct {
	Event  event.Event
	Update bool
}

// Metrics are the hub's metrics.
type Metrics struct {
	// Subscribers is the number of live-event subscribers: mvwatch_sse_subscribers.
	Subscribers prometheus.Gauge
	// Drops counts events dropped for slow live subscribers: mvwatch_sse_dropped_total.
	Drops prometheus.Counter
}

// NewMetrics creates the hub's metrics and registers them on reg (never the global registry).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Subscribers: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mvwatch_sse_subscribers", Help: "Live-event subscribers."}),
		Drops:       prometheus.NewCounter(prometheus.CounterOpts{Name: "mvwatch_sse_dropped_total", Help: "Events dropped for slow live-event subscribers."}),
	}
	for _, c := range m.Collectors() {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("livehub metrics: %w", err)
		}
	}
	return m, nil
}

// Collectors lists the hub's metrics.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Subscribers, m.Drops}
}

// Hub fans live events out to subscribers. Publish never blocks. Safe for concurrent use.
type Hub struct {
	buffer  int
	metrics *Metrics

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
}

// Subscription receives live events through Next until it is closed (by Close or Hub.Close).
type Subscription struct {
	q      *queue.Queue[Message]
	filter func(event.Event) bool
	hub    *Hub
	ctx    context.Context // done when the subscription ends
	cancel context.CancelFunc
}

// New returns a hub with per-subscriber queues of buffer events (at least 1). metrics may be nil.
func New(buffer int, metrics *Metrics) *Hub {
	return &Hub{buffer: max(buffer, 1), metrics: metrics, subs: map[*Subscription]struct{}{}}
}

// Subscribe registers a subscriber for the events that filter accepts (nil: all). After Hub.Close it
// returns an already-closed subscription.
func (h *Hub) Subscribe(filter func(event.Event) bool) *Subscription {
	qo := queue.Options{}
	if h.metrics != nil {
		qo.Drops = h.metrics.Drops
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Subscription{q: queue.New[Message](h.buffer, qo), filter: filter, hub: h, ctx: ctx, cancel: cancel}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		cancel()
		return s
	}
	h.subs[s] = struct{}{}
	if h.metrics != nil {
		h.metrics.Subscribers.Inc()
	}
	return s
}

// Publish delivers a newly stored event to every matching subscriber without blocking.
func (h *Hub) Publish(ev event.Event) { h.send(Message{Event: ev}) }

// PublishUpdate delivers a stored event again, as an update, to every matching subscriber.
func (h *Hub) PublishUpdate(ev event.Event) { h.send(Message{Event: ev, Update: true}) }

func (h *Hub) send(m Message) {
	m.Event.Keyframe = nil
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.filter != nil && !s.filter(m.Event) {
			continue
		}
		s.q.Push(m) // a full queue drops and counts
	}
}

// Subscribers returns the number of current subscribers.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Close ends every subscription and refuses new ones (they start closed).
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		h.remove(s)
	}
}

// remove ends s; h.mu must be held.
func (h *Hub) remove(s *Subscription) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	if h.metrics != nil {
		h.metrics.Subscribers.Dec()
	}
	s.cancel()
}

// Next waits for the subscriber's next message. It returns ErrClosed once the subscription has
// ended, and ctx's error when ctx ends first.
func (s *Subscription) Next(ctx context.Context) (Message, error) {
	if s.ctx.Err() != nil {
		return Message{}, ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	m, err := s.q.Pop(ctx)
	if err != nil {
		if s.ctx.Err() != nil {
			return Message{}, ErrClosed
		}
		return Message{}, err
	}
	return m, nil
}

// Dropped returns how many events were dropped for this subscriber because its queue was full.
func (s *Subscription) Dropped() uint64 { return s.q.Dropped() }

// Close ends the subscription. Safe to call more than once.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.remove(s)
	s.cancel()
}
