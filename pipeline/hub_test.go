package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestHubFanOutFilterAndSlowSubscriber(t *testing.T) {
	m, err := NewMetrics(prometheus.NewPedanticRegistry())
	require.NoError(t, err)
	h := NewHub(2, m)
	ctx := context.Background()
	fast := h.Subscribe(nil)
	slow := h.Subscribe(nil)
	doorOnly := h.Subscribe(func(e Event) bool { return e.Camera == "door" })
	require.Equal(t, 3, h.Subscribers())
	require.Equal(t, 3.0, testutil.ToFloat64(m.SSESubscribers))

	var got []string
	for i := 0; i < 5; i++ {
		cam := "door"
		if i%2 == 1 {
			cam = "yard"
		}
		ev := testEvent(cam, "person", 0.9, t0.Add(time.Duration(i)*time.Second))
		start := time.Now()
		require.NoError(t, h.Publish(ctx, ev))
		require.Less(t, time.Since(start), time.Second)
		got = append(got, (<-fast.C).ID) // the fast subscriber keeps up
	}
	require.Len(t, got, 5)
	require.Zero(t, fast.Dropped())
	// The slow one got the first two, the other three were dropped and counted.
	require.EqualValues(t, 3, slow.Dropped())
	require.Equal(t, got[0], (<-slow.C).ID)
	require.Equal(t, got[1], (<-slow.C).ID)
	// The filtered one saw door events 0, 2 (buffer 2), dropped 4.
	require.Equal(t, got[0], (<-doorOnly.C).ID)
	require.Equal(t, got[2], (<-doorOnly.C).ID)
	require.EqualValues(t, 1, doorOnly.Dropped())
	require.Equal(t, 4.0, testutil.ToFloat64(m.SSEDrops))

	slow.Close()
	slow.Close()
	_, open := <-slow.C
	require.False(t, open)
	require.Equal(t, 2, h.Subscribers())

	h.Close()
	_, open = <-fast.C
	require.False(t, open)
	_, open = <-h.Subscribe(nil).C
	require.False(t, open, "subscribing after Close gives a closed subscription")
	require.Equal(t, 0.0, testutil.ToFloat64(m.SSESubscribers))
	require.NoError(t, h.Publish(ctx, testEvent("door", "person", 0.9, t0)))
}
