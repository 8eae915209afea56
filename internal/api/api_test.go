package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/auth"
	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"

	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/livehub"
	"github.com/mvwatch/mvwatch/internal/session"
	"github.com/mvwatch/mvwatch/internal/store"

	"github.com/mvwatch/mvwatch/internal/event/eventtest"
)

// memCameras is an in-memory bus.Cameras for the API tests.
type memCameras struct {
	mu   sync.Mutex
	cams map[string]config.Camera
}

func newMemCameras(cams ...config.Camera) *memCameras {
	m := &memCameras{cams: map[string]config.Camera{}}
	for _, c := range cams {
		if err := c.Validate(config.DefaultGate()); err != nil {
			panic(err)
		}
		m.cams[c.Name] = c
	}
	return m
}

func (m *memCameras) List() []config.Camera {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]config.Camera, 0, len(m.cams))
	for _, c := range m.cams {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (m *memCameras) Get(name string) (config.Camera, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cams[name]
	if !ok {
		return c, fmt.Errorf("camera %q: %w", name, bus.ErrCameraNotFound)
	}
	return c, nil
}

func (m *memCameras) Add(_ context.Context, c config.Camera) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cams[c.Name]; ok {
		return fmt.Errorf("camera %q: %w", c.Name, bus.ErrCameraExists)
	}
	m.cams[c.Name] = c
	return nil
}

func (m *memCameras) Replace(_ context.Context, c config.Camera) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cams[c.Name]; !ok {
		return fmt.Errorf("camera %q: %w", c.Name, bus.ErrCameraNotFound)
	}
	m.cams[c.Name] = c
	return nil
}

func (m *memCameras) Remove(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.cams[name]; !ok {
		return fmt.Errorf("camera %q: %w", name, bus.ErrCameraNotFound)
	}
	delete(m.cams, name)
	return nil
}

func (m *memCameras) State(name string) (bus.CameraState, error) {
	c, err := m.Get(name)
	if err != nil {
		return bus.CameraState{}, err
	}
	st := bus.CameraState{Name: name, Phase: bus.PhaseRunning, Since: eventtest.T0, FramesDecoded: 42, SkipRatio: 0.9,
		PreGate: &bus.PreGateState{Asleep: true, WakeUps: 2, AccessUnits: 900, BufferedAccessUnits: 12, BufferedBytes: 4096, DecodeFraction: 0.1},
		History: []bus.PhaseChange{{At: eventtest.T0.Add(-time.Minute), From: bus.PhaseStarting, To: bus.PhaseReconnecting, Reason: "dial tcp: connection refused"},
			{At: eventtest.T0, From: bus.PhaseReconnecting, To: bus.PhaseRunning}}}
	if !c.IsEnabled() {
		st.Phase = bus.PhaseDisabled
	}
	if strings.Contains(c.URL, "broken") {
		st.Phase, st.Reason = bus.PhaseFailed, "unsupported codec MJPEG"
	}
	lf := eventtest.T0.Add(time.Minute)
	st.LastFrame = &lf
	return st, nil
}

// dirClips is a folder of <id>.mp4 files, the API's ClipReader in tests (internal/clip's Store links
// FFmpeg, which the API test does not need).
type dirClips struct{ dir string }

func (d dirClips) path(id string) string { return filepath.Join(d.dir, id+".mp4") }

func (d dirClips) OpenClip(_ context.Context, id string) (io.ReadSeekCloser, time.Time, error) {
	f, err := os.Open(d.path(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, time.Time{}, fmt.Errorf("clip %s: %w", id, event.ErrNotFound)
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, time.Time{}, err
	}
	return f, fi.ModTime(), nil
}

func (d dirClips) Has(id string) bool {
	_, err := os.Stat(d.path(id))
	return err == nil
}

// putClip stores a fake clip for event id.
func (f *apiFixture) putClip(t *testing.T, id string, data []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(f.clips.path(id), data, 0o600))
}

type apiFixture struct {
	clips   dirClips
	srv     *httptest.Server
	api     *API
	store   *store.Store
	hub     *livehub.Hub
	hubM    *livehub.Metrics
	cams    *memCameras
	reg     *prometheus.Registry
	metrics *Metrics
	token   string
	ready   error
	mu      sync.Mutex
}

func newAPIFixture(t *testing.T, token string) *apiFixture {
	t.Helper()
	f := &apiFixture{token: token, reg: prometheus.NewPedanticRegistry(), clips: dirClips{dir: t.TempDir()}}
	var err error
	f.metrics, err = NewMetrics(f.reg)
	require.NoError(t, err)
	f.store, err = store.Open(filepath.Join(t.TempDir(), "ev.db"), store.Options{})
	require.NoError(t, err)
	f.hubM, err = livehub.NewMetrics(f.reg)
	require.NoError(t, err)
	f.hub = livehub.New(4, f.hubM)
	f.cams = newMemCameras(config.Camera{Name: "door", URL: "rtsp://admin:hunter2pass@127.0.0.1:8554/door"})
	users, err := auth.New(nil, token) // token: an admin's (config api_token)
	require.NoError(t, err)
	f.api = New(Options{
		Users: users, Cameras: f.cams, Events: f.store, Hub: f.hub, Gatherer: f.reg, Metrics: f.metrics, Clips: f.clips,
		Ready: func() error { f.mu.Lock(); defer f.mu.Unlock(); return f.ready }, Heartbeat: 50 * time.Millisecond,
		Session: session.New(session.Options{Token: token}),
	})
	f.srv = httptest.NewServer(f.api)
	t.Cleanup(func() {
		f.hub.Close() // ends live streams so the server can close
		f.srv.Close()
		require.NoError(t, f.store.Close())
	})
	return f
}

// do sends a request with the fixture's token (unless auth is "-") and returns status, headers, body.
func (f *apiFixture) do(t *testing.T, method, path, body string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if f.token != "" {
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b
}

func (f *apiFixture) publish(t *testing.T, ev event.Event) {
	t.Helper()
	require.NoError(t, f.store.Publish(context.Background(), ev))
	f.hub.Publish(ev)
}

func TestAPIHealthReadyMetrics(t *testing.T) {
	f := newAPIFixture(t, "")
	code, _, body := f.do(t, "GET", "/healthz", "")
	require.Equal(t, 200, code)
	require.JSONEq(t, `{"status":"ok"}`, string(body))
	code, _, body = f.do(t, "GET", "/readyz", "")
	require.Equal(t, 200, code)
	require.JSONEq(t, `{"status":"ready"}`, string(body))
	f.mu.Lock()
	f.ready = errors.New("model not loaded")
	f.mu.Unlock()
	code, _, body = f.do(t, "GET", "/readyz", "")
	require.Equal(t, 503, code)
	require.JSONEq(t, `{"status":"not ready","error":"model not loaded"}`, string(body))

	code, hdr, body := f.do(t, "GET", "/metrics", "")
	require.Equal(t, 200, code)
	require.Contains(t, hdr.Get("Content-Type"), "text/plain")
	require.Contains(t, string(body), `mvwatch_http_requests_total{code="503",method="GET",route="/readyz"} 1`)
	require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Requests.WithLabelValues("GET", "/healthz", "200")))

	code, _, body = f.do(t, "GET", "/nope", "")
	require.Equal(t, 404, code)
	require.JSONEq(t, `{"error":"Not Found"}`, string(body))
	code, hdr, body = f.do(t, "PATCH", "/api/v1/cameras/door", "{}")
	require.Equal(t, 405, code)
	require.Contains(t, hdr.Get("Allow"), "DELETE")
	require.JSONEq(t, `{"error":"Method Not Allowed"}`, string(body))
}

func TestAPIAuth(t *testing.T) {
	f := newAPIFixture(t, "tok-123456")
	for _, tc := range []struct {
		path, auth string
		want       int
	}{
		{"/healthz", "", 200},
		{"/metrics", "", 200},
		{"/readyz", "", 401},
		{"/api/v1/cameras", "", 401},
		{"/api/v1/cameras", "Bearer wrong", 401},
		{"/api/v1/cameras", "Bearer tok-1234567", 401},
		{"/api/v1/cameras", "Basic tok-123456", 401},
		{"/api/v1/events/live", "", 401},
		{"/no/such/route", "", 401},
		{"/api/v1/cameras", "Bearer tok-123456", 200},
		{"/api/v1/cameras", "bearer tok-123456", 200},
		{"/readyz", "Bearer tok-123456", 200},
	} {
		code, hdr, body := f.do(t, "GET", tc.path, "", "Authorization", tc.auth)
		require.Equal(t, tc.want, code, "%s with %q", tc.path, tc.auth)
		if code == 401 {
			require.Equal(t, `Bearer realm="mvwatch"`, hdr.Get("WWW-Authenticate"))
			require.JSONEq(t, `{"error":"missing or wrong bearer token"}`, string(body))
		}
	}
}

func TestAPICameras(t *testing.T) {
	f := newAPIFixture(t, "")
	code, _, body := f.do(t, "GET", "/api/v1/cameras", "")
	require.Equal(t, 200, code)
	require.NotContains(t, string(body), "hunter2pass")
	var list struct{ Cameras []CameraView }
	require.NoError(t, json.Unmarshal(body, &list))
	require.Len(t, list.Cameras, 1)
	require.Equal(t, "rtsp://admin:REDACTED@127.0.0.1:8554/door", list.Cameras[0].URL)
	require.Equal(t, bus.PhaseRunning, list.Cameras[0].State.Phase)

	code, hdr, body := f.do(t, "POST", "/api/v1/cameras", `{"name":"yard","url":"rtsp://u:p4ssw0rd@127.0.0.1/yard","gate":{"min_hold":"3s"}}`)
	require.Equal(t, 201, code, string(body))
	require.Equal(t, "/api/v1/cameras/yard", hdr.Get("Location"))
	require.NotContains(t, string(body), "p4ssw0rd")
	stored, err := f.cams.Get("yard")
	require.NoError(t, err)
	require.Equal(t, "rtsp://u:p4ssw0rd@127.0.0.1/yard", stored.URL, "the manager gets the real URL")
	require.Equal(t, 3*time.Second, stored.Gate.MinHold.D())
	require.Equal(t, "tcp", stored.Transport)

	code, _, body = f.do(t, "POST", "/api/v1/cameras", `{"name":"yard","url":"rtsp://127.0.0.1/yard"}`)
	require.Equal(t, 409, code)
	require.Contains(t, string(body), "already exists")
	code, _, body = f.do(t, "POST", "/api/v1/cameras", `{"name":"x","url":"http://127.0.0.1/"}`)
	require.Equal(t, 400, code)
	require.JSONEq(t, `{"error":"invalid camera: url: scheme must be one of rtsp, rtsps, not \"http\""}`, string(body))
	code, _, body = f.do(t, "POST", "/api/v1/cameras", `{"name":"x","url":"rtsp://h/","colour":"red"}`)
	require.Equal(t, 400, code)
	require.Contains(t, string(body), `unknown field \"colour\"`)
	code, _, _ = f.do(t, "POST", "/api/v1/cameras", `{"name":"x"} {"name":"y"}`)
	require.Equal(t, 400, code)
	code, _, body = f.do(t, "POST", "/api/v1/cameras", `{"name":"x","url":"rtsp://h/`+strings.Repeat("a", 2<<20)+`"}`)
	require.Equal(t, 413, code)
	require.Contains(t, string(body), "larger than")

	code, _, body = f.do(t, "PUT", "/api/v1/cameras/yard", `{"name":"yard","url":"rtsp://127.0.0.1/yard2","enabled":false}`)
	require.Equal(t, 200, code, string(body))
	code, _, body = f.do(t, "GET", "/api/v1/cameras/yard/state", "")
	require.Equal(t, 200, code)
	var st bus.CameraState
	require.NoError(t, json.Unmarshal(body, &st))
	require.Equal(t, bus.PhaseDisabled, st.Phase)
	code, _, _ = f.do(t, "PUT", "/api/v1/cameras/yard", `{"name":"other","url":"rtsp://127.0.0.1/x"}`)
	require.Equal(t, 400, code)
	code, _, _ = f.do(t, "PUT", "/api/v1/cameras/ghost", `{"name":"ghost","url":"rtsp://127.0.0.1/x"}`)
	require.Equal(t, 404, code)

	code, _, _ = f.do(t, "DELETE", "/api/v1/cameras/yard", "")
	require.Equal(t, 204, code)
	code, _, body = f.do(t, "DELETE", "/api/v1/cameras/yard", "")
	require.Equal(t, 404, code)
	require.Contains(t, string(body), "camera not found")
	code, _, _ = f.do(t, "GET", "/api/v1/cameras/yard/state", "")
	require.Equal(t, 404, code)
}

func TestAPIEvents(t *testing.T) {
	f := newAPIFixture(t, "")
	var evs []event.Event
	for i := 0; i < 5; i++ {
		ev := eventtest.New("door", []string{"person", "car"}[i%2], 0.5+float64(i)/10, eventtest.T0.Add(time.Duration(i)*time.Second))
		if i == 2 {
			ev.AttachKeyframe(eventtest.JPEG)
		}
		f.publish(t, ev)
		evs = append(evs, ev)
	}
	code, _, body := f.do(t, "GET", "/api/v1/events?limit=2&order=asc", "")
	require.Equal(t, 200, code)
	var page event.Page
	require.NoError(t, json.Unmarshal(body, &page))
	require.Equal(t, []string{evs[0].ID, evs[1].ID}, []string{page.Events[0].ID, page.Events[1].ID})
	code, _, body = f.do(t, "GET", "/api/v1/events?limit=2&order=asc&cursor="+page.NextCursor, "")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(body, &page))
	require.Equal(t, evs[2].ID, page.Events[0].ID)

	from := eventtest.T0.Add(time.Second).Format(time.RFC3339Nano)
	to := eventtest.T0.Add(4 * time.Second).Format(time.RFC3339Nano)
	code, _, body = f.do(t, "GET", "/api/v1/events?camera=door&label=person&min_score=0.6&from="+from+"&to="+to, "")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(body, &page))
	require.Len(t, page.Events, 1)
	require.Equal(t, evs[2].ID, page.Events[0].ID)
	require.Equal(t, event.KeyframePath(evs[2].ID), page.Events[0].KeyframeRef)

	for _, bad := range []string{"from=yesterday", "min_score=2", "limit=0", "order=up", "cursor=zz",
		"from=1600-01-01T00:00:00Z", "to=2263-01-01T00:00:00Z", "from=9999-12-31T23:59:59Z"} {
		code, _, body = f.do(t, "GET", "/api/v1/events?"+bad, "")
		require.Equal(t, 400, code, bad)
		require.Contains(t, string(body), strings.Split(bad, "=")[0], bad)
	}

	code, _, body = f.do(t, "GET", "/api/v1/events/"+evs[3].ID, "")
	require.Equal(t, 200, code)
	var ev event.Event
	require.NoError(t, json.Unmarshal(body, &ev))
	require.Equal(t, evs[3].Label, ev.Label)
	code, _, _ = f.do(t, "GET", "/api/v1/events/"+event.NewEventID(eventtest.T0), "")
	require.Equal(t, 404, code)
	code, _, _ = f.do(t, "GET", "/api/v1/events/..%2f..%2fetc", "")
	require.Equal(t, 404, code)

	code, hdr, body := f.do(t, "GET", event.KeyframePath(evs[2].ID), "")
	require.Equal(t, 200, code)
	require.Equal(t, "image/jpeg", hdr.Get("Content-Type"))
	require.Equal(t, eventtest.JPEG, body)
	code, _, _ = f.do(t, "GET", event.KeyframePath(evs[1].ID), "")
	require.Equal(t, 404, code)
}

// TestAPIClip: an event's clip is served as video/mp4 with Range requests, the event carries its
// clip_ref once it is stored, and an event without one answers 404 with a JSON error.
func TestAPIClip(t *testing.T) {
	f := newAPIFixture(t, "tok-abcdef")
	ev := eventtest.New("door", "person", 0.91, eventtest.T0)
	f.publish(t, ev)
	code, _, body := f.do(t, "GET", "/api/v1/events/"+ev.ID+"/clip", "")
	require.Equal(t, http.StatusNotFound, code)
	var e struct{ Error string }
	require.NoError(t, json.Unmarshal(body, &e))
	require.Contains(t, e.Error, "no clip for event "+ev.ID)
	_, _, body = f.do(t, "GET", "/api/v1/events/"+ev.ID, "")
	require.NotContains(t, string(body), "clip_ref")

	clip := bytes.Repeat([]byte("0123456789"), 1000)
	f.putClip(t, ev.ID, clip)
	code, hdr, body := f.do(t, "GET", "/api/v1/events/"+ev.ID+"/clip", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "video/mp4", hdr.Get("Content-Type"))
	require.Equal(t, "bytes", hdr.Get("Accept-Ranges"))
	require.Equal(t, clip, body)
	code, hdr, body = f.do(t, "GET", "/api/v1/events/"+ev.ID+"/clip", "", "Range", "bytes=10-19")
	require.Equal(t, http.StatusPartialContent, code)
	require.Equal(t, "bytes 10-19/10000", hdr.Get("Content-Range"))
	require.Equal(t, "0123456789", string(body))
	code, _, _ = f.do(t, "GET", "/api/v1/events/"+ev.ID+"/clip", "", "Authorization", "")
	require.Equal(t, http.StatusUnauthorized, code, "the clip needs the same credential as the event")

	var got event.Event
	_, _, body = f.do(t, "GET", "/api/v1/events/"+ev.ID, "")
	require.NoError(t, json.Unmarshal(body, &got))
	require.Equal(t, event.ClipPath(ev.ID), got.ClipRef)
	var page event.Page
	_, _, body = f.do(t, "GET", "/api/v1/events?camera=door", "")
	require.NoError(t, json.Unmarshal(body, &page))
	require.Len(t, page.Events, 1)
	require.Equal(t, event.ClipPath(ev.ID), page.Events[0].ClipRef)
}

func TestAPIErrorResponsesAreJSON(t *testing.T) {
	f := newAPIFixture(t, "")
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/api/v1/cameras/nope", ""},
		{"GET", "/api/v1/events?limit=x", ""},
		{"POST", "/api/v1/cameras", "not json"},
		{"GET", "/nothing/here", ""},
	} {
		code, hdr, body := f.do(t, tc.method, tc.path, tc.body)
		require.GreaterOrEqual(t, code, 400)
		require.Equal(t, "application/json", hdr.Get("Content-Type"), tc.path)
		var e apiError
		require.NoError(t, json.NewDecoder(bytes.NewReader(body)).Decode(&e))
		require.NotEmpty(t, e.Error)
	}
}
