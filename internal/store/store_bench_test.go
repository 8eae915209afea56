package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mvwatch/mvwatch/internal/event/eventtest"
)

// publishAll writes n events from w concurrent writers and returns the events per second.
func publishAll(b *testing.B, s *Store, n, w int) float64 {
	b.Helper()
	start := time.Now()
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/w; i++ {
				ev := eventtest.New(fmt.Sprintf("cam%d", k), "person", 0.8, eventtest.T0.Add(time.Duration(i)*time.Millisecond))
				if err := s.Publish(context.Background(), ev); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkStoreBatching measures durable writes from many cameras at once against a single writer in
// the same process: concurrent Publish calls share one fsync'd transaction (bbolt Batch).
// It reports both rates and their ratio.
func BenchmarkStoreBatching(b *testing.B) {
	const n, writers = 256, 16
	var base, batched float64
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		s1, err := Open(filepath.Join(dir, "a.db"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		s2, err := Open(filepath.Join(dir, "b.db"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		base += publishAll(b, s1, n, 1)
		batched += publishAll(b, s2, n, writers)
		b.StopTimer()
		_ = s1.Close()
		_ = s2.Close()
		b.StartTimer()
	}
	b.ReportMetric(base/float64(b.N), "events/s-1writer")
	b.ReportMetric(batched/float64(b.N), "events/s-16writers")
	b.ReportMetric(batched/base, "ratio")
}
