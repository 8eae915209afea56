package session

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture serves a Store at Path and a stand-in for the API that authenticates as internal/auth's
// middleware does with the Store plugged in: the bearer token, or without an Authorization header
// the session (Lookup) after CheckCSRF (403 when that fails); 401 otherwise.
type fixture struct {
	srv   *httptest.Server
	store *Store
	clock *clock
}

const token = "s3cret"

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	c := &clock{t: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	opts.Now = c.now
	st := New(opts)
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authz := r.Header.Get("Authorization")
		if authz == "" {
			if _, ok := st.Lookup(r); ok {
				if CheckCSRF(r) != nil {
					http.Error(w, "cross-site", http.StatusForbidden)
					return
				}
				authz = "Bearer " + token
			}
		}
		if authz != "Bearer "+token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	mux := http.NewServeMux()
	mux.Handle(Path, st)
	mux.Handle("/api/", api)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, store: st, clock: c}
}

// reply is a response read whole (its body closed).
type reply struct {
	StatusCode int
	Body       *bytes.Reader
	cookies    []*http.Cookie
}

func (r *reply) Cookies() []*http.Cookie { return r.cookies }

func (f *fixture) do(t *testing.T, method, path, body string, header map[string]string, cookies ...*http.Cookie) *reply {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return &reply{StatusCode: res.StatusCode, Body: bytes.NewReader(b), cookies: res.Cookies()}
}

func sessionCookie(res *reply) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == CookieName {
			return c
		}
	}
	return nil
}

func (f *fixture) login(t *testing.T) *http.Cookie {
	t.Helper()
	res := f.do(t, "POST", Path, `{"token":"`+token+`"}`, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	c := sessionCookie(res)
	require.NotNil(t, c)
	return c
}

func TestLogin(t *testing.T) {
	cases := []struct {
		name, body string
		header     map[string]string
		want       int
	}{
		{"wrong token", `{"token":"nope"}`, nil, http.StatusUnauthorized},
		{"empty token", `{"token":""}`, nil, http.StatusBadRequest},
		{"not JSON", `token=s3cret`, nil, http.StatusBadRequest},
		{"unknown field", `{"token":"s3cret","admin":true}`, nil, http.StatusBadRequest},
		{"form post", `{"token":"s3cret"}`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"cross-site", `{"token":"s3cret"}`, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"other origin", `{"token":"s3cret"}`, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"right token", `{"token":"s3cret"}`, nil, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{Token: token, TTL: time.Hour})
			res := f.do(t, "POST", Path, tc.body, tc.header)
			require.Equal(t, tc.want, res.StatusCode)
			c := sessionCookie(res)
			if tc.want != http.StatusOK {
				require.Nil(t, c)
				require.Zero(t, f.store.Len())
				return
			}
			require.NotNil(t, c)
			require.True(t, c.HttpOnly)
			require.Equal(t, http.SameSiteStrictMode, c.SameSite)
			require.Equal(t, "/", c.Path)
			require.Equal(t, 3600, c.MaxAge)
			require.Len(t, c.Value, 64)
			require.NotContains(t, c.Value, token)
			var st status
			require.NoError(t, json.NewDecoder(res.Body).Decode(&st))
			require.True(t, st.Authenticated)
			require.Equal(t, RoleAdmin, st.Role)
		})
	}
}

func TestSessionAuthenticatesTheAPI(t *testing.T) {
	f := newFixture(t, Options{Token: token, TTL: time.Hour})
	require.Equal(t, http.StatusUnauthorized, f.do(t, "GET", "/api/v1/cameras", "", nil).StatusCode)
	c := f.login(t)
	require.Equal(t, http.StatusOK, f.do(t, "GET", "/api/v1/cameras", "", nil, c).StatusCode)
	forged := &http.Cookie{Name: CookieName, Value: strings.Repeat("0", 64)}
	require.Equal(t, http.StatusUnauthorized, f.do(t, "GET", "/api/v1/cameras", "", nil, forged).StatusCode)
	// An explicit Authorization header wins over the cookie.
	require.Equal(t, http.StatusUnauthorized,
		f.do(t, "GET", "/api/v1/cameras", "", map[string]string{"Authorization": "Bearer wrong"}, c).StatusCode)

	// Mutations with the cookie: JSON and same-origin only.
	require.Equal(t, http.StatusOK, f.do(t, "POST", "/api/v1/cameras", `{}`, nil, c).StatusCode)
	require.Equal(t, http.StatusOK, f.do(t, "DELETE", "/api/v1/cameras/x", "", map[string]string{"Sec-Fetch-Site": "same-origin"}, c).StatusCode)
	require.Equal(t, http.StatusForbidden,
		f.do(t, "POST", "/api/v1/cameras", `{}`, map[string]string{"Content-Type": "text/plain"}, c).StatusCode)
	require.Equal(t, http.StatusForbidden,
		f.do(t, "DELETE", "/api/v1/cameras/x", "", map[string]string{"Sec-Fetch-Site": "same-site"}, c).StatusCode)
	require.Equal(t, http.StatusForbidden,
		f.do(t, "PUT", "/api/v1/cameras/x", `{}`, map[string]string{"Origin": "http://evil.example"}, c).StatusCode)

	// GET reports the session.
	res := f.do(t, "GET", Path, "", nil, c)
	var st status
	require.NoError(t, json.NewDecoder(res.Body).Decode(&st))
	require.Equal(t, status{Required: true, Authenticated: true, Role: RoleAdmin, Expires: st.Expires}, st)
	require.Equal(t, f.clock.now().Add(time.Hour), *st.Expires)

	// Expiry ends it and drops it.
	f.clock.add(time.Hour)
	require.Equal(t, http.StatusUnauthorized, f.do(t, "GET", "/api/v1/cameras", "", nil, c).StatusCode)
	require.Zero(t, f.store.Len())
}

func TestLogout(t *testing.T) {
	f := newFixture(t, Options{Token: token})
	c := f.login(t)
	res := f.do(t, "DELETE", Path, "", nil, c)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	cleared := sessionCookie(res)
	require.NotNil(t, cleared)
	require.Empty(t, cleared.Value)
	require.Negative(t, cleared.MaxAge)
	require.Equal(t, http.StatusUnauthorized, f.do(t, "GET", "/api/v1/cameras", "", nil, c).StatusCode)
	require.Zero(t, f.store.Len())
}

func TestLookupForMiddleware(t *testing.T) {
	f := newFixture(t, Options{Token: token, Verify: func(cred string) (string, string, bool) {
		return "ann", "viewer", cred == token
	}})
	c := f.login(t)
	r := httptest.NewRequest("GET", "/api/v1/events", nil)
	_, ok := f.store.Lookup(r)
	require.False(t, ok)
	r.AddCookie(c)
	sess, ok := f.store.Lookup(r)
	require.True(t, ok)
	require.Equal(t, "viewer", sess.Role)
	require.Equal(t, "ann", sess.Name)
	require.NoError(t, CheckCSRF(r))
	post := httptest.NewRequest("POST", "/api/v1/cameras", strings.NewReader("{}"))
	require.ErrorIs(t, CheckCSRF(post), ErrNotJSON)
	post.Header.Set("Content-Type", "application/json; charset=utf-8")
	require.NoError(t, CheckCSRF(post))
}

func TestNoTokenNoLogin(t *testing.T) {
	f := newFixture(t, Options{})
	res := f.do(t, "GET", Path, "", nil)
	var st status
	require.NoError(t, json.NewDecoder(res.Body).Decode(&st))
	require.Equal(t, status{Required: false, Authenticated: true}, st)
	require.Equal(t, http.StatusConflict, f.do(t, "POST", Path, `{"token":"x"}`, nil).StatusCode)
	require.Equal(t, http.StatusMethodNotAllowed, f.do(t, "PUT", Path, `{}`, nil).StatusCode)
}

func TestMaxSessionsEvictsTheOldest(t *testing.T) {
	f := newFixture(t, Options{Token: token, MaxSessions: 2, TTL: time.Hour})
	first := f.login(t)
	f.clock.add(time.Minute)
	second := f.login(t)
	f.clock.add(time.Minute)
	third := f.login(t)
	require.Equal(t, 2, f.store.Len())
	require.Equal(t, http.StatusUnauthorized, f.do(t, "GET", "/api/v1/x", "", nil, first).StatusCode)
	require.Equal(t, http.StatusOK, f.do(t, "GET", "/api/v1/x", "", nil, second).StatusCode)
	require.Equal(t, http.StatusOK, f.do(t, "GET", "/api/v1/x", "", nil, third).StatusCode)
}

// FuzzLogin: no body opens a session but one holding the token, and none panics.
func FuzzLogin(f *testing.F) {
	for _, s := range []string{`{"token":"s3cret"}`, `{"token":"nope"}`, `{"token":""}`, `token=s3cret`, `{"token":"s3cret"}{}`, `[]`, ``} {
		f.Add(s)
	}
	st := New(Options{Token: token})
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", Path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		st.ServeHTTP(w, r)
		opened := false
		for _, c := range w.Result().Cookies() {
			opened = opened || (c.Name == CookieName && c.Value != "")
		}
		var req loginRequest
		if opened {
			require.Equal(t, http.StatusOK, w.Code)
			require.NoError(t, json.NewDecoder(strings.NewReader(body)).Decode(&req))
			require.Equal(t, token, req.Token)
		} else {
			require.NotEqual(t, http.StatusOK, w.Code)
		}
	})
}
