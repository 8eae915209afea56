package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/store"
	"github.com/mvwatch/mvwatch/mvextract"
	"github.com/mvwatch/mvwatch/pipeline"
)

// testConfig is a config on random loopback ports with the gate off.
func testConfig(t *testing.T) *config.Config {
	cfg := config.Default()
	cfg.Listen.HTTP, cfg.Listen.RTSP, cfg.Listen.RTSPUDP = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.Path = filepath.Join(t.TempDir(), "events.db")
	cfg.APIToken = "s3cret-token"
	off := false
	cfg.Gate.Enabled = &off
	cfg.Webhooks = []config.Webhook{{Name: "ops", URL: "http://127.0.0.1:1/hook"}}
	return cfg
}

func newTestApp(t *testing.T, cfg *config.Config, cls pipeline.Classifier) *App {
	t.Helper()
	a, err := New(Options{Config: cfg, Classifier: cls, Registry: prometheus.NewRegistry(), Logger: quietLogger(),
		Features: mvextract.FeatureSpec{Clip: mvextract.ClipConfig{Length: 4, Width: 16, Height: 16}}})
	require.NoError(t, err)
	return a
}

// TestNewStartsNothing: New starts no goroutine and opens no file; Close without Start is harmless.
func TestNewStartsNothing(t *testing.T) {
	defer goleak.VerifyNone(t)
	cfg := testConfig(t)
	a := newTestApp(t, cfg, &alternatingClassifier{})
	require.NoFileExists(t, cfg.Store.Path)
	require.NoError(t, a.Close())
	require.NoError(t, a.Wait())
}

// TestFailedStartLeaksNothing: a Start that fails because a port is taken leaves no goroutine behind
// (goleak), closes what it opened exactly once (the store can be opened again at once; Close and Wait
// return the same error and close nothing twice).
func TestFailedStartLeaksNothing(t *testing.T) {
	for _, which := range []string{"http", "rtsp", "rtsp_udp"} {
		t.Run(which, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			var busy interface {
				Addr() net.Addr
				Close() error
			}
			cfg := testConfig(t)
			if which == "rtsp_udp" {
				pc, err := net.ListenPacket("udp", "127.0.0.1:0")
				require.NoError(t, err)
				busy = packetAddr{pc}
				// The RTP port is even; RTCP takes the next one: either way the busy port is in the pair.
				cfg.Listen.RTSPUDP = fmt.Sprintf("127.0.0.1:%d", pc.LocalAddr().(*net.UDPAddr).Port&^1)
			} else {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				require.NoError(t, err)
				busy = ln
			}
			defer busy.Close()
			switch which {
			case "http":
				cfg.Listen.HTTP = busy.Addr().String()
			case "rtsp":
				cfg.Listen.RTSP = busy.Addr().String()
			}
			cam := startTestCamera(t, "127.0.0.1:0")
			defer cam.Close()
			cfg.Cameras = []config.Camera{{Name: "cam", URL: cam.URL()}}
			a := newTestApp(t, cfg, &alternatingClassifier{})
			err := a.Start()
			require.Error(t, err)
			require.ErrorContains(t, err, busy.Addr().String())
			require.NoError(t, a.Wait(), "the failed Start shut down cleanly")
			require.NoError(t, a.Close(), "the failed Start closed everything; Close has nothing left")
			// The store was closed: the bbolt file lock is free.
			st, err := store.Open(cfg.Store.Path, store.Options{})
			require.NoError(t, err)
			require.NoError(t, st.Close())
		})
	}
}

// packetAddr gives a busy UDP socket the Addr of a listener.
type packetAddr struct{ net.PacketConn }

func (p packetAddr) Addr() net.Addr { return p.LocalAddr() }

// TestCloseJoinsEverything: after Close, no goroutine of the app is left (the HTTP server's included),
// and a second Close returns the same result.
func TestCloseJoinsEverything(t *testing.T) {
	defer goleak.VerifyNone(t)
	cam := startTestCamera(t, "127.0.0.1:0")
	defer cam.Close()
	cfg := testConfig(t)
	cfg.Cameras = []config.Camera{{Name: "cam", URL: cam.URL()}}
	a := newTestApp(t, cfg, &alternatingClassifier{})
	require.NoError(t, a.Start())
	code, _ := apiGet(t, a, "/healthz", false)
	require.Equal(t, http.StatusOK, code)
	http.DefaultClient.CloseIdleConnections()
	require.NoError(t, a.Close())
	require.NoError(t, a.Close())
	require.NoError(t, a.Wait())
}

// constantClassifier calls every clip the same label with a high score, so a camera's event never
// ends while clips keep coming.
type constantClassifier struct{ clips atomic.Int64 }

func (c *constantClassifier) Classify(context.Context, []float32) (pipeline.Classification, error) {
	c.clips.Add(1)
	return pipeline.Classification{Label: "object_left", Score: 0.9}, nil
}

// TestReplaceCameraKeepsOpenEvent: replacing a camera through the API (PUT) swaps its configuration
// in one step: the camera never disappears, and the event open across the replacement is one event,
// stored once, spanning both configurations.
func TestReplaceCameraKeepsOpenEvent(t *testing.T) {
	cam := startTestCamera(t, "127.0.0.1:0")
	defer cam.Close()
	cfg := testConfig(t)
	cfg.Webhooks = nil
	cfg.Cameras = []config.Camera{{Name: "door", URL: cam.URL(), Zone: "front"}}
	cls := &constantClassifier{}
	// A long gap, so that a loaded machine's stalls (clips dropped, late) do not end the event on
	// their own: only the replacement could.
	a, err := New(Options{Config: cfg, Classifier: cls, Registry: prometheus.NewRegistry(), Logger: quietLogger(),
		Features: mvextract.FeatureSpec{Clip: mvextract.ClipConfig{Length: 4, Width: 16, Height: 16}}, EventGap: 10 * time.Second})
	require.NoError(t, err)
	require.NoError(t, a.Start())
	defer a.Close()
	require.Eventually(t, func() bool { return cls.clips.Load() >= 5 }, 20*time.Second, 10*time.Millisecond, "clips before the replacement")
	n, err := a.Store().Count()
	require.NoError(t, err)
	require.Zero(t, n, "the event is still open")

	// Watch the camera while it is replaced: it must never be missing.
	stop := make(chan struct{})
	missing := make(chan error, 1)
	go func() {
		defer close(missing)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := a.Fleet().Get("door"); err != nil {
				missing <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	replacedAt := time.Now()
	body := fmt.Sprintf(`{"name":"door","url":%q,"zone":"back"}`, cam.URL())
	req, _ := http.NewRequest("PUT", "http://"+a.HTTPAddr()+"/api/v1/cameras/door", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer s3cret-token")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	got, err := a.Fleet().Get("door")
	require.NoError(t, err)
	require.Equal(t, "back", got.Zone)

	before := cls.clips.Load()
	require.Eventually(t, func() bool { return cls.clips.Load() >= before+5 }, 20*time.Second, 10*time.Millisecond, "clips after the replacement")
	close(stop)
	require.NoError(t, <-missing, "the camera went missing during the replacement")
	n, err = a.Store().Count()
	require.NoError(t, err)
	require.Zero(t, n, "the replacement did not end the open event")

	require.NoError(t, a.Close())
	st, err := store.Open(cfg.Store.Path, store.Options{})
	require.NoError(t, err)
	defer st.Close()
	page, err := st.Query(eventQueryAll())
	require.NoError(t, err)
	require.Len(t, page.Events, 1, "one event across the replacement")
	ev := page.Events[0]
	require.True(t, ev.Start.Before(replacedAt), "the event started before the replacement")
	require.True(t, ev.End.After(replacedAt), "and went on after it")
}

// eventQueryAll selects every stored event, oldest first.
func eventQueryAll() event.Query { return event.Query{Ascending: true, Limit: 1000} }

// TestReplaceCameraDisabledOrUnknown: replacing a camera by a disabled one stops it and stores its open
// event (it is complete); replacing a camera that does not exist is ErrCameraNotFound.
func TestReplaceCameraDisabledOrUnknown(t *testing.T) {
	cam := startTestCamera(t, "127.0.0.1:0")
	defer cam.Close()
	cfg := testConfig(t)
	cfg.Webhooks = nil
	cfg.Cameras = []config.Camera{{Name: "door", URL: cam.URL()}}
	cls := &constantClassifier{}
	a := newTestApp(t, cfg, cls)
	require.NoError(t, a.Start())
	defer a.Close()
	ctx := context.Background()
	require.ErrorIs(t, a.Fleet().Replace(ctx, config.Camera{Name: "yard", URL: cam.URL()}), bus.ErrCameraNotFound)
	require.Eventually(t, func() bool { return cls.clips.Load() >= 3 }, 20*time.Second, 10*time.Millisecond)
	off := false
	require.NoError(t, a.Fleet().Replace(ctx, config.Camera{Name: "door", URL: cam.URL(), Enabled: &off}))
	st, err := a.Fleet().State("door")
	require.NoError(t, err)
	require.Equal(t, bus.PhaseDisabled, st.Phase)
	require.Eventually(t, func() bool { n, err := a.Store().Count(); return err == nil && n == 1 }, 5*time.Second, 10*time.Millisecond,
		"the disabled camera's open event is stored")
}

// TestWorkerAndEventRolesThroughOneBus: a worker-only App and an events-only App joined by one bus
// behave as one: the worker's events are stored and served by the other, and camera commands sent to
// the events App's API reach the worker.
func TestWorkerAndEventRolesThroughOneBus(t *testing.T) {
	cam := startTestCamera(t, "127.0.0.1:0")
	defer cam.Close()
	b := bus.NewLocal(bus.LocalOptions{})
	defer b.Close()
	wcfg := testConfig(t)
	wcfg.Cameras = []config.Camera{{Name: "door", URL: cam.URL()}}
	worker, err := New(Options{Config: wcfg, Role: RoleWorker, Bus: b, Classifier: &alternatingClassifier{},
		Registry: prometheus.NewRegistry(), Logger: quietLogger(),
		Features: mvextract.FeatureSpec{Clip: mvextract.ClipConfig{Length: 4, Width: 16, Height: 16}}})
	require.NoError(t, err)
	ecfg := testConfig(t)
	ecfg.Webhooks = nil
	events, err := New(Options{Config: ecfg, Role: RoleEvents, Bus: b, Registry: prometheus.NewRegistry(), Logger: quietLogger()})
	require.NoError(t, err)
	require.NoError(t, events.Start())
	defer events.Close()
	require.NoError(t, worker.Start())
	defer worker.Close()
	require.Empty(t, worker.HTTPAddr(), "the worker serves no API")
	require.Nil(t, events.Fleet(), "the event service runs no cameras")

	code, body := apiGet(t, events, "/api/v1/cameras/door/state", true)
	require.Equal(t, http.StatusOK, code, string(body))
	require.Eventually(t, func() bool { n, err := events.Store().Count(); return err == nil && n >= 2 }, 30*time.Second,
		10*time.Millisecond, "the worker's events stored by the event service")
	require.NoError(t, worker.Close())
	require.NoError(t, events.Close())
}

// TestRolesNeedASharedBus: a worker-only or events-only App without a bus would talk to nobody.
func TestRolesNeedASharedBus(t *testing.T) {
	for _, role := range []Role{RoleWorker, RoleEvents} {
		_, err := New(Options{Config: testConfig(t), Role: role, Classifier: &alternatingClassifier{}, Registry: prometheus.NewRegistry()})
		require.ErrorContains(t, err, "needs a Bus", role)
	}
	_, err := New(Options{Config: testConfig(t), Role: "observer", Registry: prometheus.NewRegistry()})
	require.ErrorContains(t, err, "unknown role")
}
