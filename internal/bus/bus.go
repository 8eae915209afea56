// Package bus is the seam between camera workers (package pipeline) and the event service (store,
// live hub, webhooks, enrichment, API). Workers publish events and take camera commands through it; the
// event service consumes events and sends commands and state queries through it. Local is the
// in-process implementation; across machines the same interface is meant to sit on NATS JetStream
// (a stream for events with the event ID as message ID, a key-value bucket for the camera set and its
// states), without the worker or the event service changing.
package bus

import (
	"context"
	"errors"

	"github.com/mvwatch/mvwatch/internal/event"
)

// ErrClosed is returned by NextEvent once the bus is closed and every queued event was taken.
var ErrClosed = errors.New("bus: closed")

// ErrNoWorker is returned by camera commands when no worker serves the cameras.
var ErrNoWorker = errors.New("bus: no camera worker")

// Bus carries events from camera workers to the event service and camera commands back.
type Bus interface {
	// PublishEvent hands a worker's event to the event service without blocking. It reports false
	// when the event was dropped (a full queue or a closed bus; counted).
	PublishEvent(ev event.Event) bool
	// NextEvent waits for the next event for the event service. After Close it returns the events
	// still queued, then ErrClosed; it returns ctx's error when ctx ends first.
	NextEvent(ctx context.Context) (event.Event, error)
	// ServeCameras makes c (a worker's fleet) the receiver of camera commands and state queries.
	ServeCameras(c Cameras)
	// Cameras returns the event service's handle on the workers' cameras.
	Cameras() Cameras
	// Close stops accepting events; NextEvent drains what is queued.
	Close()
}
