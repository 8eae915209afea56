package inference

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// benchModel is the model the throughput benchmarks run: $MVWATCH_BENCH_MODEL, else the trained
// model when it is there, else the tiny test model.
func benchModel() string {
	if dir := os.Getenv("MVWATCH_BENCH_MODEL"); dir != "" {
		return dir
	}
	if _, err := os.Stat(filepath.Join(shippedMFCD, ManifestFile)); err == nil {
		return shippedMFCD
	}
	return tinyMFCD
}

func TestMeasureThroughput(t *testing.T) {
	require.NoError(t, Init(RuntimeConfig{}))
	res, err := MeasureThroughput(tinyMFCD, ThroughputConfig{BatchSizes: []int{1, 3}, Duration: 100 * time.Millisecond, Rounds: 2})
	require.NoError(t, err)
	require.Len(t, res, 2)
	require.Equal(t, 1, res[0].Batch)
	require.Equal(t, 3, res[1].Batch)
	require.InDelta(t, 1, res[0].Ratio, 1e-12)
	for _, r := range res {
		require.Positive(t, r.Clips)
		require.Zero(t, r.Clips%r.Batch)
		require.InDelta(t, float64(r.Clips)/r.Seconds, r.ClipsPerSecond, 1e-9)
	}
	_, err = MeasureThroughput(tinyMFCD, ThroughputConfig{BatchSizes: []int{0}})
	require.Error(t, err)
	_, err = MeasureThroughput("testdata/absent", ThroughputConfig{})
	require.ErrorIs(t, err, ErrBadManifest)
}

// BenchmarkClassifierBatch measures clips/s at batch 1, 4 and 8 on one classifier (every clip through
// every stage) and prints each batch size's throughput over batch 1's.
//
//	go test -run '^$' -bench ClassifierBatch -benchtime 3s ./inference/
func BenchmarkClassifierBatch(b *testing.B) {
	require.NoError(b, Init(RuntimeConfig{}))
	dir := benchModel()
	c, err := NewClassifier(dir, ClassifierConfig{FullRun: true})
	require.NoError(b, err)
	defer c.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	clips := make([][]float32, c.MaxBatch())
	for i := range clips {
		clips[i] = make([]float32, c.ClipSize())
		for j := range clips[i] {
			clips[i][j] = rng.Float32()*2 - 1
		}
	}
	out := make([]Result, len(clips))
	rates := map[int]float64{}
	sizes := []int{1, 4, 8}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			require.NoError(b, c.Classify(clips[:n], out[:n]))
			b.ResetTimer()
			for b.Loop() {
				if err := c.Classify(clips[:n], out[:n]); err != nil {
					b.Fatal(err)
				}
			}
			rate := float64(b.N*n) / b.Elapsed().Seconds()
			b.ReportMetric(rate, "clips/s")
			rates[n] = rate
		})
	}
	if rates[1] > 0 {
		for _, n := range sizes {
			fmt.Printf("classifier %s batch=%d: %.0f clips/s, %.2fx batch 1\n", dir, n, rates[n], rates[n]/rates[1])
		}
	}
}

// BenchmarkMeasureThroughput runs MeasureThroughput (the figure `mvwatch bench serve` reports) for
// FP32 and INT8: one session set with the environment's intra-op threads, one with a single thread,
// and one single-thread session set per CPU (Workers), batch sizes interleaved so that other load on
// the machine hits them alike.
//
//	go test -run '^$' -bench MeasureThroughput ./inference/
func BenchmarkMeasureThroughput(b *testing.B) {
	require.NoError(b, Init(RuntimeConfig{}))
	dir := benchModel()
	cpus := runtime.NumCPU()
	for _, p := range []Precision{PrecisionFP32, PrecisionINT8} {
		for _, tw := range [][2]int{{0, 1}, {1, 1}, {1, cpus}} {
			threads, workers := tw[0], tw[1]
			b.Run(fmt.Sprintf("%s/threads=%d/workers=%d", p, threads, workers), func(b *testing.B) {
				for b.Loop() {
					res, err := MeasureThroughput(dir, ThroughputConfig{Precision: p, IntraOpThreads: threads, Workers: workers})
					require.NoError(b, err)
					for _, r := range res {
						fmt.Printf("throughput %s %s threads=%d workers=%d batch=%d: %.0f clips/s (%d clips in %.2fs), %.2fx batch %d\n",
							dir, p, threads, workers, r.Batch, r.ClipsPerSecond, r.Clips, r.Seconds, r.Ratio, res[0].Batch)
					}
				}
			})
		}
	}
}
