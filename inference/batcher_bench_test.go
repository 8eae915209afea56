package inference

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkBatcher measures end-to-end clips/s through a Batcher fed by 16 concurrent submitters (16
// cameras), with MaxBatch 1 (no batching) and 8, on the same classifier (one single-thread session
// set per CPU; a batch of one uses one of them), and prints the ratio.
//
//	go test -run '^$' -bench Batcher -benchtime 3s ./inference/
func BenchmarkBatcher(b *testing.B) {
	require.NoError(b, Init(RuntimeConfig{}))
	dir := benchModel()
	c, err := NewClassifier(dir, ClassifierConfig{FullRun: true, IntraOpThreads: 1, Workers: runtime.NumCPU()})
	require.NoError(b, err)
	defer c.Close()
	const cameras = 16
	rng := rand.New(rand.NewPCG(5, 6))
	clips := make([][]float32, cameras)
	for i := range clips {
		clips[i] = make([]float32, c.ClipSize())
		for j := range clips[i] {
			clips[i][j] = rng.Float32()*2 - 1
		}
	}
	rates := map[int]float64{}
	for _, maxBatch := range []int{1, 8} {
		b.Run(fmt.Sprintf("maxbatch=%d", maxBatch), func(b *testing.B) {
			bt := NewBatcher(c, BatcherConfig{MaxBatch: maxBatch, MaxWait: 5 * time.Millisecond, QueueSize: cameras})
			require.NoError(b, bt.Start())
			defer bt.Close()
			var mu sync.Mutex
			var firstErr error
			start := time.Now()
			var wg sync.WaitGroup
			per := (b.N + cameras - 1) / cameras
			for i := range cameras {
				wg.Go(func() {
					for range per {
						if _, err := bt.Submit(context.Background(), clips[i]); err != nil {
							mu.Lock()
							firstErr = err
							mu.Unlock()
							return
						}
					}
				})
			}
			wg.Wait()
			require.NoError(b, firstErr)
			rate := float64(per*cameras) / time.Since(start).Seconds()
			b.ReportMetric(rate, "clips/s")
			rates[maxBatch] = rate
		})
	}
	if rates[1] > 0 {
		fmt.Printf("batcher %s, %d submitters: maxbatch 1 %.0f clips/s, maxbatch 8 %.0f clips/s, %.2fx\n",
			dir, cameras, rates[1], rates[8], rates[8]/rates[1])
	}
}
