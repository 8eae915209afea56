package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/event"

	"github.com/mvwatch/mvwatch/internal/event/eventtest"
)

const openAPIPath = "../../docs/openapi.yaml"

func init() {
	openapi3filter.RegisterBodyDecoder("image/jpeg", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("image/png", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/sdp", openapi3filter.FileBodyDecoder)
}

func loadOpenAPI(t *testing.T, serverURL string) (*openapi3.T, routers.Router) {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(openAPIPath)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	doc.Servers = openapi3.Servers{{URL: serverURL}}
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return doc, router
}

// TestOpenAPIDocumentsEveryRoute checks that the spec and the handler have the same operations.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc, _ := loadOpenAPI(t, "http://127.0.0.1")
	var spec []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			spec = append(spec, method+" "+path)
		}
	}
	routes := New(Options{}).Routes()
	sort.Strings(spec)
	sort.Strings(routes)
	require.Equal(t, routes, spec)
}

// TestOpenAPIValidatesRealTraffic sends real requests to the real handler over loopback and validates
// each request and response (status, headers, body) against docs/openapi.yaml.
func TestOpenAPIValidatesRealTraffic(t *testing.T) {
	f := newAPIFixture(t, "tok-abcdef")
	_, router := loadOpenAPI(t, f.srv.URL)

	ev := eventtest.New("door", "person", 0.91, eventtest.T0)
	ev.Caption = "someone at the door"
	ev.AttachKeyframe(eventtest.JPEG)
	f.publish(t, ev)
	f.publish(t, eventtest.New("door", "car", 0.6, eventtest.T0.Add(time.Second)))
	inZone := zoned("object_right", 2*time.Second, "road", "path")
	inZone.NoAlert = true
	f.publish(t, inZone)
	_, err := f.store.SetThumbnail(context.Background(), ev.ID, eventtest.PNG(t, 32, 32))
	require.NoError(t, err)
	f.putClip(t, ev.ID, []byte("not really an mp4"))

	type call struct {
		method, path, body string
		ct                 string // Content-Type instead of application/json
		noAuth             bool
		want               int
	}
	calls := []call{
		{method: "GET", path: "/healthz", want: 200, noAuth: true},
		{method: "GET", path: "/metrics", want: 200, noAuth: true},
		{method: "GET", path: "/readyz", want: 200},
		{method: "GET", path: "/readyz", want: 401, noAuth: true},
		{method: "GET", path: "/api/v1/cameras", want: 200},
		{method: "GET", path: "/api/v1/cameras", want: 401, noAuth: true},
		{method: "POST", path: "/api/v1/cameras", body: `{"name":"yard","url":"rtsp://u:pw@127.0.0.1:8554/yard","transport":"udp","gate":{"on_factor":4,"min_hold":"1s"}}`, want: 201},
		{method: "POST", path: "/api/v1/cameras", body: `{"name":"yard","url":"rtsp://127.0.0.1:8554/yard"}`, want: 409},
		{method: "POST", path: "/api/v1/cameras", body: `{"name":"form","url":"rtsp://127.0.0.1:8554/f"}`, ct: "application/x-www-form-urlencoded", want: 415},
		{method: "POST", path: "/api/v1/cameras", body: `{"name":"meta","url":"rtsp://169.254.169.254/"}`, want: 400},
		{method: "POST", path: "/api/v1/cameras", body: `{"name":"drive","url":"rtsp://127.0.0.1:8554/d","zone":"driveway gate","scene":"driveway"}`, want: 201},
		{method: "GET", path: "/api/v1/cameras/drive", want: 200},
		{method: "POST", path: "/api/v1/cameras", body: `{"name":"lot","url":"rtsp://127.0.0.1:8554/lot","zones":[{"name":"road","polygon":[[0,0.4],[1,0.4],[1,0.85],[0,0.85]],"labels":["object_right"],"dwell":"5s"}],"masks":[[[0.7,0],[1,0],[1,0.3]]]}`, want: 201},
		{method: "GET", path: "/api/v1/cameras/lot", want: 200},
		{method: "POST", path: "/api/v1/cameras", body: `{"name":"bad","url":"rtsp:///nohost"}`, want: 400},
		{method: "POST", path: "/api/v1/cameras", body: `{"name":"big","url":"rtsp://h/` + strings.Repeat("a", 1<<20) + `"}`, want: 413},
		{method: "GET", path: "/api/v1/cameras/yard", want: 200},
		{method: "GET", path: "/api/v1/cameras/ghost", want: 404},
		{method: "PUT", path: "/api/v1/cameras/yard", body: `{"name":"yard","url":"rtsp://127.0.0.1:8554/broken","hwaccel":"auto"}`, want: 200},
		{method: "PUT", path: "/api/v1/cameras/ghost", body: `{"name":"ghost","url":"rtsp://127.0.0.1/g"}`, want: 404},
		{method: "GET", path: "/api/v1/cameras/yard/state", want: 200},
		{method: "GET", path: "/api/v1/cameras/ghost/state", want: 404},
		{method: "DELETE", path: "/api/v1/cameras/yard", want: 204},
		{method: "DELETE", path: "/api/v1/cameras/yard", want: 404},
		{method: "GET", path: "/api/v1/events", want: 200},
		{method: "GET", path: "/api/v1/events?camera=door&label=person&min_score=0.5&limit=1&order=asc&from=2026-11-26T09:00:00Z&to=2026-11-26T11:00:00Z", want: 200},
		{method: "GET", path: "/api/v1/events?limit=1", want: 200},
		{method: "GET", path: "/api/v1/events?zone=road&camera=door", want: 200},
		{method: "GET", path: "/api/v1/events?from=2026-11-26T09:00:00Z&to=2026-11-26T11:00:00Z&order=desc", want: 200},
		{method: "GET", path: "/api/v1/events/" + ev.ID, want: 200},
		{method: "GET", path: "/api/v1/events/" + event.NewEventID(eventtest.T0), want: 404},
		{method: "GET", path: "/api/v1/events/" + ev.ID + "/keyframe", want: 200},
		{method: "GET", path: "/api/v1/events/" + event.NewEventID(eventtest.T0) + "/keyframe", want: 404},
		{method: "GET", path: "/api/v1/events/" + ev.ID + "/thumbnail", want: 200},
		{method: "GET", path: "/api/v1/events/" + ev.ID + "/thumbnail", want: 401, noAuth: true},
		{method: "GET", path: "/api/v1/events/" + event.NewEventID(eventtest.T0) + "/thumbnail", want: 404},
		{method: "GET", path: "/api/v1/events/" + ev.ID + "/clip", want: 200},
		{method: "GET", path: "/api/v1/events/" + ev.ID + "/clip", want: 401, noAuth: true},
		{method: "GET", path: "/api/v1/events/" + event.NewEventID(eventtest.T0) + "/clip", want: 404},
		{method: "GET", path: "/api/v1/session", want: 200, noAuth: true},
		{method: "POST", path: "/api/v1/session", body: `{"token":"wrong"}`, want: 401, noAuth: true},
		{method: "POST", path: "/api/v1/session", body: `{"token":"tok-abcdef"}`, want: 200, noAuth: true},
		{method: "POST", path: "/api/v1/session", body: `{"token":"tok-abcdef"}`, ct: "text/plain", want: 415, noAuth: true},
		{method: "DELETE", path: "/api/v1/session", want: 204, noAuth: true},
		{method: "POST", path: "/api/v1/cameras/door/whep", body: "v=0", ct: "application/sdp", want: 401, noAuth: true},
		{method: "POST", path: "/api/v1/cameras/door/whep", body: "v=0", ct: "application/sdp", want: 404},
		{method: "DELETE", path: "/api/v1/cameras/door/whep/abc", want: 404},
	}
	ctx := context.Background()
	auth := openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	for _, c := range calls {
		name := c.method + " " + c.path
		if len(name) > 80 {
			name = name[:80]
		}
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, f.srv.URL+c.path, strings.NewReader(c.body))
			require.NoError(t, err)
			if c.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if c.ct != "" {
				req.Header.Set("Content-Type", c.ct)
			}
			if !c.noAuth {
				req.Header.Set("Authorization", "Bearer "+f.token)
			}
			route, params, err := router.FindRoute(req)
			require.NoError(t, err, "the spec has no route for %s", name)
			in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: &auth}
			if c.want != 413 && c.want != 415 { // an over-long body breaks no schema, only the size limit; 415 is no JSON
				require.NoError(t, openapi3filter.ValidateRequest(ctx, in))
			}
			req.Body = io.NopCloser(strings.NewReader(c.body)) // validation consumed it

			resp, err := f.srv.Client().Do(req)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, c.want, resp.StatusCode, "body: %s", body)
			out := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
				Options: &openapi3filter.Options{IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
			}
			out.SetBodyBytes(body)
			require.NoError(t, openapi3filter.ValidateResponse(ctx, out), "body: %s", body)
			require.NotContains(t, string(body), "pw@", "secrets must not be rendered")
		})
	}

	t.Run("live stream", func(t *testing.T) {
		doc, _ := loadOpenAPI(t, f.srv.URL)
		req, err := http.NewRequest("GET", f.srv.URL+"/api/v1/events/live?camera=door&min_score=0.1&zone=road", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+f.token)
		route, params, err := router.FindRoute(req)
		require.NoError(t, err)
		require.NoError(t, openapi3filter.ValidateRequest(ctx, &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route, Options: &auth}))
		resp, err := f.srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		op := route.Operation.Responses.Status(200).Value
		require.NotNil(t, op.Content.Get(strings.Split(resp.Header.Get("Content-Type"), ";")[0]),
			"content type %q is not documented", resp.Header.Get("Content-Type"))
		require.Eventually(t, func() bool { return f.hub.Subscribers() == 1 }, 5*time.Second, time.Millisecond)

		live := zoned("person", time.Minute, "road")
		f.publish(t, live)
		rd := &sseReader{r: bufio.NewReader(resp.Body)}
		got, err := rd.next()
		require.NoError(t, err)
		// The data of each event is an event.Event as documented.
		schema := doc.Components.Schemas["Event"].Value
		var v any
		require.NoError(t, json.NewDecoder(bytes.NewReader([]byte(got.data))).Decode(&v))
		require.NoError(t, schema.VisitJSON(v))
		require.Equal(t, live.ID, got.id)
		require.Equal(t, "event", got.event)

		// A stage's update: the whole event again, as "update", without an id.
		updated, err := f.store.SetCaption(context.Background(), live.ID, "a person at the door")
		require.NoError(t, err)
		f.hub.PublishUpdate(updated)
		got, err = rd.next()
		require.NoError(t, err)
		require.Equal(t, "update", got.event)
		require.Empty(t, got.id)
		v = nil
		require.NoError(t, json.NewDecoder(bytes.NewReader([]byte(got.data))).Decode(&v))
		require.NoError(t, schema.VisitJSON(v))
		require.Equal(t, "a person at the door", v.(map[string]any)["caption"])
	})
}
