package livehub

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/event"

	"github.com/mvwatch/mvwatch/internal/event/eventtest"
)

// recv is the next message of s; it fails the test after a second without one.
func recv(t *testing.T, s *Subscription) event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	m, err := s.Next(ctx)
	require.NoError(t, err)
	return m.Event
}

// isOpen reports whether s still delivers (false once it is closed).
func isOpen(s *Subscription) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := s.Next(ctx)
	return !errors.Is(err, ErrClosed)
}

func TestHubFanOutFilterAndSlowSubscriber(t *testing.T) {
	m, err := NewMetrics(prometheus.NewPedanticRegistry())
	require.NoError(t, err)
	h := New(2, m)
	fast := h.Subscribe(nil)
	slow := h.Subscribe(nil)
	doorOnly := h.Subscribe(func(e event.Event) bool { return e.Camera == "door" })
	require.Equal(t, 3, h.Subscribers())
	require.Equal(t, 3.0, testutil.ToFloat64(m.Subscribers))

	var got []string
	for i := 0; i < 5; i++ {
		cam := "door"
		if i%2 == 1 {
			cam = "yard"
		}
		ev := eventtest.New(cam, "person", 0.9, eventtest.T0.Add(time.Duration(i)*time.Second))
		start := time.Now()
		h.Publish(ev)
		require.Less(t, time.Since(start), time.Second)
		got = append(got, recv(t, fast).ID) // the fast subscriber keeps up
	}
	require.Len(t, got, 5)
	require.Zero(t, fast.Dropped())
	// The slow one got the first two, the other three were dropped and counted.
	require.EqualValues(t, 3, slow.Dropped())
	require.Equal(t, got[0], recv(t, slow).ID)
	require.Equal(t, got[1], recv(t, slow).ID)
	// The filtered one saw door events 0, 2 (buffer 2), dropped 4.
	require.Equal(t, got[0], recv(t, doorOnly).ID)
	require.Equal(t, got[2], recv(t, doorOnly).ID)
	require.EqualValues(t, 1, doorOnly.Dropped())
	require.Equal(t, 4.0, testutil.ToFloat64(m.Drops))

	slow.Close()
	slow.Close()
	require.False(t, isOpen(slow))
	require.Equal(t, 2, h.Subscribers())

	h.Close()
	require.False(t, isOpen(fast))
	require.False(t, isOpen(h.Subscribe(nil)), "subscribing after Close gives a closed subscription")
	require.Equal(t, 0.0, testutil.ToFloat64(m.Subscribers))
	h.Publish(eventtest.New("door", "person", 0.9, eventtest.T0))
}
