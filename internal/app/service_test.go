package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/testcam"
	"github.com/mvwatch/mvwatch/mvextract"

	"github.com/mvwatch/mvwatch/internal/event"

	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/pipeline"
)

// alternatingClassifier is a test seam for the event path (not the model): it answers "object_left" for
// two clips, then "pan" for two, and so on, with a fixed score, so events open and close predictably.
// The model itself is exercised by TestServiceWithTinyModel and the model package's tests.
type alternatingClassifier struct{ n atomic.Int64 }

func (c *alternatingClassifier) Classify(ctx context.Context, _ []float32) (pipeline.Classification, error) {
	n := c.n.Add(1) - 1
	label := []string{"object_left", "pan"}[(n/2)%2]
	return pipeline.Classification{Label: label, Score: 0.9, ExitStage: int(n % 2)}, nil
}

func startTestCamera(t *testing.T, addr string) *testcam.Camera {
	t.Helper()
	src, err := ingest.NewAnnexBSource(testcam.DefaultClip(), ingest.AnnexBOptions{Loop: true})
	require.NoError(t, err)
	cam := testcam.New(testcam.Config{Address: addr, Source: src})
	require.NoError(t, cam.Start())
	return cam
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newTestService starts a service on random ports with the given cameras and classifier.
func newTestService(t *testing.T, storePath string, cls pipeline.Classifier, cams ...config.Camera) *App {
	t.Helper()
	cfg := config.Default()
	cfg.Listen.HTTP, cfg.Listen.RTSP, cfg.Listen.RTSPUDP = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.Path = storePath
	cfg.APIToken = "s3cret-token"
	off := false
	cfg.Gate.Enabled = &off // every clip goes to the classifier
	cfg.Cameras = cams
	svc, err := New(Options{Config: cfg, Classifier: cls, Features: mvextract.FeatureSpec{Clip: mvextract.ClipConfig{Length: 4, Width: 16, Height: 16}},
		Registry: prometheus.NewRegistry(), Logger: quietLogger()})
	require.NoError(t, err)
	require.NoError(t, svc.Start())
	return svc
}

func apiGet(t *testing.T, svc *App, path string, token bool) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+svc.HTTPAddr()+path, nil)
	require.NoError(t, err)
	if token {
		req.Header.Set("Authorization", "Bearer s3cret-token")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, b
}

func eventually(t *testing.T, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sseClient reads the live event stream into a slice.
type sseClient struct {
	mu     sync.Mutex
	events []event.Event
	cancel context.CancelFunc
	done   chan struct{}
}

func subscribe(t *testing.T, svc *App) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+svc.HTTPAddr()+"/api/v1/events/live", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer s3cret-token")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	c := &sseClient{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "data: ") {
				continue
			}
			var ev event.Event
			if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev) == nil {
				c.mu.Lock()
				c.events = append(c.events, ev)
				c.mu.Unlock()
			}
		}
	}()
	return c
}

func (c *sseClient) snapshot() []event.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]event.Event(nil), c.events...)
}

func (c *sseClient) close() { c.cancel(); <-c.done }

func TestServiceEventsAPIAndMetrics(t *testing.T) {
	cam := startTestCamera(t, "127.0.0.1:0")
	defer cam.Close()
	svc := newTestService(t, filepath.Join(t.TempDir(), "events.db"), &alternatingClassifier{},
		config.Camera{Name: "cam", URL: cam.URL()})
	defer svc.Close()

	code, _ := apiGet(t, svc, "/api/v1/cameras", false)
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = apiGet(t, svc, "/healthz", false)
	require.Equal(t, http.StatusOK, code)

	live := subscribe(t, svc)
	defer live.close()
	eventually(t, 30*time.Second, func() bool { return len(live.snapshot()) >= 3 }, "3 live events")
	evs := live.snapshot()
	for i, ev := range evs {
		require.Equal(t, "cam", ev.Camera)
		require.Equal(t, []string{"object_left", "pan"}[i%2], ev.Label, "events alternate as the clips do")
		require.False(t, ev.End.Before(ev.Start))
		if i > 0 {
			require.False(t, ev.Start.Before(evs[i-1].End), "events in order")
		}
	}

	code, body := apiGet(t, svc, "/api/v1/events?camera=cam&label=pan", true)
	require.Equal(t, http.StatusOK, code)
	var page struct{ Events []event.Event }
	require.NoError(t, json.Unmarshal(body, &page))
	require.NotEmpty(t, page.Events)
	for _, ev := range page.Events {
		require.Equal(t, "pan", ev.Label)
	}
	code, body = apiGet(t, svc, evs[0].KeyframeRef, true)
	require.Equal(t, http.StatusOK, code)
	img, err := jpeg.Decode(bytes.NewReader(body))
	require.NoError(t, err)
	require.Greater(t, img.Bounds().Dx(), 100)

	code, body = apiGet(t, svc, "/metrics", false)
	require.Equal(t, http.StatusOK, code)
	for _, m := range []string{`mvwatch_frames_decoded_total{camera="cam"}`, `mvwatch_events_total{camera="cam",label="pan"}`,
		`mvwatch_early_exits_total{stage="1"}`, `mvwatch_camera_state{camera="cam",state="running"} 1`} {
		require.Contains(t, string(body), m)
	}
	require.NotContains(t, string(body), cam.URL())
}

func TestServiceFaultsAndReconnect(t *testing.T) {
	cam := startTestCamera(t, "127.0.0.1:0")
	addr := cam.Addr()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := ln.Addr().String()
	ln.Close()
	mjpeg := startMJPEGServer(t)
	defer mjpeg.Close()

	svc := newTestService(t, filepath.Join(t.TempDir(), "events.db"), &alternatingClassifier{},
		config.Camera{Name: "good", URL: cam.URL()},
		config.Camera{Name: "refused", URL: "rtsp://admin:hunter2@" + refused + "/cam"},
		config.Camera{Name: "mjpeg", URL: "rtsp://" + mjpeg.addr + "/cam"})
	defer svc.Close()
	state := func(name string) bus.CameraState {
		st, err := svc.Fleet().State(name)
		require.NoError(t, err)
		return st
	}
	eventually(t, 10*time.Second, func() bool { return state("mjpeg").Phase == bus.PhaseFailed }, "mjpeg failed")
	require.Contains(t, state("mjpeg").Reason, "no H.264 or H.265 video")
	eventually(t, 10*time.Second, func() bool { return state("refused").Phase == bus.PhaseReconnecting }, "refused reconnecting")
	require.Contains(t, state("refused").Reason, "connection refused")
	require.NotContains(t, state("refused").Reason, "hunter2")
	eventually(t, 10*time.Second, func() bool { return state("good").FramesDecoded > 30 }, "good camera decoding")

	// The good camera goes away and comes back on the same address.
	cam.Close()
	eventually(t, 15*time.Second, func() bool { return state("good").Phase == bus.PhaseReconnecting }, "good reconnecting")
	before := state("good").FramesDecoded
	cam2 := startTestCamera(t, addr)
	defer cam2.Close()
	eventually(t, 15*time.Second, func() bool {
		st := state("good")
		return st.Phase == bus.PhaseRunning && st.FramesDecoded > before+30
	}, "good camera analysed again")
	require.GreaterOrEqual(t, state("good").Reconnects, uint64(1))
	eventually(t, 10*time.Second, func() bool {
		_, body := apiGet(t, svc, "/metrics", false)
		return strings.Contains(string(body), `mvwatch_reconnects_total{camera="good"}`)
	}, "reconnects counted in /metrics")

	_, body := apiGet(t, svc, "/api/v1/cameras", true)
	require.NotContains(t, string(body), "hunter2")
}

// TestServiceShutdownAndRestartKeepEvents: every event a live subscriber saw (stored before it was
// sent) is in the store after Close, the event still open at shutdown is stored too, and a new service
// on the same store serves them.
func TestServiceShutdownAndRestartKeepEvents(t *testing.T) {
	cam := startTestCamera(t, "127.0.0.1:0")
	defer cam.Close()
	path := filepath.Join(t.TempDir(), "events.db")
	svc := newTestService(t, path, &alternatingClassifier{}, config.Camera{Name: "cam", URL: cam.URL()})
	live := subscribe(t, svc)
	eventually(t, 30*time.Second, func() bool { return len(live.snapshot()) >= 2 }, "2 live events")
	require.NoError(t, svc.Close())
	live.close()
	seen := live.snapshot()

	svc2 := newTestService(t, path, &alternatingClassifier{})
	defer svc2.Close()
	_, body := apiGet(t, svc2, "/api/v1/events?camera=cam&limit=1000", true)
	var page struct{ Events []event.Event }
	require.NoError(t, json.Unmarshal(body, &page))
	stored := map[string]bool{}
	for _, ev := range page.Events {
		stored[ev.ID] = true
	}
	for _, ev := range seen {
		require.True(t, stored[ev.ID], "event %s seen live but not stored", ev.ID)
	}
	require.Greater(t, len(page.Events), len(seen)-1)
}

func TestServiceAddRemoveCamera(t *testing.T) {
	cam := startTestCamera(t, "127.0.0.1:0")
	defer cam.Close()
	svc := newTestService(t, filepath.Join(t.TempDir(), "events.db"), &alternatingClassifier{})
	defer svc.Close()
	body := fmt.Sprintf(`{"name":"late","url":%q}`, cam.URL())
	req, _ := http.NewRequest("POST", "http://"+svc.HTTPAddr()+"/api/v1/cameras", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer s3cret-token")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)
	eventually(t, 10*time.Second, func() bool {
		st, err := svc.Fleet().State("late")
		return err == nil && st.FramesDecoded > 10
	}, "added camera decoding")
	req, _ = http.NewRequest("DELETE", "http://"+svc.HTTPAddr()+"/api/v1/cameras/late", nil)
	req.Header.Set("Authorization", "Bearer s3cret-token")
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	_, err = svc.Fleet().State("late")
	require.ErrorIs(t, err, bus.ErrCameraNotFound)
}

// mjpegServer offers an M-JPEG stream only: a camera mvwatch cannot analyse.
type mjpegServer struct {
	srv    *gortsplib.Server
	stream *gortsplib.ServerStream
	addr   string
}

func startMJPEGServer(t *testing.T) *mjpegServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	s := &mjpegServer{addr: addr}
	s.srv = &gortsplib.Server{Handler: s, RTSPAddress: addr}
	require.NoError(t, s.srv.Start())
	s.stream = &gortsplib.ServerStream{Server: s.srv, Desc: &description.Session{Medias: []*description.Media{
		{Type: description.MediaTypeVideo, Formats: []format.Format{&format.MJPEG{}}}}}}
	require.NoError(t, s.stream.Initialize())
	return s
}

func (s *mjpegServer) Close() { s.stream.Close(); s.srv.Close() }

func (s *mjpegServer) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, s.stream, nil
}

func (s *mjpegServer) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, s.stream, nil
}

func (s *mjpegServer) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// TestServiceRestream: viewers subscribe to mvwatch's RTSP restream instead of the camera; two viewers
// both receive the camera's pictures while the camera is pulled once.
func TestServiceRestream(t *testing.T) {
	cam := startTestCamera(t, "127.0.0.1:0")
	defer cam.Close()
	svc := newTestService(t, filepath.Join(t.TempDir(), "events.db"), &alternatingClassifier{}, config.Camera{Name: "cam", URL: cam.URL()})
	defer svc.Close()
	eventually(t, 10*time.Second, func() bool {
		st, _ := svc.Fleet().State("cam")
		return st.FramesDecoded > 0
	}, "camera decoding")
	var got [2]atomic.Int64
	var viewers []*ingest.Client
	for i := range got {
		v := ingest.NewClient(ingest.ClientConfig{URL: "rtsp://viewer:s3cret-token@" + svc.RTSPAddr() + "/cam", Camera: fmt.Sprintf("viewer%d", i),
			OnAccessUnit: func(au media.AccessUnit) { got[i].Add(1) }, Log: quietLogger()})
		v.Start()
		viewers = append(viewers, v)
	}
	eventually(t, 15*time.Second, func() bool { return got[0].Load() > 20 && got[1].Load() > 20 }, "both viewers receive pictures")
	for _, v := range viewers {
		require.NoError(t, v.Close())
	}
}
