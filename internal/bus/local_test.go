package bus

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/queue"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func ev(i int) event.Event {
	t := time.Date(2026, 11, 26, 10, 0, i, 0, time.UTC)
	return event.Event{ID: event.NewEventID(t), Camera: "door", Label: "person", Score: 0.9, Start: t, End: t}
}

// TestLocalEventsInOrderDropAndDrain: events arrive in order; a full queue drops and counts without
// blocking; Close refuses new events (counted) while NextEvent still drains the queued ones, then
// says ErrClosed.
func TestLocalEventsInOrderDropAndDrain(t *testing.T) {
	drops := prometheus.NewCounter(prometheus.CounterOpts{Name: "drops", Help: "drops"})
	b := NewLocal(LocalOptions{EventQueue: 2, Queue: queue.Options{Drops: drops}})
	ctx := context.Background()
	require.True(t, b.PublishEvent(ev(0)))
	require.True(t, b.PublishEvent(ev(1)))
	require.False(t, b.PublishEvent(ev(2)), "full: dropped")
	require.Equal(t, 1.0, testutil.ToFloat64(drops))
	got, err := b.NextEvent(ctx)
	require.NoError(t, err)
	require.Equal(t, ev(0).Start, got.Start)

	// A waiting consumer gets the next event published.
	done := make(chan event.Event)
	go func() {
		_, _ = b.NextEvent(ctx) // ev(1), queued
		e, err := b.NextEvent(ctx)
		if err == nil {
			done <- e
		}
		close(done)
	}()
	require.True(t, b.PublishEvent(ev(3)))
	require.Equal(t, ev(3).Start, (<-done).Start)

	require.True(t, b.PublishEvent(ev(4)))
	b.Close()
	b.Close()
	require.False(t, b.PublishEvent(ev(5)), "closed: dropped")
	require.Equal(t, 2.0, testutil.ToFloat64(drops))
	got, err = b.NextEvent(ctx)
	require.NoError(t, err, "queued before Close: still delivered")
	require.Equal(t, ev(4).Start, got.Start)
	_, err = b.NextEvent(ctx)
	require.ErrorIs(t, err, ErrClosed)
}

// TestLocalNextEventWaitsForCloseOrContext: a waiting NextEvent returns on Close and on its context.
func TestLocalNextEventWaitsForCloseOrContext(t *testing.T) {
	b := NewLocal(LocalOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := b.NextEvent(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	errc := make(chan error)
	go func() {
		_, err := b.NextEvent(context.Background())
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond) // let it wait; the result is the same if it has not yet
	b.Close()
	require.ErrorIs(t, <-errc, ErrClosed)
}

// fakeFleet is a worker's camera set for the command path.
type fakeFleet struct {
	Cameras
	added []string
}

func (f *fakeFleet) Add(_ context.Context, c config.Camera) error {
	f.added = append(f.added, c.Name)
	return nil
}

// TestLocalCameraCommands: commands reach the worker that serves them; without one they fail with
// ErrNoWorker.
func TestLocalCameraCommands(t *testing.T) {
	b := NewLocal(LocalOptions{})
	require.ErrorIs(t, b.Cameras().Add(context.Background(), config.Camera{Name: "door"}), ErrNoWorker)
	_, err := b.Cameras().State("door")
	require.ErrorIs(t, err, ErrNoWorker)
	require.Empty(t, b.Cameras().List())
	f := &fakeFleet{}
	b.ServeCameras(f)
	require.NoError(t, b.Cameras().Add(context.Background(), config.Camera{Name: "door"}))
	require.Equal(t, []string{"door"}, f.added)
}
