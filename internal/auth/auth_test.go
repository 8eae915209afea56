package auth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/auth"
	"github.com/mvwatch/mvwatch/internal/config"
)

const (
	viewerTok = "viewer-token-0123456789"
	adminTok  = "admin-token-9876543210"
	legacyTok = "legacy-api-token"
)

func testUsers(t *testing.T, legacy string) *auth.Users {
	t.Helper()
	u, err := auth.New([]config.User{
		{Name: "vera", Role: "viewer", TokenSHA256: auth.HashToken(viewerTok), RTSPDigestMD5: auth.DigestHA1("vera", viewerTok)},
		{Name: "adam", Role: "admin", TokenSHA256: strings.ToUpper(auth.HashToken(adminTok))},
	}, legacy)
	require.NoError(t, err)
	return u
}

func TestUsers(t *testing.T) {
	u := testUsers(t, legacyTok)
	require.True(t, u.Enabled())
	for _, tc := range []struct {
		tok  string
		want auth.Identity
		ok   bool
	}{
		{viewerTok, auth.Identity{Name: "vera", Role: auth.RoleViewer}, true},
		{adminTok, auth.Identity{Name: "adam", Role: auth.RoleAdmin}, true},
		{legacyTok, auth.Identity{Name: auth.LegacyName, Role: auth.RoleAdmin}, true},
		{"", auth.Identity{}, false},
		{viewerTok + "x", auth.Identity{}, false},
		{auth.HashToken(viewerTok), auth.Identity{}, false},
	} {
		id, err := u.Token(tc.tok)
		if !tc.ok {
			require.ErrorIs(t, err, auth.ErrBadCredentials, tc.tok)
			continue
		}
		require.NoError(t, err, tc.tok)
		require.Equal(t, tc.want, id)
	}
	id, err := u.Password("vera", viewerTok)
	require.NoError(t, err)
	require.Equal(t, "vera", id.Name)
	_, err = u.Password("adam", viewerTok)
	require.ErrorIs(t, err, auth.ErrBadCredentials, "a token is only its own user's password")
	id, err = u.Password("anyone", legacyTok)
	require.NoError(t, err)
	require.Equal(t, auth.RoleAdmin, id.Role, "the api_token is the password of any user name")

	require.False(t, u.DigestAvailable(), "adam has no digest HA1")
	ha1s, ids := u.DigestHA1s("vera")
	require.Equal(t, []string{auth.DigestHA1("vera", viewerTok), auth.DigestHA1("vera", legacyTok)}, ha1s)
	require.Equal(t, "vera", ids[0].Name)

	none, err := auth.New(nil, "")
	require.NoError(t, err)
	require.False(t, none.Enabled())
	_, err = auth.New([]config.User{{Name: "x", Role: "root", TokenSHA256: auth.HashToken("x")}}, "")
	require.Error(t, err)

	tok, err := auth.NewToken()
	require.NoError(t, err)
	require.Len(t, tok, 43)
	require.NotContains(t, tok, "/")
}

// server serves a mux behind the middleware on a real socket: the routes of the API's classes.
func server(t *testing.T, users *auth.Users) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("GET /api/v1/cameras", func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.FromContext(r.Context())
		_, _ = io.WriteString(w, id.Name+" "+auth.Reason(r.Context(), "dial tcp 10.0.0.9:554: connect: connection refused"))
	})
	mux.HandleFunc("POST /api/v1/cameras", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	mux.HandleFunc("DELETE /api/v1/cameras/{name}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewServer(auth.Middleware(auth.Options{Users: users}, mux))
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, srv *httptest.Server, method, path, token, contentType, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, res.Header, string(b)
}

const cameraJSON = `{"name":"x","url":"rtsp://10.0.0.9/"}`

func TestMiddlewareWithUsers(t *testing.T) {
	srv := server(t, testUsers(t, ""))
	for _, tc := range []struct {
		name, method, path, token, ct string
		want                          int
	}{
		{"public without token", "GET", "/healthz", "", "", 200},
		{"no token", "GET", "/api/v1/cameras", "", "", 401},
		{"wrong token", "GET", "/api/v1/cameras", "nope", "", 401},
		{"the hash is no token", "GET", "/api/v1/cameras", auth.HashToken(viewerTok), "", 401},
		{"viewer reads", "GET", "/api/v1/cameras", viewerTok, "", 200},
		{"no token cannot add", "POST", "/api/v1/cameras", "", "application/json", 401},
		{"viewer cannot add a camera", "POST", "/api/v1/cameras", viewerTok, "application/json", 403},
		{"viewer cannot remove a camera", "DELETE", "/api/v1/cameras/x", viewerTok, "", 403},
		{"admin adds", "POST", "/api/v1/cameras", adminTok, "application/json; charset=utf-8", 201},
		{"admin form post", "POST", "/api/v1/cameras", adminTok, "application/x-www-form-urlencoded", 415},
		{"admin text post", "POST", "/api/v1/cameras", adminTok, "text/plain", 415},
		{"admin no type", "POST", "/api/v1/cameras", adminTok, "", 415},
		{"admin removes", "DELETE", "/api/v1/cameras/x", adminTok, "", 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, hdr, body := do(t, srv, tc.method, tc.path, tc.token, tc.ct, cameraJSON)
			require.Equal(t, tc.want, code, body)
			require.Equal(t, "nosniff", hdr.Get("X-Content-Type-Options"))
			require.Equal(t, "DENY", hdr.Get("X-Frame-Options"))
			require.Equal(t, "no-referrer", hdr.Get("Referrer-Policy"))
			require.Equal(t, auth.APIContentSecurityPolicy, hdr.Get("Content-Security-Policy"))
			switch code {
			case 401:
				require.Equal(t, `Bearer realm="mvwatch"`, hdr.Get("WWW-Authenticate"))
				require.JSONEq(t, `{"error":"missing or wrong bearer token"}`, body)
			case 403:
				require.JSONEq(t, `{"error":"this needs the admin role"}`, body)
			case 415:
				require.JSONEq(t, `{"error":"this needs Content-Type: application/json"}`, body)
			}
		})
	}
	_, _, body := do(t, srv, "GET", "/api/v1/cameras", viewerTok, "", "")
	require.Equal(t, "vera camera unreachable", body, "a viewer never sees what answered")
	_, _, body = do(t, srv, "GET", "/api/v1/cameras", adminTok, "", "")
	require.Equal(t, "adam dial tcp 10.0.0.9:554: connect: connection refused", body)
}

// TestMiddlewareOpen: with no credential, everyone is an admin, but a cross-site-capable POST still
// fails.
func TestMiddlewareOpen(t *testing.T) {
	none, err := auth.New(nil, "")
	require.NoError(t, err)
	srv := server(t, none)
	code, _, _ := do(t, srv, "POST", "/api/v1/cameras", "", "application/x-www-form-urlencoded", cameraJSON)
	require.Equal(t, 415, code)
	code, _, _ = do(t, srv, "POST", "/api/v1/cameras", "", "multipart/form-data; boundary=b", cameraJSON)
	require.Equal(t, 415, code)
	code, _, _ = do(t, srv, "POST", "/api/v1/cameras", "", "application/json", cameraJSON)
	require.Equal(t, 201, code)
	_, _, body := do(t, srv, "GET", "/api/v1/cameras", "", "", "")
	require.Equal(t, "anonymous dial tcp 10.0.0.9:554: connect: connection refused", body)

	// DNS rebinding: a page at evil.example whose name now resolves to 127.0.0.1 is same-origin with
	// an open API and may send JSON; its requests carry Host: evil.example.
	withHost := func(h http.Handler, host string) int {
		req := httptest.NewRequest("POST", "/api/v1/cameras", strings.NewReader(cameraJSON))
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(201) })
	open := auth.Middleware(auth.Options{Users: none, AllowedHosts: []string{"nvr.lan"}}, ok)
	for host, want := range map[string]int{
		"evil.example:8080": 403, "127.0.0.1.nip.io": 403, "nvr.lan.evil.example": 403,
		"127.0.0.1:8080": 201, "localhost:8080": 201, "[::1]:8080": 201, "192.168.1.5": 201, "NVR.lan:8080": 201, "nvr.lan.": 201,
	} {
		require.Equal(t, want, withHost(open, host), host)
	}
	locked := auth.Middleware(auth.Options{Users: testUsers(t, "")}, ok)
	req := httptest.NewRequest("POST", "/api/v1/cameras", strings.NewReader(cameraJSON))
	req.Host = "nvr.example.com"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminTok)
	rec := httptest.NewRecorder()
	locked.ServeHTTP(rec, req)
	require.Equal(t, 201, rec.Code, "with credentials any host name is fine: a rebinding page has no token")
}

func TestReasonWithoutIdentity(t *testing.T) {
	require.Equal(t, auth.UnreachableReason, auth.Reason(context.Background(), "EOF"))
	require.Equal(t, "", auth.Reason(context.Background(), ""))
}

func FuzzMiddlewareHeaders(f *testing.F) {
	f.Add("Bearer "+viewerTok, "application/json")
	f.Add("bearer  x", "application/vnd.api+json; q=1")
	f.Add("Basic dmVyYTp4", "text/plain;charset=\"")
	users, err := auth.New([]config.User{{Name: "vera", Role: "viewer", TokenSHA256: auth.HashToken(viewerTok)}}, "")
	require.NoError(f, err)
	h := auth.Middleware(auth.Options{Users: users}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := auth.FromContext(r.Context())
		require.True(f, ok)
		require.Equal(f, "vera", id.Name)
	}))
	f.Fuzz(func(t *testing.T, authz, ct string) {
		req := httptest.NewRequest("POST", "/api/v1/cameras", strings.NewReader("{}"))
		req.Header.Set("Authorization", authz)
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Contains(t, []int{401, 403}, rec.Code, "a viewer never mutates")
	})
}

// TestNewUserEntryParses: the entry hash-token prints is a valid config user whose token works on
// HTTP and on RTSP (Basic and Digest).
func TestNewUserEntryParses(t *testing.T) {
	u, tok, err := auth.NewUser("alice", "admin", "")
	require.NoError(t, err)
	yaml := "users:\n  - name: " + u.Name + "\n    role: " + u.Role + "\n    token_sha256: " + u.TokenSHA256 + "\n    rtsp_digest_md5: " + u.RTSPDigestMD5 + "\n"
	cfg, err := config.Parse("c.yaml", []byte(yaml), config.Options{})
	require.NoError(t, err)
	users, err := auth.FromConfig(cfg)
	require.NoError(t, err)
	id, err := users.Token(tok)
	require.NoError(t, err)
	require.Equal(t, auth.Identity{Name: "alice", Role: auth.RoleAdmin}, id)
	_, err = users.Password("alice", tok)
	require.NoError(t, err)
	require.True(t, users.DigestAvailable())
	ha1s, _ := users.DigestHA1s("alice")
	require.Equal(t, []string{auth.DigestHA1("alice", tok)}, ha1s)
	_, _, err = auth.NewUser("alice", "root", "")
	require.Error(t, err)
}

func TestMetricsCountRefusals(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := auth.NewMetrics(reg)
	require.NoError(t, err)
	srv := httptest.NewServer(auth.Middleware(auth.Options{Users: testUsers(t, ""), Metrics: m}, http.NotFoundHandler()))
	defer srv.Close()
	do(t, srv, "GET", "/api/v1/cameras", "", "", "")
	do(t, srv, "POST", "/api/v1/cameras", viewerTok, "application/json", "{}")
	do(t, srv, "POST", "/api/v1/cameras", adminTok, "text/plain", "{}")
	do(t, srv, "POST", "/api/v1/cameras", adminTok, "text/plain", "{}")
	m.RefusedRTSPCredentials()
	require.NoError(t, testutil.CollectAndCompare(m.Refused, strings.NewReader(`
# HELP mvwatch_auth_refused_total Requests refused by authentication or authorisation, by reason (unauthorized, forbidden, unsupported_media_type, rtsp_credentials).
# TYPE mvwatch_auth_refused_total counter
mvwatch_auth_refused_total{reason="forbidden"} 1
mvwatch_auth_refused_total{reason="rtsp_credentials"} 1
mvwatch_auth_refused_total{reason="unauthorized"} 1
mvwatch_auth_refused_total{reason="unsupported_media_type"} 2
`)))
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)
	var nilMetrics *auth.Metrics
	nilMetrics.RefusedRTSPCredentials() // no metrics: no panic
}

// TestMiddlewareSession: Options.Session authenticates requests without an Authorization header (its
// identity's role decides), its error refuses them (403), a bearer header is checked alone, and SDP
// bodies pass only where Options.SDP says.
func TestMiddlewareSession(t *testing.T) {
	var errCross = errors.New("cross-site request refused")
	session := func(r *http.Request) (auth.Identity, bool, error) {
		switch c, _ := r.Cookie("s"); {
		case c == nil:
			return auth.Identity{}, false, nil
		case r.Header.Get("Origin") != "":
			return auth.Identity{}, false, errCross
		case c.Value == "viewer":
			return auth.Identity{Name: "vera", Role: auth.RoleViewer}, true, nil
		}
		return auth.Identity{Name: "adam", Role: auth.RoleAdmin}, true, nil
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.FromContext(r.Context())
		_, _ = io.WriteString(w, id.Name)
	})
	h := auth.Middleware(auth.Options{Users: testUsers(t, ""), Session: session,
		SDP: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/whep") }}, ok)
	serve := func(method, path, cookie, ct, origin, bearer string) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader("{}"))
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "s", Value: cookie})
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	code, body := serve("GET", "/api/v1/cameras", "viewer", "", "", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "vera", body)
	code, _ = serve("GET", "/api/v1/cameras", "", "", "", "")
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = serve("POST", "/api/v1/cameras", "viewer", "application/json", "", "")
	require.Equal(t, http.StatusForbidden, code, "a viewer's session cannot add a camera")
	code, _ = serve("POST", "/api/v1/cameras", "admin", "application/json", "", "")
	require.Equal(t, http.StatusOK, code)
	code, body = serve("POST", "/api/v1/cameras", "admin", "application/json", "http://evil.example", "")
	require.Equal(t, http.StatusForbidden, code)
	require.Contains(t, body, errCross.Error())
	code, _ = serve("POST", "/api/v1/cameras", "admin", "text/plain", "", "")
	require.Equal(t, http.StatusUnsupportedMediaType, code)
	code, _ = serve("GET", "/api/v1/cameras", "admin", "", "", "wrong")
	require.Equal(t, http.StatusUnauthorized, code, "a wrong bearer token is not rescued by the cookie")

	code, _ = serve("POST", "/api/v1/cameras/x/whep", "admin", "application/sdp", "", "")
	require.Equal(t, http.StatusOK, code)
	code, _ = serve("POST", "/api/v1/cameras", "admin", "application/sdp", "", "")
	require.Equal(t, http.StatusUnsupportedMediaType, code, "SDP only where Options.SDP says")
}
