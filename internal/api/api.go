// Package api is mvwatch's HTTP API: cameras (cameras.go), events and their images (events.go), live
// events as Server-Sent Events (live.go), health, readiness and metrics (health.go), behind
// internal/auth's middleware (bearer tokens and roles, security headers, JSON-only mutations). It depends on small interfaces (bus.Cameras for the cameras, EventReader for the
// store) and the live hub, never on the store or the fleet. docs/openapi.yaml documents it and a test
// validates real traffic against it. It owns mvwatch_http_requests_total and
// mvwatch_http_request_seconds.
package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mvwatch/mvwatch/internal/auth"
	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/event"
	"github.com/mvwatch/mvwatch/internal/livehub"
)

// EventReader is what the API needs from the event store (Store implements it).
type EventReader interface {
	Query(q event.Query) (event.Page, error)
	Get(id string) (event.Event, error)
	Keyframe(id string) ([]byte, error)
	Thumbnail(id string) ([]byte, error)
}

// ClipReader is what the API needs from a clip store (internal/clip's Store on the node that
// records the clips, natsbus.Clips on an events node that reads them from the NATS clip bucket; the
// API links no FFmpeg and no NATS, so it knows them only by this interface).
type ClipReader interface {
	// OpenClip returns the clip of event id, seekable (http.ServeContent answers Range requests
	// from it), and its modification time; the error wraps event.ErrNotFound when there is none.
	// Close the clip.
	OpenClip(ctx context.Context, id string) (io.ReadSeekCloser, time.Time, error)
	// Has reports whether event id has a clip.
	Has(id string) bool
}

// FirstClips reads each clip from the first of readers that has it (nil interfaces are skipped; pass no typed nil): the
// node's own clip store, then the clip bucket that other workers' clips reach. It returns nil when
// every reader is nil.
func FirstClips(readers ...ClipReader) ClipReader {
	var rs firstClips
	for _, r := range readers {
		if r != nil {
			rs = append(rs, r)
		}
	}
	switch len(rs) {
	case 0:
		return nil
	case 1:
		return rs[0]
	}
	return rs
}

type firstClips []ClipReader

func (rs firstClips) Has(id string) bool {
	for _, r := range rs {
		if r.Has(id) {
			return true
		}
	}
	return false
}

func (rs firstClips) OpenClip(ctx context.Context, id string) (io.ReadSeekCloser, time.Time, error) {
	var err error
	for _, r := range rs {
		var c io.ReadSeekCloser
		var at time.Time
		if c, at, err = r.OpenClip(ctx, id); err == nil || !errors.Is(err, event.ErrNotFound) {
			return c, at, err
		}
	}
	return nil, time.Time{}, err
}

// Options configures the HTTP API.
type Options struct {
	// Users verifies bearer tokens and roles: reads need a viewer, mutations an admin, /healthz and
	// /metrics nothing (package auth; auth.FromConfig keeps api_token as an admin token). Nil: no
	// credential, everyone is an admin (keep the API on loopback).
	Users *auth.Users
	// AuthMetrics, when set, counts refused requests (mvwatch_auth_refused_total).
	AuthMetrics *auth.Metrics
	// AllowedHosts are the host names an open API answers to besides IP addresses and localhost
	// (config http.allowed_hosts; see auth.Middleware).
	AllowedHosts []string
	// CameraPolicy limits the camera URLs added or changed through the API. The zero value is the
	// default policy.
	CameraPolicy config.CameraPolicy
	// Cameras runs the cameras. Required.
	Cameras bus.Cameras
	// Events reads stored events. Required.
	Events EventReader
	// Clips, when set, serves the events' MP4 clips (GET /api/v1/events/{id}/clip) and sets
	// clip_ref on the events that have one. Nil: the route answers 404 for every event.
	Clips ClipReader
	// Hub feeds /api/v1/events/live. Required.
	Hub *livehub.Hub
	// Gatherer serves /metrics. It defaults to an empty registry.
	Gatherer prometheus.Gatherer
	// Metrics, when set, counts requests and their durations.
	Metrics *Metrics
	// Ready reports whether the service is ready (/readyz); nil means always ready.
	Ready func() error
	// Gate is the gate configuration cameras added through the API inherit. It defaults to
	// config.DefaultGate().
	Gate config.Gate
	// MaxBodyBytes bounds request bodies. It defaults to 1 MiB.
	MaxBodyBytes int64
	// Heartbeat is the interval of keep-alive comments on the live stream. It defaults to 15s.
	Heartbeat time.Duration
	// Logger logs server-side failures. It defaults to slog.Default().
	Logger *slog.Logger
	// Reload, when set, reloads the config file and applies it (POST /api/v1/config/reload, as
	// SIGHUP does). It defaults to nil: the route answers 404 (no config file, or no cameras here).
	Reload func(ctx context.Context) (config.Diff, error)
	// Session, when set, serves the browser session route (/api/v1/session: GET reports, POST logs in
	// with a token, DELETE logs out; internal/session's Store). The route is public: a login brings its
	// own credential. Nil: the route answers 404.
	Session http.Handler
	// SessionAuth, when set, authenticates requests without an Authorization header by their session
	// cookie (auth.Options.Session).
	SessionAuth func(r *http.Request) (auth.Identity, bool, error)
	// LiveView, when set, serves the cameras' WebRTC live view (WHEP: POST
	// /api/v1/cameras/{name}/whep with an application/sdp offer, DELETE
	// /api/v1/cameras/{name}/whep/{session}; internal/liveview's Hub.Handler(LivePrefix)). Both need
	// a viewer. Nil: the routes answer 404.
	LiveView http.Handler
}

// SessionPath is the browser session route (internal/session's Path).
const SessionPath = "/api/v1/session"

// LivePrefix is the prefix of the live view's WHEP routes: LivePrefix + "{name}/whep".
const LivePrefix = "/api/v1/cameras/"

// API is the HTTP API (an http.Handler): cameras CRUD and state, event queries, live events as
// Server-Sent Events, keyframes, thumbnails, health, readiness and metrics. docs/openapi.yaml documents it.
// Errors are JSON objects {"error": "..."}. Live streams end when the Hub closes: close it before
// http.Server.Shutdown, which otherwise waits for them.
type API struct {
	opts   Options
	mux    *http.ServeMux
	guard  http.Handler // auth.Middleware in front of route
	routes []string
}

// New builds the API handler.
func New(opts Options) *API {
	if opts.Gatherer == nil {
		opts.Gatherer = prometheus.NewRegistry()
	}
	if opts.Gate.Alpha == 0 {
		opts.Gate = opts.Gate.WithDefaults(config.DefaultGate())
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	a := &API{opts: opts, mux: http.NewServeMux()}
	a.guard = auth.Middleware(auth.Options{Users: opts.Users, Metrics: opts.AuthMetrics, AllowedHosts: opts.AllowedHosts,
		Public: isPublic, Need: need, Session: opts.SessionAuth, SDP: isWHEPOffer},
		http.HandlerFunc(a.route))
	a.handle("GET /healthz", a.healthz)
	a.handle("GET /readyz", a.readyz)
	a.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	a.routes = append(a.routes, "GET /metrics")
	a.handle("GET /api/v1/cameras", a.listCameras)
	a.handle("POST /api/v1/cameras", a.addCamera)
	a.handle("GET /api/v1/cameras/{name}", a.getCamera)
	a.handle("PUT /api/v1/cameras/{name}", a.replaceCamera)
	a.handle("DELETE /api/v1/cameras/{name}", a.removeCamera)
	a.handle("GET /api/v1/cameras/{name}/state", a.cameraState)
	a.handle("GET /api/v1/events", a.queryEvents)
	a.handle("GET /api/v1/events/live", a.liveEvents)
	a.handle("GET /api/v1/events/{id}", a.getEvent)
	a.handle("GET /api/v1/events/{id}/keyframe", a.keyframe)
	a.handle("GET /api/v1/events/{id}/thumbnail", a.thumbnail)
	a.handle("GET /api/v1/events/{id}/clip", a.clip)
	a.handle("POST /api/v1/config/reload", a.reloadConfig)
	a.handle("GET "+SessionPath, a.session)
	a.handle("POST "+SessionPath, a.session)
	a.handle("DELETE "+SessionPath, a.session)
	a.handle("POST /api/v1/cameras/{name}/whep", a.liveView)
	a.handle("DELETE /api/v1/cameras/{name}/whep/{session}", a.liveView)
	if opts.Metrics != nil {
		opts.Metrics.initRoutes(a.routes)
	}
	return a
}

func (a *API) handle(pattern string, h http.HandlerFunc) {
	a.mux.HandleFunc(pattern, h)
	a.routes = append(a.routes, pattern)
}

// isPublic reports the routes anyone may call without a credential: /healthz, /metrics and the
// session route (a login brings its own credential).
func isPublic(r *http.Request) bool {
	return auth.PublicHealth(r) || r.URL.Path == SessionPath
}

// need is auth.NeedByMethod, except that the live view (WHEP offers and their end) needs a viewer.
func need(r *http.Request) auth.Role {
	if isWHEP(r.URL.Path) {
		return auth.RoleViewer
	}
	return auth.NeedByMethod(r)
}

// isWHEPOffer reports a WHEP offer, whose body is SDP.
func isWHEPOffer(r *http.Request) bool {
	return r.Method == http.MethodPost && isWHEP(r.URL.Path)
}

// isWHEP matches LivePrefix + "{name}/whep" and LivePrefix + "{name}/whep/{session}".
func isWHEP(p string) bool {
	rest, ok := strings.CutPrefix(p, LivePrefix)
	if !ok {
		return false
	}
	parts := strings.Split(rest, "/")
	return (len(parts) == 2 || len(parts) == 3) && parts[0] != "" && parts[1] == "whep"
}

// session serves SessionPath with Options.Session.
func (a *API) session(w http.ResponseWriter, r *http.Request) {
	if a.opts.Session == nil {
		writeError(w, http.StatusNotFound, "no browser sessions here")
		return
	}
	a.opts.Session.ServeHTTP(w, r)
}

// liveView serves the WHEP routes with Options.LiveView.
func (a *API) liveView(w http.ResponseWriter, r *http.Request) {
	if a.opts.LiveView == nil {
		writeError(w, http.StatusNotFound, "no live view here (the cameras run in another process)")
		return
	}
	a.opts.LiveView.ServeHTTP(w, r)
}

// Routes returns the registered patterns ("GET /healthz", ...).
func (a *API) Routes() []string { return append([]string(nil), a.routes...) }

// ServeHTTP authenticates, routes and measures a request.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	_, pattern := a.mux.Handler(r)
	sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	defer func() {
		if a.opts.Metrics != nil {
			method, route := splitPattern(pattern)
			a.opts.Metrics.Requests.WithLabelValues(method, route, strconv.Itoa(sw.code)).Inc()
			a.opts.Metrics.Seconds.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		}
	}()
	a.guard.ServeHTTP(sw, r) // inside the measurement: 401, 403 and 415 are counted too
}

// route serves a request the middleware let through.
func (a *API) route(sw http.ResponseWriter, r *http.Request) {
	h, pattern := a.mux.Handler(r)
	if pattern == "" {
		// No route: let the mux decide between 404 and 405 (and its Allow header), answer in JSON.
		c := &codeCatcher{header: http.Header{}}
		h.ServeHTTP(c, r)
		if c.code >= 300 && c.code < 400 {
			h.ServeHTTP(sw, r) // the mux's redirect to the cleaned path
			return
		}
		if allow := c.header.Get("Allow"); allow != "" {
			sw.Header().Set("Allow", allow)
		}
		code := c.code
		if code == 0 || code == http.StatusOK {
			code = http.StatusNotFound
		}
		writeError(sw, code, http.StatusText(code))
		return
	}
	a.mux.ServeHTTP(sw, r)
}

// statusWriter records the status code and passes Flush/deadlines through (SSE needs them).
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// codeCatcher is a ResponseWriter that keeps only the status and headers.
type codeCatcher struct {
	header http.Header
	code   int
}

func (c *codeCatcher) Header() http.Header         { return c.header }
func (c *codeCatcher) Write(b []byte) (int, error) { return len(b), nil }
func (c *codeCatcher) WriteHeader(code int)        { c.code = code }
