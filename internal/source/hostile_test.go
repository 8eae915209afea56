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
	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/decodelimit"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/restream"
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
	// A flooding camera's write queue is kept small: it lives in this process, and its memory is
	// the test's, not the service's.
	cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Source: src, Fast: fast, WriteQueueSize: 1024})
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
		if err := <-r.done; err != nil {
			t.Logf("hostile camera run ended: %v", err) // after the cancel, it only says that
		}
	})
	return r
}

// oversized makes an SPS declare 16000x16000 (1000x1000 macroblocks, no cropping).
func oversized(s *h264.SPS) {
	s.PicWidthInMbsMinus1, s.PicHeightInMapUnitsMinus1 = 999, 999
	s.FrameMbsOnlyFlag, s.FrameCropping = true, nil
}

// TestHostileOversizedSPS is the reproduction of issue 17's worst fault: a camera whose SPS declares
// 16000x16000 beside a healthy camera. Before decode limits existed (commit 54af266) the hostile
// camera decoded on: the test process went from 61 MB to 2887 MB resident in 15 s (go test -run
// TestHostileOversizedSPS -v ./internal/source/) and the run never ended. Now it fails at DESCRIBE.
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

// serveEndlessNALU starts a server whose SDP is the clip's, and whose stream is one IDR NAL unit
// that never ends: an FU-A start fragment, then middle fragments, never an end bit or a marker,
// about 20 MB/s; a new start fragment every 5000 packets (7 MB) begins the next endless unit.
func serveEndlessNALU(t testing.TB) *testcam.Server {
	t.Helper()
	srv := testcam.NewServer(testcam.ServerConfig{WriteQueueSize: 1024})
	require.NoError(t, srv.Start())
	first, err := loopClip(t).Next()
	require.NoError(t, err)
	st, err := restream.NewStream(srv.RTSP(), first)
	require.NoError(t, err)
	srv.SetStream(st.ServerStream())
	medi := st.ServerStream().Desc.Medias[0]
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-srv.Playing():
		case <-ctx.Done():
			return
		}
		payload := make([]byte, 1400)
		for i := range payload {
			payload[i] = byte(i*7 + 1)
		}
		seq := uint16(0)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			for range 16 {
				hdr := byte(0x05) // FU header: IDR, no start, no end
				if seq%5000 == 0 {
					hdr |= 0x80
				}
				p := append([]byte{0x7c, hdr}, payload...) // FU indicator: nal_ref_idc 3, type 28
				seq++
				_ = st.ServerStream().WritePacketRTP(medi, &rtp.Packet{
					Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: 1234, SSRC: 1},
					Payload: p,
				})
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close() // closes the stream too
	})
	return srv
}

// counterValue reads a counter of reg by name and labels (0 when absent).
func counterValue(t testing.TB, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metrics
				}
			}
			return counterOf(m)
		}
	}
	return 0
}

func counterOf(m *dto.Metric) float64 { return m.GetCounter().GetValue() }

// hostileCase is one hostile camera of the suite, and how it must end.
type hostileCase struct {
	name string
	// url starts the camera and returns its URL.
	url func(t testing.TB) string
	// reason is what its run must fail with; empty for a camera that runs on with counted drops.
	reason string
	// check, when set, checks the camera once the suite is over.
	check func(t *testing.T, r *running)
}

// TestHostileCameras runs every hostile camera at once beside two healthy ones, through the real
// ingest and decode path, with the service's limits (decode.fps_margin 2): each hostile camera ends
// failed with its reason or is held by counted drops, the healthy cameras never stall, and
// resident memory grows by less than rssBound.
func TestHostileCameras(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cameras for about 15 seconds")
	}
	reg := prometheus.NewRegistry()
	lm, err := decodelimit.NewMetrics(reg)
	require.NoError(t, err)
	limits := decodelimit.Limits{FPSMargin: 2}

	scene, err := ingest.NewAnnexBSource(testcam.SceneClip(), ingest.AnnexBOptions{Loop: true, FrameRate: testcam.SceneFrameRate})
	require.NoError(t, err)
	healthy := []*running{
		runSource(t, Config{Input: serve(t, loopClip(t), false).URL(), Camera: "healthy-clip", Limits: limits, LimitMetrics: lm}),
		runSource(t, Config{Input: serve(t, scene, false).URL(), Camera: "healthy-scene", Limits: limits, LimitMetrics: lm}),
	}
	for _, h := range healthy {
		require.Eventually(t, func() bool { return h.frames.Load() > 10 }, 20*time.Second, 10*time.Millisecond)
	}
	base := rss(t)

	refs := func(s *h264.SPS) { s.MaxNumRefFrames = 1000 }
	cases := []hostileCase{
		{name: "oversized-sps", url: func(t testing.TB) string { return serve(t, testcam.RewriteSPS(loopClip(t), oversized), false).URL() },
			reason: "sdp sprop-parameter-sets: sps: 16000x16000 exceeds the 4096x2304 limit (decode.max_width/max_height)"},
		{name: "oversized-h265", url: func(t testing.TB) string {
			src, err := ingest.OpenAnnexB("../pregate/testdata/h265-bframes.265", ingest.AnnexBOptions{Codec: media.CodecH265, Loop: true})
			require.NoError(t, err)
			return serve(t, testcam.RewriteH265SPSSize(src, 16000, 16000), false).URL()
		}, reason: "sdp sprop-parameter-sets: sps: 16000x16000 exceeds the 4096x2304 limit (decode.max_width/max_height)"},
		{name: "oversized-sps-in-band", url: func(t testing.TB) string {
			return serve(t, testcam.RewriteSPSAfter(loopClip(t), 45, oversized), false).URL()
		}, reason: "sps: 16000x16000 exceeds the 4096x2304 limit (decode.max_width/max_height)",
			check: func(t *testing.T, r *running) {
				require.Positive(t, r.frames.Load(), "decoded until its SPS changed")
			}},
		{name: "absurd-refs-in-band", url: func(t testing.TB) string {
			return serve(t, testcam.RewriteSPSAfter(loopClip(t), 15, refs), false).URL()
		},
			reason: "sps: 1000 reference frames exceed the 16 limit (decode.max_ref_frames)"},
		{name: "bogus-sdp", url: func(t testing.TB) string {
			// gortsplib drops an sprop SPS that does not parse at all; this one parses, with a
			// log2_max_frame_num out of the standard's range.
			return serve(t, testcam.RewriteSPS(loopClip(t), func(s *h264.SPS) { s.Log2MaxFrameNumMinus4 = 15 }), false).URL()
		}, reason: "sdp sprop-parameter-sets: sps: H.264: log2_max_frame_num_minus4: out of range: 15: cannot be bounded, so not decoded"},
		{name: "endless-nalu", url: func(t testing.TB) string { return serveEndlessNALU(t).URL("/endless") },
			check: func(t *testing.T, r *running) {
				st := r.src.ClientState()
				require.GreaterOrEqual(t, st.AUsOversized, uint64(2), "cut off at max_access_unit_bytes, counted: %+v", st)
				require.Zero(t, r.frames.Load())
			}},
		{name: "flood", url: func(t testing.TB) string { return serve(t, loopClip(t), true).URL() },
			check: func(t *testing.T, r *running) {
				n := counterValue(t, reg, "mvwatch_decode_throttled_access_units_total", map[string]string{"camera": "flood"})
				require.Positive(t, n, "a flooding camera is throttled")
				// At most 2 x its declared 15 fps over the ~16 s of the suite, plus a 2 s burst.
				require.Less(t, r.frames.Load(), int64(30*17+60), "decoded at the throttled rate")
				t.Logf("flood: %.0f access units throttled, %d frames decoded", n, r.frames.Load())
			}},
	}
	// HOSTILE_ONLY=<case name> runs one hostile camera, to see what each one costs.
	if only := os.Getenv("HOSTILE_ONLY"); only != "" {
		var keep []hostileCase
		for _, c := range cases {
			if c.name == only {
				keep = append(keep, c)
			}
		}
		cases = keep
	}
	hostile := make([]*running, len(cases))
	for i, c := range cases {
		hostile[i] = runSource(t, Config{Input: c.url(t), Camera: c.name, Limits: limits, LimitMetrics: lm})
	}

	var (
		peak     = base
		lastSeen = make([]int64, len(healthy))
		lastRise = make([]time.Time, len(healthy))
		stall    time.Duration
		errs     = make([]error, len(cases))
		ended    = make([]bool, len(cases))
	)
	for i := range healthy {
		lastRise[i] = time.Now()
	}
	start := time.Now()
	for time.Since(start) < 15*time.Second {
		time.Sleep(50 * time.Millisecond)
		peak = max(peak, rss(t))
		for i, h := range healthy {
			if n := h.frames.Load(); n > lastSeen[i] {
				lastSeen[i], lastRise[i] = n, time.Now()
			}
			stall = max(stall, time.Since(lastRise[i]))
		}
		for i, h := range hostile {
			if ended[i] {
				continue
			}
			select {
			case errs[i] = <-h.done:
				ended[i] = true
				h.done <- errs[i] // for the cleanup
				t.Logf("%s ended after %v: %v", cases[i].name, time.Since(start).Round(time.Millisecond), errs[i])
			default:
			}
		}
	}
	for i, h := range hostile {
		if !ended[i] && cases[i].reason == "" {
			h.cancel()
		}
	}
	t.Logf("rss: base %d MB, peak %d MB (+%d MB, bound %d MB); healthy cameras' longest pause %v; healthy frames %d, %d",
		base>>20, peak>>20, (peak-base)>>20, rssBound>>20, stall.Round(time.Millisecond), healthy[0].frames.Load(), healthy[1].frames.Load())
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.reason != "" {
				require.True(t, ended[i], "the camera must end failed")
				require.ErrorContains(t, errs[i], c.reason)
			}
			if c.check != nil {
				c.check(t, hostile[i])
			}
		})
	}
	require.Less(t, peak-base, int64(rssBound), "resident memory growth")
	require.Less(t, stall, 2500*time.Millisecond, "the healthy cameras never stall")
	for reason, want := range map[string]float64{"dimensions": 3, "ref_frames": 1, "sps_invalid": 1, "pixels": 0} {
		require.Equal(t, want, counterValue(t, reg, "mvwatch_decode_limit_failures_total", map[string]string{"reason": reason}), reason)
	}
}

// TestSlowDecodeIsNotAFlood: a camera sending in real time whose frames are handled slowly for a
// while (a replayed GOP, a loaded machine) has a backlog that leaves the delivery queue in a
// burst; the rate throttle judges the units by their arrival, so none of them is dropped. Judged
// by delivery time, the 8 s backlog (120 units) overran the throttle's 2 s burst at twice 15 fps.
func TestSlowDecodeIsNotAFlood(t *testing.T) {
	cam := serve(t, loopClip(t), false)
	var frames atomic.Int64
	stall := make(chan struct{})
	s := New(Config{Input: cam.URL(), Camera: "slow", Decoder: workerDecoder,
		Limits: decodelimit.Limits{FPSMargin: 2}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Run(ctx, func(*media.Frame) error {
			if frames.Add(1) == 1 {
				<-stall // the first frame's handling takes as long as the test says
			}
			return nil
		})
	}()
	require.Eventually(t, func() bool { return cam.Sent() >= 120 }, 20*time.Second, 10*time.Millisecond, "8 s of pictures sent meanwhile")
	close(stall)
	sent := cam.Sent()
	ok := assert.Eventually(t, func() bool { return uint64(frames.Load()) >= sent-5 }, 10*time.Second, 10*time.Millisecond,
		"the backlog is decoded")
	cancel()
	if err := <-done; err != nil {
		t.Logf("run ended: %v", err) // the cancel's
	}
	require.Zero(t, s.Throttled(), "no unit of a real-time camera is throttled")
	require.True(t, ok, "%d of %d frames", frames.Load(), sent)
}
