package source

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/testcam"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// clipFrames is the number of pictures in testcam.DefaultClip.
const clipFrames = 150

var mvOnly = demux.DecoderConfig{MotionVectors: true, Threads: 1}

// counter counts frames and checks that they come in output order.
type counter struct {
	t  *testing.T
	mu sync.Mutex
	n  int
}

func (c *counter) frame(f *media.Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.Index != c.n {
		c.t.Errorf("frame index %d, want %d", f.Index, c.n)
	}
	c.n++
	return nil
}

func (c *counter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func startCamera(t *testing.T, addr string, loop, fast bool) *testcam.Camera {
	t.Helper()
	src, err := ingest.NewAnnexBSource(testcam.DefaultClip(), ingest.AnnexBOptions{Loop: loop})
	require.NoError(t, err)
	cam := testcam.New(testcam.Config{Address: addr, Source: src, Fast: fast})
	require.NoError(t, cam.Start())
	t.Cleanup(cam.Close)
	return cam
}

func TestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clip.264")
	require.NoError(t, os.WriteFile(path, testcam.DefaultClip(), 0o600))
	for _, input := range []string{path, "file://" + path} {
		c := &counter{t: t}
		src := New(Config{Input: input, Decoder: mvOnly})
		require.NoError(t, src.Run(context.Background(), c.frame))
		require.Equal(t, clipFrames, c.count(), input)
		require.Equal(t, int64(clipFrames), src.Stats().Frames)
		require.Zero(t, src.ClientState().AUsDelivered, "no client for a file")
	}
	err := New(Config{Input: filepath.Join(t.TempDir(), "missing.mp4"), Decoder: mvOnly}).Run(context.Background(), (&counter{t: t}).frame)
	require.ErrorContains(t, err, "missing.mp4")
	require.Error(t, New(Config{}).Run(context.Background(), (&counter{t: t}).frame))
}

// TestCameraFlushesAtTheEnd reads the clip once over RTSP: the pictures the decoder still holds when
// the stream goes idle come out too, so every access unit becomes a frame.
func TestCameraFlushesAtTheEnd(t *testing.T) {
	cam := startCamera(t, "127.0.0.1:0", false, true)
	c := &counter{t: t}
	var aus int
	src := New(Config{Input: cam.URL(), Decoder: mvOnly, QueueSize: 1024, Idle: time.Second,
		OnAccessUnit: func(media.AccessUnit) { aus++ }})
	require.NoError(t, src.Run(context.Background(), c.frame))
	require.Equal(t, clipFrames, aus)
	require.Equal(t, clipFrames, c.count(), "every access unit decoded, the last ones by the final flush")
	require.Equal(t, uint64(clipFrames), src.ClientState().AUsDelivered)
}

// TestCameraReconnect restarts the camera under a running source: the old session's pictures are
// flushed before the discontinuity is reported, and decoding goes on in the new session.
func TestCameraReconnect(t *testing.T) {
	cam := startCamera(t, "127.0.0.1:0", true, false)
	addr := cam.Addr()
	c := &counter{t: t}
	var (
		mu          sync.Mutex
		aus         int
		atDiscont   []int // frames seen when each discontinuity was reported
		ausAtReport []int // access units of the ended sessions
		infos       int
	)
	src := New(Config{Input: cam.URL(), Decoder: mvOnly,
		OnAccessUnit: func(au media.AccessUnit) {
			mu.Lock()
			defer mu.Unlock()
			if au.Discontinuity && aus > 0 {
				ausAtReport = append(ausAtReport, aus)
			}
			aus++
		},
		OnDiscontinuity: func() {
			mu.Lock()
			defer mu.Unlock()
			atDiscont = append(atDiscont, c.count())
		},
		OnDecode: func(d DecodeInfo) {
			mu.Lock()
			infos++
			mu.Unlock()
			if d.Stats.Packets+d.Stats.Skipped == 0 {
				t.Errorf("decode info without counters: %+v", d)
			}
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, c.frame) }()

	require.Eventually(t, func() bool { return c.count() >= 20 }, 15*time.Second, 10*time.Millisecond, "first session frames")
	cam.Close()
	require.Eventually(t, func() bool { return src.ClientState().State == ingest.StateBackoff }, 15*time.Second, 10*time.Millisecond, "backoff")
	startCamera(t, addr, true, false)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(atDiscont) == 1 && c.count() >= atDiscont[0]+20
	}, 30*time.Second, 10*time.Millisecond, "frames of the second session")
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, ausAtReport, atDiscont, "the first session's access units all became frames before the reset")
	require.Equal(t, aus, c.count(), "and the second's, by the final flush")
	require.Equal(t, aus, infos)
}

// TestCameraFailsForGood ends the run with the client's reason when the camera cannot be read at all.
func TestCameraFailsForGood(t *testing.T) {
	err := New(Config{Input: "rtsp://user:secret@127.0.0.1:1/cam", Decoder: mvOnly, Transport: "quic"}).Run(context.Background(), (&counter{t: t}).frame)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret")
}

// TestFrameErrorStops returns the callback's error as is.
func TestFrameErrorStops(t *testing.T) {
	cam := startCamera(t, "127.0.0.1:0", true, true)
	stop := errors.New("stop")
	n := 0
	err := New(Config{Input: cam.URL(), Decoder: mvOnly, QueueSize: 1024}).Run(context.Background(), func(*media.Frame) error {
		n++
		if n == 5 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, 5, n, "no frame after the error, not even from the flush")
}
