package bus

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/queue"
)

// LocalOptions configures a Local bus.
type LocalOptions struct {
	// EventQueue bounds the events waiting for the event service. It defaults to 4096.
	EventQueue int
	// Queue carries the drop counter and depth gauge of the event queue (mvwatch_queue_*{queue="events"}).
	Queue queue.Options
}

// Local is the in-process Bus: a bounded event queue that drops and counts (internal/queue), and
// camera commands passed straight to the worker's fleet. Safe for concurrent use.
type Local struct {
	events *queue.Queue[event.Event]
	closed atomic.Bool
	done   context.Context
	close  context.CancelFunc

	mu   sync.RWMutex
	cams Cameras
}

// NewLocal returns an in-process bus.
func NewLocal(opts LocalOptions) *Local {
	if opts.EventQueue <= 0 {
		opts.EventQueue = 4096
	}
	done, cancel := context.WithCancel(context.Background())
	return &Local{events: queue.New[event.Event](opts.EventQueue, opts.Queue), done: done, close: cancel}
}

// PublishEvent implements Bus.
func (l *Local) PublishEvent(ev event.Event) bool {
	if l.closed.Load() {
		l.events.Drop()
		return false
	}
	return l.events.Push(ev)
}

// NextEvent implements Bus.
func (l *Local) NextEvent(ctx context.Context) (event.Event, error) {
	for {
		if ev, ok := l.events.TryPop(); ok {
			return ev, nil
		}
		if l.closed.Load() {
			return event.Event{}, ErrClosed
		}
		wait, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(l.done, cancel)
		ev, err := l.events.Pop(wait)
		stop()
		cancel()
		if err == nil {
			return ev, nil
		}
		if ctx.Err() != nil {
			return event.Event{}, ctx.Err()
		}
		// Closed meanwhile: drain.
	}
}

// Close implements Bus. It is safe to call more than once.
func (l *Local) Close() {
	l.closed.Store(true)
	l.close()
}

// ServeCameras implements Bus.
func (l *Local) ServeCameras(c Cameras) {
	l.mu.Lock()
	l.cams = c
	l.mu.Unlock()
}

// Cameras implements Bus: the commands go straight to the fleet ServeCameras registered.
func (l *Local) Cameras() Cameras { return localCameras{l} }

func (l *Local) worker() (Cameras, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.cams == nil {
		return nil, ErrNoWorker
	}
	return l.cams, nil
}

// localCameras forwards to the registered worker.
type localCameras struct{ l *Local }

func (c localCameras) List() []config.Camera {
	w, err := c.l.worker()
	if err != nil {
		return nil
	}
	return w.List()
}

func (c localCameras) Get(name string) (config.Camera, error) {
	w, err := c.l.worker()
	if err != nil {
		return config.Camera{}, err
	}
	return w.Get(name)
}

func (c localCameras) Add(ctx context.Context, cam config.Camera) error {
	w, err := c.l.worker()
	if err != nil {
		return err
	}
	return w.Add(ctx, cam)
}

func (c localCameras) Replace(ctx context.Context, cam config.Camera) error {
	w, err := c.l.worker()
	if err != nil {
		return err
	}
	return w.Replace(ctx, cam)
}

func (c localCameras) Remove(ctx context.Context, name string) error {
	w, err := c.l.worker()
	if err != nil {
		return err
	}
	return w.Remove(ctx, name)
}

func (c localCameras) State(name string) (CameraState, error) {
	w, err := c.l.worker()
	if err != nil {
		return CameraState{}, err
	}
	return w.State(name)
}

var _ Bus = (*Local)(nil)
