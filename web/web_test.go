package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/web"
)

// TestHandler checks the dashboard's files and their security headers: a CSP that lets the page load
// only its own scripts, styles, images and API, and no framing.
func TestHandler(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	get := func(method, path string) (*http.Response, string) {
		req, err := http.NewRequest(method, srv.URL+path, nil)
		require.NoError(t, err)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, string(b)
	}

	res, body := get("GET", "/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, `<script type="module" src="js/app.js">`)
	require.Contains(t, res.Header.Get("Content-Security-Policy"), "script-src 'self'")
	require.Contains(t, res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
	require.Equal(t, "DENY", res.Header.Get("X-Frame-Options"))
	for path, ctype := range map[string]string{"/js/app.js": "javascript", "/app.css": "text/css"} {
		res, _ := get("GET", path)
		require.Equal(t, http.StatusOK, res.StatusCode, path)
		require.Contains(t, res.Header.Get("Content-Type"), ctype, path)
	}
	res, _ = get("GET", "/nope.js")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, _ = get("POST", "/")
	require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
}

// TestStaticFilesUseNoInlineCode keeps the pages within the Content-Security-Policy (no inline
// scripts, styles or handlers) and the DOM building free of innerHTML.
func TestStaticFilesUseNoInlineCode(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	for _, p := range []string{"/", "/js/app.js", "/js/api.js", "/js/dom.js", "/js/live.js", "/js/fleet.js",
		"/js/fleetstate.js", "/js/events.js", "/js/camera.js", "/js/liveview.js", "/js/zones.js"} {
		res, err := http.Get(srv.URL + p)
		require.NoError(t, err)
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode, p)
		s := string(b)
		require.NotContains(t, s, "innerHTML", p)
		require.NotContains(t, s, "localStorage", p)
		if p == "/" {
			require.NotContains(t, s, "<style", p)
			require.NotContains(t, s, " onclick=", p)
			require.Equal(t, 1, strings.Count(s, "<script"), "only the module script")
		}
	}
}
