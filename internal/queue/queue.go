// Package queue holds the one bounded FIFO that mvwatch puts between stages: it never blocks a
// producer; when it is full it drops (the new item, or the oldest) and counts the drop.
package queue

import (
	"context"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Queue is a bounded FIFO between producers and one consumer stage that never blocks a producer:
// when it is full, Push drops (the newest item, or the oldest with DropOldest) and counts it.
// Push and Pop keep an optional depth gauge current. Safe for concurrent use.
type Queue[T any] struct {
	ch         chan T
	dropOldest bool
	dropped    atomic.Uint64
	drops      prometheus.Counter
	depth      prometheus.Gauge
	onDrop     func()
}

// Options configures a Queue.
type Options struct {
	// DropOldest makes a full queue drop its oldest item to admit the new one (fresh video matters
	// more than old video). It defaults to false: the new item is dropped.
	DropOldest bool
	// Drops counts dropped items. It defaults to nil (only Dropped counts).
	Drops prometheus.Counter
	// Depth tracks the queue length. It defaults to nil.
	Depth prometheus.Gauge
	// OnDrop, when set, is called after each drop (for a rate-limited log line, say). It must not
	// block. It defaults to nil.
	OnDrop func()
}

// New returns a queue holding at most capacity items (at least 1).
func New[T any](capacity int, opts Options) *Queue[T] {
	return &Queue[T]{ch: make(chan T, max(capacity, 1)), dropOldest: opts.DropOldest,
		drops: opts.Drops, depth: opts.Depth, onDrop: opts.OnDrop}
}

// Push adds v without blocking. It returns false when an item (v, or the oldest with DropOldest)
// was dropped.
func (q *Queue[T]) Push(v T) bool {
	defer q.updateDepth()
	ok := true
	for {
		select {
		case q.ch <- v:
			return ok
		default:
		}
		if !q.dropOldest {
			q.drop()
			return false
		}
		// Make room by dropping the oldest; another producer may take the room first, so loop.
		select {
		case <-q.ch:
			q.drop()
			ok = false
		default:
		}
	}
}

// Drop counts one item as dropped without queueing it, for a producer that refuses an item
// for its own reasons (the consumer is closed, say) and wants it in the same count.
func (q *Queue[T]) Drop() {
	q.drop()
}

func (q *Queue[T]) drop() {
	q.dropped.Add(1)
	if q.drops != nil {
		q.drops.Inc()
	}
	if q.onDrop != nil {
		q.onDrop()
	}
}

func (q *Queue[T]) updateDepth() {
	if q.depth != nil {
		q.depth.Set(float64(len(q.ch)))
	}
}

// Pop waits for the next item or for ctx to end (then it returns ctx's error).
func (q *Queue[T]) Pop(ctx context.Context) (T, error) {
	select {
	case v := <-q.ch:
		q.updateDepth()
		return v, nil
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// TryPop returns the next item if there is one, without waiting.
func (q *Queue[T]) TryPop() (T, bool) {
	select {
	case v := <-q.ch:
		q.updateDepth()
		return v, true
	default:
		var zero T
		return zero, false
	}
}

// Len returns the number of queued items.
func (q *Queue[T]) Len() int { return len(q.ch) }

// Cap returns the queue's capacity.
func (q *Queue[T]) Cap() int { return cap(q.ch) }

// Dropped returns how many items were dropped so far.
func (q *Queue[T]) Dropped() uint64 { return q.dropped.Load() }
