package app

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/auth"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/session"
)

// sessionCall makes a request with the session cookie (and no Authorization header) and optional
// extra headers.
func sessionCall(t *testing.T, svc *App, c *http.Cookie, method, path, ct, body string, hdr ...string) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+svc.HTTPAddr()+path, strings.NewReader(body))
	require.NoError(t, err)
	if c != nil {
		req.AddCookie(c)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	require.NoError(t, res.Body.Close())
	return res.StatusCode
}

// login opens a session with tok over the real server and returns its cookie.
func login(t *testing.T, svc *App, tok string) *http.Cookie {
	t.Helper()
	res, err := http.Post("http://"+svc.HTTPAddr()+session.Path, "application/json", strings.NewReader(`{"token":"`+tok+`"}`))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)
	for _, c := range res.Cookies() {
		if c.Name == session.CookieName {
			require.True(t, c.HttpOnly)
			require.Equal(t, http.SameSiteStrictMode, c.SameSite)
			return c
		}
	}
	t.Fatal("no session cookie")
	return nil
}

// TestDashboardMounted: the dashboard is served at / with its own CSP while the API keeps its strict
// one; a session cookie is a credential with the user's role (a viewer reads and may watch live
// video, only an admin changes cameras), cookie mutations need JSON and the same origin, and the
// WHEP route needs a viewer.
func TestDashboardMounted(t *testing.T) {
	svc := lockedService(t, 4, config.Camera{Name: "gone", URL: "rtsp://127.0.0.1:1/x"})

	code, hdr, body := call(t, svc, "GET", "/", "", "", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `<script type="module" src="js/app.js">`)
	require.Contains(t, hdr.Get("Content-Security-Policy"), "script-src 'self'")
	require.Equal(t, "DENY", hdr.Get("X-Frame-Options"))
	code, hdr, _ = call(t, svc, "GET", "/js/app.js", "", "", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, hdr.Get("Content-Type"), "javascript")
	code, hdr, _ = call(t, svc, "GET", "/api/v1/cameras", "", "", "")
	require.Equal(t, http.StatusUnauthorized, code)
	require.Equal(t, auth.APIContentSecurityPolicy, hdr.Get("Content-Security-Policy"))

	code, _, body = call(t, svc, "GET", session.Path, "", "", "")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"auth_required":true,"authenticated":false}`, body)
	res, err := http.Post("http://"+svc.HTTPAddr()+session.Path, "application/json", strings.NewReader(`{"token":"wrong"}`))
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)

	const cam = `{"name":"yard","url":"rtsp://127.0.0.1:1/yard"}`
	viewer := login(t, svc, "viewer-tok")
	require.Equal(t, http.StatusOK, sessionCall(t, svc, viewer, "GET", "/api/v1/cameras", "", ""))
	require.Equal(t, http.StatusForbidden, sessionCall(t, svc, viewer, "POST", "/api/v1/cameras", "application/json", cam))
	// The live view needs a viewer, no more: the camera sends no video, so the offer gets as far as 404.
	require.Equal(t, http.StatusUnauthorized, sessionCall(t, svc, nil, "POST", "/api/v1/cameras/gone/whep", "application/sdp", "v=0"))
	require.Equal(t, http.StatusNotFound, sessionCall(t, svc, viewer, "POST", "/api/v1/cameras/gone/whep", "application/sdp", "v=0"))
	require.Equal(t, http.StatusUnsupportedMediaType, sessionCall(t, svc, viewer, "POST", "/api/v1/cameras/gone/whep", "text/plain", "v=0"))
	require.Equal(t, http.StatusNotFound, sessionCall(t, svc, viewer, "DELETE", "/api/v1/cameras/gone/whep/nope", "", ""))

	admin := login(t, svc, "admin-tok")
	require.Equal(t, http.StatusUnsupportedMediaType, sessionCall(t, svc, admin, "POST", "/api/v1/cameras", "text/plain", cam))
	require.Equal(t, http.StatusForbidden, sessionCall(t, svc, admin, "POST", "/api/v1/cameras", "application/json", cam,
		"Origin", "http://evil.example"), "a cross-site mutation with the cookie")
	require.Equal(t, http.StatusForbidden, sessionCall(t, svc, admin, "DELETE", "/api/v1/cameras/gone", "", "",
		"Sec-Fetch-Site", "cross-site"))
	require.Equal(t, http.StatusCreated, sessionCall(t, svc, admin, "POST", "/api/v1/cameras", "application/json", cam,
		"Origin", "http://"+svc.HTTPAddr()))

	require.Equal(t, http.StatusNoContent, sessionCall(t, svc, admin, "DELETE", session.Path, "", ""))
	require.Equal(t, http.StatusUnauthorized, sessionCall(t, svc, admin, "GET", "/api/v1/cameras", "", ""), "logged out")
}
