package source

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/testcam"
)

// The hostile-camera suite: cameras that lie about their streams run beside healthy ones through the
// real ingest and decode path. Each hostile camera must end failed with the right reason, the healthy
// ones must never stall, and the process's resident memory must stay within rssBound of where it was.

// rssBound is how much the process's resident set may grow while the hostile cameras run.
const rssBound = 150 << 20

// workerDecoder is the decoder configuration the camera worker uses.
var workerDecoder = demux.DecoderConfig{MotionVectors: true, Pixels: true, Threads: 1}

// rss is the process's resident set size (VmRSS), in bytes.
func rss(t testing.TB) int64 {
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// loopClip is the default clip, looping, as a test camera source.
func loopClip(t testing.TB) testcam.Source {
	src, err := ingest.NewAnnexBSource(testcam.DefaultClip(), ingest.AnnexBOptions{Loop: true})
	require.NoError(t, err)
	return src
}

// serve starts a test camera on a random port for src.
func serve(t testing.TB, src testcam.Source, fast bool) *testcam.Camera {
	t.Helper()
	cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Source: src, Fast: fast})
	require.NoError(t, cam.Start())
	t.Cleanup(cam.Close)
	return cam
}

// running is a source run in the background.
type running struct {
	src    *Source
	frames atomic.Int64
	done   chan error
	cancel context.CancelFunc
}

func runSource(t testing.TB, cfg Config) *running {
	t.Helper()
	if cfg.Decoder == (demux.DecoderConfig{}) {
		cfg.Decoder = workerDecoder
	}
	r := &running{src: New(cfg), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		r.done <- r.src.Run(ctx, func(*media.Frame) error { r.frames.Add(1); return nil })
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// oversized makes an SPS declare 16000x16000 (1000x1000 macroblocks, no cropping).
func oversized(s *h264.SPS) {
	s.PicWidthInMbsMinus1, s.PicHeightInMapUnitsMinus1 = 999, 999
	s.FrameMbsOnlyFlag, s.FrameCropping = true, nil
}

// TestHostileOversizedSPS is the reproduction of issue 17's worst fault: a camera whose SPS declares
// 16000x16000 beside a healthy camera. Before decode limits existed this took the process past
// 3 GB and stalled the healthy camera.
func TestHostileOversizedSPS(t *testing.T) {
	healthy := runSource(t, Config{Input: serve(t, loopClip(t), false).URL(), Camera: "healthy"})
	require.Eventually(t, func() bool { return healthy.frames.Load() > 10 }, 20*time.Second, 10*time.Millisecond)
	base := rss(t)

	hostile := runSource(t, Config{Input: serve(t, testcam.RewriteSPS(loopClip(t), oversized), false).URL(), Camera: "hostile"})
	var (
		peak     = base
		lastSeen = healthy.frames.Load()
		lastRise = time.Now()
		stall    time.Duration
		hostErr  error
		ended    bool
	)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		peak = max(peak, rss(t))
		if n := healthy.frames.Load(); n > lastSeen {
			lastSeen, lastRise = n, time.Now()
		}
		stall = max(stall, time.Since(lastRise))
		if !ended {
			select {
			case hostErr = <-hostile.done:
				ended = true
				hostile.done <- hostErr                    // for the cleanup
				deadline = time.Now().Add(2 * time.Second) // the healthy camera must go on
			default:
			}
		}
	}
	t.Logf("rss: base %d MB, peak %d MB (+%d MB); healthy camera's longest pause %v; hostile frames %d",
		base>>20, peak>>20, (peak-base)>>20, stall.Round(time.Millisecond), hostile.frames.Load())
	require.True(t, ended, "the hostile camera must end")
	require.ErrorContains(t, hostErr, "sps: 16000x16000 exceeds the 4096x2304 limit (decode.max_width/max_height)")
	require.Less(t, peak-base, int64(rssBound), "resident memory growth")
	require.Less(t, stall, 2*time.Second, "the healthy camera never stalls")
}
