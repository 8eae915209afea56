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

	"github.com/mvwatch/mvwatch/internal/config"
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

// Delivery is one event taken from an AckBus, with the acknowledgement the bus waits for.
type Delivery struct {
	// Event is the worker's event.
	Event event.Event
	// Redelivered reports that the bus may have delivered this event before (a lost
	// acknowledgement, a restarted event service): the store may hold it already.
	Redelivered bool
	// Done reports the outcome: nil once the event is durably stored (the bus then acknowledges it
	// and never delivers it again), an error to have it delivered again later. Call it once.
	Done func(error)
}

// AckBus is a Bus whose events are acknowledged by the event service once they are durably
// stored (NATS JetStream), so that none is lost between a worker and the store. The event service
// takes events with NextDelivery instead of NextEvent, from several goroutines at once if it likes
// (one camera's next event comes only after Done of its previous one, so each camera's stay in
// order while different cameras' writes share the store's fsync).
type AckBus interface {
	Bus
	// NextDelivery waits for the next event, like NextEvent, and returns it with its
	// acknowledgement.
	NextDelivery(ctx context.Context) (Delivery, error)
}

// Assigning is implemented by a bus that decides which cameras a worker runs (NATS: camera leases
// over a fleet-wide camera set). The worker then starts no camera of its own: the bus adds and
// removes cameras on the fleet given to ServeCameras.
type Assigning interface {
	// AssignsCameras reports whether the bus assigns the cameras.
	AssignsCameras() bool
}

// AssignsCameras reports whether b assigns the worker's cameras (see Assigning).
func AssignsCameras(b Bus) bool {
	a, ok := b.(Assigning)
	return ok && a.AssignsCameras()
}

// CameraSeeder is implemented by a camera surface backed by a shared camera set (NATS key-value):
// the event service seeds it with the configured cameras at start.
type CameraSeeder interface {
	// SeedCameras adds each of cams that the set does not hold, and writes each that it holds with
	// another config (cams are the file's cameras with this node's API changes applied, the
	// desired set); cameras in the set that cams does not name are kept.
	SeedCameras(ctx context.Context, cams []config.Camera) error
}
