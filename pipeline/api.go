package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mvwatch/mvwatch/internal/auth"
	"github.com/mvwatch/mvwatch/internal/config"
)

// EventReader is what the API needs from the event store (Store implements it).
type EventReader interface {
	Query(q EventQuery) (EventPage, error)
	Get(id string) (Event, error)
	Keyframe(id string) ([]byte, error)
	Thumbnail(id string) ([]byte, error)
}

// APIOptions configures the HTTP API.
type APIOptions struct {
	// Token, when set and Users is nil, is an admin bearer token (the config's api_token).
	Token string
	// Users verifies bearer tokens and roles: reads need a viewer, mutations an admin (package auth).
	// It defaults to auth.New(nil, Token).
	Users *auth.Users
	// AuthMetrics, when set, counts refused requests.
	AuthMetrics *auth.Metrics
	// AllowedHosts are the host names an open API answers to besides IP addresses and localhost
	// (config http.allowed_hosts; see auth.Options).
	AllowedHosts []string
	// CameraPolicy limits the camera URLs added or changed through the API. The zero value is the
	// default policy.
	CameraPolicy config.CameraPolicy
	// Cameras runs the cameras. Required.
	Cameras CameraManager
	// Events reads stored events. Required.
	Events EventReader
	// Hub feeds /api/v1/events/live. Required.
	Hub *Hub
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
}

// API is the HTTP API (an http.Handler): cameras CRUD and state, event queries, live events as
// Server-Sent Events, keyframes, thumbnails, health, readiness and metrics. docs/openapi.yaml documents it.
// Errors are JSON objects {"error": "..."}. Live streams end when the Hub closes: close it before
// http.Server.Shutdown, which otherwise waits for them.
type API struct {
	opts   APIOptions
	mux    *http.ServeMux
	guard  http.Handler // auth.Middleware in front of route
	routes []string
}

// NewAPI builds the API handler.
func NewAPI(opts APIOptions) *API {
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
	if opts.Users == nil {
		opts.Users, _ = auth.New(nil, opts.Token) // no users: cannot fail
	}
	a := &API{opts: opts, mux: http.NewServeMux()}
	a.guard = auth.Middleware(auth.Options{Users: opts.Users, Metrics: opts.AuthMetrics, AllowedHosts: opts.AllowedHosts}, http.HandlerFunc(a.route))
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
	return a
}

func (a *API) handle(pattern string, h http.HandlerFunc) {
	a.mux.HandleFunc(pattern, h)
	a.routes = append(a.routes, pattern)
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
			route := pattern
			if route == "" {
				route = "unmatched"
			}
			a.opts.Metrics.HTTPRequests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
			a.opts.Metrics.HTTPSeconds.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}
	}()
	a.guard.ServeHTTP(sw, r)
}

// route serves an authorised request.
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

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client may have gone; nothing to do about it
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiError{Error: msg})
}

// fail maps an error to a status: not-found, conflict and invalid-input errors keep their message;
// anything else is logged and answered with a generic 500.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrCameraNotFound), errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrCameraExists):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, config.ErrInvalid), errors.Is(err, ErrInvalidEvent):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		a.opts.Logger.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

func (a *API) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *API) readyz(w http.ResponseWriter, _ *http.Request) {
	if a.opts.Ready != nil {
		if err := a.opts.Ready(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// CameraView is a camera as the API shows it: its configuration with secrets redacted, and its state.
type CameraView struct {
	config.Camera
	State *CameraState `json:"state,omitempty"`
}

func (a *API) view(r *http.Request, c config.Camera) CameraView {
	v := CameraView{Camera: c.Redacted()}
	if st, err := a.opts.Cameras.State(c.Name); err == nil {
		st.Reason = auth.Reason(r.Context(), st.Reason) // a viewer never learns what answered
		v.State = &st
	}
	return v
}

func (a *API) listCameras(w http.ResponseWriter, r *http.Request) {
	cams := a.opts.Cameras.List()
	out := struct {
		Cameras []CameraView `json:"cameras"`
	}{Cameras: make([]CameraView, 0, len(cams))}
	for _, c := range cams {
		out.Cameras = append(out.Cameras, a.view(r, c))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getCamera(w http.ResponseWriter, r *http.Request) {
	c, err := a.opts.Cameras.Get(r.PathValue("name"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.view(r, c))
}

func (a *API) cameraState(w http.ResponseWriter, r *http.Request) {
	st, err := a.opts.Cameras.State(r.PathValue("name"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	st.Reason = auth.Reason(r.Context(), st.Reason)
	writeJSON(w, http.StatusOK, st)
}

// readCamera decodes and validates a camera from the request body, writing the error response itself.
func (a *API) readCamera(w http.ResponseWriter, r *http.Request) (config.Camera, bool) {
	var c config.Camera
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, a.opts.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", tooBig.Limit))
			return c, false
		}
		writeError(w, http.StatusBadRequest, "bad camera JSON: "+err.Error())
		return c, false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "bad camera JSON: trailing data")
		return c, false
	}
	if err := c.Validate(a.opts.Gate); err != nil {
		writeError(w, http.StatusBadRequest, "invalid camera: "+strings.ReplaceAll(err.Error(), "\n", "; "))
		return c, false
	}
	if err := a.opts.CameraPolicy.CheckURL(c.URL); err != nil {
		writeError(w, http.StatusBadRequest, "invalid camera: url: "+err.Error())
		return c, false
	}
	return c, true
}

func (a *API) addCamera(w http.ResponseWriter, r *http.Request) {
	c, ok := a.readCamera(w, r)
	if !ok {
		return
	}
	if err := a.opts.Cameras.Add(r.Context(), c); err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/cameras/"+c.Name)
	writeJSON(w, http.StatusCreated, a.view(r, c))
}

// replaceCamera replaces a camera's configuration: Remove, then Add (restoring the old one if Add fails).
func (a *API) replaceCamera(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	c, ok := a.readCamera(w, r)
	if !ok {
		return
	}
	if c.Name != name {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("body names camera %q, path names %q", c.Name, name))
		return
	}
	old, err := a.opts.Cameras.Get(name)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.opts.Cameras.Remove(r.Context(), name); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.opts.Cameras.Add(r.Context(), c); err != nil {
		if err2 := a.opts.Cameras.Add(context.WithoutCancel(r.Context()), old); err2 != nil {
			err = errors.Join(err, fmt.Errorf("restoring the previous camera: %w", err2))
		}
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.view(r, c))
}

func (a *API) removeCamera(w http.ResponseWriter, r *http.Request) {
	if err := a.opts.Cameras.Remove(r.Context(), r.PathValue("name")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// parseEventQuery reads the query parameters shared by /events and /events/live.
func parseEventQuery(r *http.Request) (EventQuery, error) {
	v := r.URL.Query()
	q := EventQuery{Camera: v.Get("camera"), Label: v.Get("label"), Cursor: v.Get("cursor")}
	var err error
	parseTime := func(name string) time.Time {
		s := v.Get(name)
		if s == "" || err != nil {
			return time.Time{}
		}
		t, e := time.Parse(time.RFC3339Nano, s)
		if e != nil {
			err = fmt.Errorf("%s: want an RFC 3339 time such as 2026-11-26T10:00:00Z, got %q", name, s)
		}
		return t
	}
	q.From, q.To = parseTime("from"), parseTime("to")
	if err != nil {
		return q, err
	}
	if s := v.Get("min_score"); s != "" {
		f, e := strconv.ParseFloat(s, 64)
		if e != nil || math.IsNaN(f) || f < 0 || f > 1 {
			return q, fmt.Errorf("min_score: want a number from 0 to 1, got %q", s)
		}
		q.MinScore = f
	}
	if s := v.Get("limit"); s != "" {
		n, e := strconv.Atoi(s)
		if e != nil || n < 1 || n > 1000 {
			return q, fmt.Errorf("limit: want 1 to 1000, got %q", s)
		}
		q.Limit = n
	}
	switch v.Get("order") {
	case "", "desc":
	case "asc":
		q.Ascending = true
	default:
		return q, fmt.Errorf("order: want asc or desc, got %q", v.Get("order"))
	}
	if q.Cursor != "" && !validID(q.Cursor) {
		return q, fmt.Errorf("cursor: not a cursor from a previous page: %q", q.Cursor)
	}
	return q, nil
}

func (a *API) queryEvents(w http.ResponseWriter, r *http.Request) {
	q, err := parseEventQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	page, err := a.opts.Events.Query(q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (a *API) getEvent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validID(id) {
		writeError(w, http.StatusNotFound, "no event "+strconv.Quote(id))
		return
	}
	ev, err := a.opts.Events.Get(id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ev)
}

func (a *API) keyframe(w http.ResponseWriter, r *http.Request) {
	a.image(w, r, "image/jpeg", a.opts.Events.Keyframe)
}

// thumbnail serves the event's illustrative PNG; 404 until the thumbnail stage has drawn one.
func (a *API) thumbnail(w http.ResponseWriter, r *http.Request) {
	a.image(w, r, "image/png", a.opts.Events.Thumbnail)
}

func (a *API) image(w http.ResponseWriter, r *http.Request, contentType string, get func(id string) ([]byte, error)) {
	id := r.PathValue("id")
	if !validID(id) {
		writeError(w, http.StatusNotFound, "no event "+strconv.Quote(id))
		return
	}
	img, err := get(id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(img)))
	w.Header().Set("Cache-Control", "private, max-age=86400, immutable")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(img)
}

// liveEvents streams events as Server-Sent Events: "event: event" with the Event JSON as data and
// the event ID as id; "event: update" with the whole Event JSON again (no id) when a caption or
// thumbnail was added to a stored event; "event: dropped" when this slow client missed events; and
// keep-alive comments. A Last-Event-ID header replays the stored events that started after that event
// first.
func (a *API) liveEvents(w http.ResponseWriter, r *http.Request) {
	q, err := parseEventQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	match := func(e Event) bool {
		return (q.Camera == "" || e.Camera == q.Camera) && (q.Label == "" || e.Label == q.Label) && e.Score >= q.MinScore
	}
	sub := a.opts.Hub.Subscribe(match)
	defer sub.Close()

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, "retry: 3000\n\n"); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}

	sent := map[string]bool{}
	if last := r.Header.Get("Last-Event-ID"); validID(last) {
		page, err := a.opts.Events.Query(EventQuery{Cursor: last, Ascending: true, Camera: q.Camera, Label: q.Label,
			MinScore: q.MinScore, Limit: 1000})
		if err == nil {
			for _, ev := range page.Events {
				if writeSSE(w, ev) != nil {
					return
				}
				sent[ev.ID] = true
			}
		}
	}

	tick := time.NewTicker(a.opts.Heartbeat)
	defer tick.Stop()
	var reported uint64
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-sub.C:
			if !ok {
				return // the hub closed: the server is shutting down
			}
			if sent[ev.ID] && !ev.update {
				continue
			}
			if d := sub.Dropped(); d != reported {
				reported = d
				_, err = fmt.Fprintf(w, "event: dropped\ndata: {\"dropped\":%d}\n\n", d)
			}
			if err == nil {
				err = writeSSE(w, ev)
			}
		case <-tick.C:
			_, err = io.WriteString(w, ": keep-alive\n\n")
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			return
		}
	}
}

func writeSSE(w io.Writer, ev Event) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if ev.update {
		// No id: an update must not move the client's Last-Event-ID back to an older event.
		_, err = fmt.Fprintf(w, "event: update\ndata: %s\n\n", data)
		return err
	}
	_, err = fmt.Fprintf(w, "id: %s\nevent: event\ndata: %s\n\n", ev.ID, data)
	return err
}
