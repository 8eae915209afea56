// Package lifecycle is mvwatch's one owner of worker goroutines: a Group starts goroutines on a
// context of its own, and Close cancels that context and waits for every one of them.
package lifecycle

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed is returned by Go after Close.
var ErrClosed = errors.New("lifecycle: group closed")

// Group owns goroutines that share one context, derived from a parent at NewGroup: Go starts one,
// Close cancels the context and waits for all of them, returning their errors joined. A goroutine
// may simply return its context's error when that context ends: an error that only reports the end
// of the Group's context (context.Canceled or context.DeadlineExceeded, once it has ended) is not
// kept. Safe for concurrent use; the zero value is not usable.
type Group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex // guards closed (against wg.Add after Close) and errs
	closed bool
	errs   []error
}

// NewGroup returns a Group whose context is derived from parent; it starts nothing.
func NewGroup(parent context.Context) *Group {
	ctx, cancel := context.WithCancel(parent)
	return &Group{ctx: ctx, cancel: cancel}
}

// Context returns the Group's context, cancelled by Close (or with the parent).
func (g *Group) Context() context.Context { return g.ctx }

// Go runs fn on a new goroutine with the Group's context. After Close it returns ErrClosed and runs
// nothing.
func (g *Group) Go(fn func(ctx context.Context) error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := fn(g.ctx); err != nil && !g.ended(err) {
			g.mu.Lock()
			g.errs = append(g.errs, err)
			g.mu.Unlock()
		}
	}()
	return nil
}

// ended reports whether err only says that the Group's context has ended.
func (g *Group) ended(err error) bool {
	return g.ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// Close cancels the Group's context, waits for every goroutine started by Go and returns their
// errors: nil when there are none, the error itself when there is one, else errors.Join of them in
// the order they came. It may be called more than once, from any goroutine (but not from one of the
// Group's own); every call waits and returns the same.
func (g *Group) Close() error {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.cancel()
	g.wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	switch len(g.errs) {
	case 0:
		return nil
	case 1:
		return g.errs[0]
	default:
		return errors.Join(g.errs...)
	}
}
