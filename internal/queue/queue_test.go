package queue

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestQueueDropsNewestAndCounts(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	drops := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mvwatch_queue_dropped_total",
		Help: "Items dropped by a full bounded queue."}, []string{"queue", "camera"})
	depth := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mvwatch_queue_depth",
		Help: "Items in a bounded queue."}, []string{"queue", "camera"})
	reg.MustRegister(drops, depth)
	calls := 0
	q := New[int](3, Options{
		Drops:  drops.WithLabelValues("clips", "door"),
		Depth:  depth.WithLabelValues("clips", "door"),
		OnDrop: func() { calls++ },
	})
	for i := 0; i < 5; i++ {
		require.Equal(t, i < 3, q.Push(i))
	}
	require.Equal(t, 3, q.Len())
	require.Equal(t, 3, q.Cap())
	require.EqualValues(t, 2, q.Dropped())
	require.Equal(t, 2, calls)
	require.NoError(t, testutil.CollectAndCompare(reg, strings.NewReader(`
# HELP mvwatch_queue_depth Items in a bounded queue.
# TYPE mvwatch_queue_depth gauge
mvwatch_queue_depth{camera="door",queue="clips"} 3
# HELP mvwatch_queue_dropped_total Items dropped by a full bounded queue.
# TYPE mvwatch_queue_dropped_total counter
mvwatch_queue_dropped_total{camera="door",queue="clips"} 2
`), "mvwatch_queue_depth", "mvwatch_queue_dropped_total"))

	v, err := q.Pop(context.Background())
	require.NoError(t, err)
	require.Equal(t, 0, v)
	v, ok := q.TryPop()
	require.True(t, ok)
	require.Equal(t, 1, v)
	require.Equal(t, 1.0, testutil.ToFloat64(depth.WithLabelValues("clips", "door")))
	_, _ = q.TryPop()
	_, ok = q.TryPop()
	require.False(t, ok)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = q.Pop(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestQueueDropOldestKeepsFreshest(t *testing.T) {
	q := New[int](2, Options{DropOldest: true})
	for i := 0; i < 5; i++ {
		q.Push(i)
	}
	a, _ := q.TryPop()
	b, _ := q.TryPop()
	require.Equal(t, []int{3, 4}, []int{a, b})
	require.EqualValues(t, 3, q.Dropped())
}

func TestQueueNeverBlocksProducers(t *testing.T) {
	q := New[int](8, Options{DropOldest: true})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	got := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if _, err := q.Pop(ctx); err != nil {
				return
			}
			got++
		}
	}()
	var pw sync.WaitGroup
	for p := 0; p < 4; p++ {
		pw.Add(1)
		go func() {
			defer pw.Done()
			for i := 0; i < 1000; i++ {
				q.Push(i)
			}
		}()
	}
	pw.Wait()
	require.Eventually(t, func() bool { return q.Len() == 0 }, 5*time.Second, time.Millisecond)
	cancel()
	wg.Wait()
	require.EqualValues(t, 4000, uint64(got)+q.Dropped())
}

func TestQueueDropCounts(t *testing.T) {
	q := New[int](1, Options{})
	q.Drop()
	require.EqualValues(t, 1, q.Dropped())
	require.Equal(t, 0, q.Len())
}
