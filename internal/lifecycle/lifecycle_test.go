package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCloseCancelsAndWaits(t *testing.T) {
	g := NewGroup(context.Background())
	var finished atomic.Int32
	started := make(chan struct{}, 3)
	for range 3 {
		require.NoError(t, g.Go(func(ctx context.Context) error {
			started <- struct{}{}
			<-ctx.Done()
			time.Sleep(10 * time.Millisecond) // Close must wait for the work after the cancel too
			finished.Add(1)
			return nil
		}))
	}
	for range 3 {
		<-started
	}
	require.NoError(t, g.Context().Err())
	require.NoError(t, g.Close())
	require.EqualValues(t, 3, finished.Load())
	require.ErrorIs(t, g.Context().Err(), context.Canceled)
}

func TestCloseJoinsErrors(t *testing.T) {
	errA, errB := errors.New("a failed"), errors.New("b failed")
	g := NewGroup(context.Background())
	require.NoError(t, g.Go(func(context.Context) error { return errA }))
	require.NoError(t, g.Go(func(ctx context.Context) error { <-ctx.Done(); return errB }))
	require.NoError(t, g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }))
	err := g.Close()
	require.ErrorIs(t, err, errA)
	require.ErrorIs(t, err, errB)
	require.Equal(t, err.Error(), g.Close().Error(), "a second Close returns the same")
}

func TestCloseDropsTheEndOfItsContext(t *testing.T) {
	g := NewGroup(context.Background())
	require.NoError(t, g.Go(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }))
	require.NoError(t, g.Go(func(ctx context.Context) error {
		<-ctx.Done()
		return fmt.Errorf("pop: %w", ctx.Err())
	}))
	require.NoError(t, g.Close())

	// The parent's deadline ends the Group's context too.
	parent, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	g = NewGroup(parent)
	require.NoError(t, g.Go(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }))
	require.NoError(t, g.Close())

	// A cancellation error while the context is live is a real error.
	g = NewGroup(context.Background())
	require.NoError(t, g.Go(func(context.Context) error { return context.Canceled }))
	require.Eventually(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.errs) == 1 },
		5*time.Second, time.Millisecond)
	require.ErrorIs(t, g.Close(), context.Canceled)
}

func TestCloseReturnsASingleErrorAsIs(t *testing.T) {
	errA := errors.New("a failed")
	g := NewGroup(context.Background())
	require.NoError(t, g.Go(func(context.Context) error { return errA }))
	require.Same(t, errA, g.Close())
}

func TestCloseIsIdempotentAndConcurrent(t *testing.T) {
	g := NewGroup(context.Background())
	require.NoError(t, g.Go(func(ctx context.Context) error { <-ctx.Done(); return nil }))
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, g.Close())
		}()
	}
	wg.Wait()
	require.NoError(t, g.Close())
}

func TestCloseWithoutGoroutines(t *testing.T) {
	g := NewGroup(context.Background())
	require.NoError(t, g.Close())
	require.ErrorIs(t, g.Context().Err(), context.Canceled)
}

func TestGoAfterCloseRunsNothing(t *testing.T) {
	g := NewGroup(context.Background())
	require.NoError(t, g.Close())
	ran := false
	require.ErrorIs(t, g.Go(func(context.Context) error { ran = true; return nil }), ErrClosed)
	require.NoError(t, g.Close())
	require.False(t, ran)
}

func TestParentCancelStopsGoroutines(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	g := NewGroup(parent)
	var stopped atomic.Bool
	require.NoError(t, g.Go(func(ctx context.Context) error {
		<-ctx.Done()
		stopped.Store(true)
		return nil
	}))
	cancel()
	require.Eventually(t, stopped.Load, 5*time.Second, time.Millisecond)
	require.NoError(t, g.Close())
}

// TestGoRacesClose starts goroutines while another goroutine closes the group: every Go either runs
// its function (and Close waits for it) or returns ErrClosed; none is left running (goleak, -race).
func TestGoRacesClose(t *testing.T) {
	for range 50 {
		g := NewGroup(context.Background())
		var ran, refused atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := g.Go(func(ctx context.Context) error { <-ctx.Done(); ran.Add(1); return nil })
				if errors.Is(err, ErrClosed) {
					refused.Add(1)
				}
			}()
		}
		require.NoError(t, g.Close())
		wg.Wait()
		require.NoError(t, g.Close())
		require.EqualValues(t, 8, ran.Load()+refused.Load())
	}
}
