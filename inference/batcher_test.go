package inference

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// batchSizes records the batch sizes a classifier ran.
type batchSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (b *batchSizes) hook() ClassifierHooks {
	return ClassifierHooks{Batch: func(n int, _ time.Duration) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.sizes = append(b.sizes, n)
	}}
}

func (b *batchSizes) get() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.sizes...)
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBatcherRoutesResultsToCallers(t *testing.T) {
	f := loadMFCDFixture(t)
	var seen batchSizes
	c := newTinyClassifier(t, ClassifierConfig{Hooks: seen.hook()})
	b := NewBatcher(c, BatcherConfig{MaxWait: 50 * time.Millisecond})
	require.Equal(t, BatcherConfig{MaxBatch: 8, MaxWait: 50 * time.Millisecond, QueueSize: 64}, b.Config())
	require.NoError(t, b.Start())
	defer b.Close()

	// Every fixture clip is one camera; each submits its clip several times, all at once.
	const rounds = 4
	var wg sync.WaitGroup
	errs := make(chan error, len(f.clips)*rounds)
	results := make([][]Result, len(f.clips))
	for i := range f.clips {
		wg.Go(func() {
			for range rounds {
				r, err := b.Submit(context.Background(), f.clips[i])
				if err != nil {
					errs <- err
					return
				}
				results[i] = append(results[i], r)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for i := range f.clips {
		require.Len(t, results[i], rounds)
		for _, r := range results[i] {
			requireResult(t, f, c.Labels(), i, f.expectedExit(i), r, 1e-5)
		}
	}
	sizes := seen.get()
	total, biggest := 0, 0
	for _, n := range sizes {
		total += n
		biggest = max(biggest, n)
		require.LessOrEqual(t, n, 8)
	}
	require.Equal(t, len(f.clips)*rounds, total)
	require.Greater(t, biggest, 1, "batch sizes %v", sizes)
	t.Logf("%d clips in %d batches: %v", total, len(sizes), sizes)
}

func TestBatcherLoneClipRunsAfterMaxWait(t *testing.T) {
	f := loadMFCDFixture(t)
	var seen batchSizes
	c := newTinyClassifier(t, ClassifierConfig{Hooks: seen.hook()})
	const wait = 30 * time.Millisecond
	b := NewBatcher(c, BatcherConfig{MaxBatch: 8, MaxWait: wait})
	require.NoError(t, b.Start())
	defer b.Close()
	start := time.Now()
	r, err := b.Submit(context.Background(), f.clips[5])
	require.NoError(t, err)
	// A lower bound only: the partial batch may not run before its first clip waited MaxWait.
	require.GreaterOrEqual(t, time.Since(start), wait)
	requireResult(t, f, c.Labels(), 5, f.expectedExit(5), r, 1e-5)
	require.Equal(t, []int{1}, seen.get())
}

func TestBatcherQueueFullDropsAndCounts(t *testing.T) {
	f := loadMFCDFixture(t)
	c := newTinyClassifier(t, ClassifierConfig{})
	var drops atomic.Int32
	b := NewBatcher(c, BatcherConfig{QueueSize: 2, OnDrop: func() { drops.Add(1) }})
	// Not started: the queue fills.
	got := make(chan error, 4)
	for range 2 {
		require.NoError(t, b.SubmitFunc(f.clips[0], func(_ Result, err error) { got <- err }))
	}
	require.Equal(t, 2, b.Len())
	require.ErrorIs(t, b.SubmitFunc(f.clips[0], func(Result, error) { t.Error("refused clip answered") }), ErrQueueFull)
	_, err := b.Submit(context.Background(), f.clips[1])
	require.ErrorIs(t, err, ErrQueueFull)
	require.EqualValues(t, 2, b.Dropped())
	require.EqualValues(t, 2, drops.Load())

	// Closing a batcher that never started answers the queued clips.
	b.Close()
	require.ErrorIs(t, <-got, ErrBatcherClosed)
	require.ErrorIs(t, <-got, ErrBatcherClosed)
	require.ErrorIs(t, b.Start(), ErrBatcherClosed)
	b.Close()
}

func TestBatcherCloseWithPendingWork(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := loadMFCDFixture(t)
	c := newTinyClassifier(t, ClassifierConfig{})
	b := NewBatcher(c, BatcherConfig{MaxBatch: 2, MaxWait: time.Millisecond})
	require.NoError(t, b.Start())

	// Hold the classifier so that the batch goroutine blocks inside its first batch.
	c.mu.Lock()
	type answer struct {
		clip int
		res  Result
		err  error
	}
	answers := make(chan answer, 8)
	submit := func(i int) {
		require.NoError(t, b.SubmitFunc(f.clips[i], func(r Result, err error) { answers <- answer{i, r, err} }))
	}
	submit(0)
	submit(1)
	eventually(t, func() bool { return b.Len() == 0 }, "the first batch to be taken")
	submit(2)
	submit(3)
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := b.Submit(context.Background(), f.clips[4])
		answers <- answer{4, Result{}, err}
	})
	eventually(t, func() bool { return b.Len() == 3 }, "three queued clips")

	closed := make(chan struct{})
	go func() {
		b.Close()
		close(closed)
	}()
	eventually(t, func() bool { return b.workers.Context().Err() != nil }, "Close to cancel")
	select {
	case <-closed:
		t.Fatal("Close returned while a batch was running")
	default:
	}
	c.mu.Unlock()
	<-closed
	wg.Wait()

	// The running batch answered; the queued clips got ErrBatcherClosed.
	got := map[int]answer{}
	for range 5 {
		a := <-answers
		got[a.clip] = a
	}
	for i := range 2 {
		require.NoError(t, got[i].err)
		requireResult(t, f, c.Labels(), i, f.expectedExit(i), got[i].res, 1e-5)
	}
	for i := 2; i < 5; i++ {
		require.ErrorIs(t, got[i].err, ErrBatcherClosed, "clip %d", i)
	}
	_, err := b.Submit(context.Background(), f.clips[0])
	require.ErrorIs(t, err, ErrBatcherClosed)
	require.ErrorIs(t, b.SubmitFunc(f.clips[0], func(Result, error) {}), ErrBatcherClosed)
}

func TestBatcherSubmitGivesUpWithContext(t *testing.T) {
	f := loadMFCDFixture(t)
	var seen batchSizes
	c := newTinyClassifier(t, ClassifierConfig{Hooks: seen.hook()})
	b := NewBatcher(c, BatcherConfig{MaxWait: time.Millisecond})
	defer b.Close()

	// Not started yet: the clip waits in the queue until the context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := b.Submit(ctx, f.clips[0])
	require.ErrorIs(t, err, context.DeadlineExceeded)
	_, err = b.Submit(ctx, f.clips[0])
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// The abandoned clip is skipped, never classified; the next one is.
	require.NoError(t, b.Start())
	require.ErrorContains(t, b.Start(), "already started")
	r, err := b.Submit(context.Background(), f.clips[1])
	require.NoError(t, err)
	requireResult(t, f, c.Labels(), 1, f.expectedExit(1), r, 1e-5)
	require.Equal(t, []int{1}, seen.get())
}

func TestBatcherRefusesBadClips(t *testing.T) {
	c := newTinyClassifier(t, ClassifierConfig{})
	b := NewBatcher(c, BatcherConfig{})
	defer b.Close()
	_, err := b.Submit(context.Background(), make([]float32, 3))
	require.ErrorIs(t, err, ErrBadClip)
	require.ErrorIs(t, b.SubmitFunc(nil, func(Result, error) {}), ErrBadClip)
	require.Error(t, b.SubmitFunc(make([]float32, c.ClipSize()), nil))
	require.Zero(t, b.Dropped())
}

func TestBatcherReportsClassifierErrors(t *testing.T) {
	f := loadMFCDFixture(t)
	c := newTinyClassifier(t, ClassifierConfig{})
	b := NewBatcher(c, BatcherConfig{MaxWait: time.Millisecond})
	require.NoError(t, b.Start())
	defer b.Close()
	require.NoError(t, c.Close())
	_, err := b.Submit(context.Background(), f.clips[0])
	require.ErrorIs(t, err, ErrClassifierClosed)
	require.False(t, errors.Is(err, ErrBatcherClosed))
}
