package liveview

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/testcam"
)

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestViewerCPUCost (MVWATCH_LONG=1) measures the process CPU of 8 viewers of one camera against none,
// over 5 s each. The pion receivers run in the same process, so the figure per viewer is an upper
// bound of the server's cost (sending is about as costly as receiving).
func TestViewerCPUCost(t *testing.T) {
	if os.Getenv("MVWATCH_LONG") != "1" {
		t.Skip("MVWATCH_LONG=1 runs the live view's CPU measurement")
	}
	hub, err := New(Config{Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer func() { require.NoError(t, hub.Close()) }()
	srv := httptest.NewServer(hub.Handler("/api/v1/cameras/"))
	defer srv.Close()
	src, err := ingest.NewAnnexBSource(testcam.SceneClip(), ingest.AnnexBOptions{Loop: true, FrameRate: testcam.SceneFrameRate})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		tick := time.NewTicker(src.FrameDuration())
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			au, err := src.Next()
			if err != nil {
				return
			}
			hub.WriteAccessUnit("cam", au)
		}
	}()
	defer func() { cancel(); <-fed }()
	measure := func() time.Duration {
		c0, w0 := cpuTime(t), time.Now()
		time.Sleep(5 * time.Second)
		return time.Duration(float64(cpuTime(t)-c0) / time.Since(w0).Seconds()) // CPU per wall second
	}
	time.Sleep(time.Second)
	idle := measure()
	const n = 8
	viewers := make([]*goViewer, n)
	for i := range viewers {
		viewers[i] = newGoViewer(t, srv.URL+"/api/v1/cameras/cam/whep")
	}
	for _, v := range viewers {
		require.Eventually(t, func() bool { return v.packets.Load() > 10 }, 15*time.Second, 20*time.Millisecond)
	}
	busy := measure()
	per := (busy - idle) / n
	t.Logf("live view, %d viewers of one %d fps camera: process CPU %.1f%% of a core vs %.1f%% with none: %.2f%% of a core per viewer (sender + pion receiver)",
		n, testcam.SceneFrameRate, 100*busy.Seconds(), 100*idle.Seconds(), 100*per.Seconds())
}
