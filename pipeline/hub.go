package pipeline

import (
	"context"
	"sync"
	"sync/atomic"
)

// Hub is a Sink that fans live events out to subscribers (the SSE endpoint). Each subscriber has a
// bounded buffer; when a slow subscriber's buffer is full the event is dropped for that subscriber
// only and counted. Publish never blocks.
type Hub struct {
	buffer  int
	metrics *Metrics

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
}

// Subscription receives live events on C until it is closed (by Close or Hub.Close).
type Subscription struct {
	// C delivers events; it is closed when the subscription ends.
	C <-chan Event

	ch      chan Event
	filter  func(Event) bool
	hub     *Hub
	dropped atomic.Uint64
	once    sync.Once
}

// NewHub returns a hub with per-subscriber buffers of buffer events (at least 1). metrics may be nil.
func NewHub(buffer int, metrics *Metrics) *Hub {
	return &Hub{buffer: max(buffer, 1), metrics: metrics, subs: map[*Subscription]struct{}{}}
}

// Subscribe registers a subscriber for the events that filter accepts (nil: all). After Hub.Close it
// returns an already-closed subscription.
func (h *Hub) Subscribe(filter func(Event) bool) *Subscription {
	ch := make(chan Event, h.buffer)
	s := &Subscription{C: ch, ch: ch, filter: filter, hub: h}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.once.Do(func() { close(ch) })
		return s
	}
	h.subs[s] = struct{}{}
	if h.metrics != nil {
		h.metrics.SSESubscribers.Inc()
	}
	return s
}

// Publish delivers ev to every matching subscriber without blocking.
func (h *Hub) Publish(_ context.Context, ev Event) error {
	ev.Keyframe = nil
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.filter != nil && !s.filter(ev) {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			s.dropped.Add(1)
			if h.metrics != nil {
				h.metrics.SSEDrops.Inc()
			}
		}
	}
	return nil
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
		h.metrics.SSESubscribers.Dec()
	}
	s.once.Do(func() { close(s.ch) })
}

// Dropped returns how many events were dropped for this subscriber because its buffer was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription; C is closed. Safe to call more than once.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.remove(s)
}
