// Package web is the operator dashboard: plain HTML, CSS and ES modules (no build step) embedded in
// the binary and served at /. The pages use only the public HTTP API (docs/openapi.yaml) and the
// session route of internal/session, from the browser.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"

	"github.com/mvwatch/mvwatch/internal/session"
)

//go:embed static
var static embed.FS

// contentSecurityPolicy allows the page only its own scripts, styles, images and API.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"media-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the dashboard's files (index.html at /). The pages route with the URL fragment
// (#/cameras/x), so no server-side fallback is needed.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree always has static/
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-cache") // revalidate: a new binary serves new files
		files.ServeHTTP(w, r)
	})
}

// LivePrefix is where the live view's WHEP routes live: LivePrefix + "{camera}/whep".
const LivePrefix = "/api/v1/cameras/"

// Mount assembles the HTTP tree: the session route (login, logout) at session.Path, the live view's
// WHEP routes (LivePrefix + "{camera}/whep...", when live is not nil; authenticated by sessions), the
// API (with session cookies bridged to its bearer credential) at /api/, /healthz, /readyz and
// /metrics, and the dashboard everywhere else.
func Mount(api http.Handler, sessions *session.Store, live http.Handler) http.Handler {
	bridged := sessions.Bridge(api)
	dash := Handler()
	var liveAuth http.Handler
	if live != nil {
		liveAuth = sessions.Authenticate(live)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case session.IsPath(p):
			sessions.ServeHTTP(w, r)
		case liveAuth != nil && isLivePath(p):
			liveAuth.ServeHTTP(w, r)
		case strings.HasPrefix(p, "/api/"), p == "/healthz", p == "/readyz", p == "/metrics":
			bridged.ServeHTTP(w, r)
		default:
			dash.ServeHTTP(w, r)
		}
	})
}

// isLivePath matches LivePrefix + "{camera}/whep" and LivePrefix + "{camera}/whep/{session}".
func isLivePath(p string) bool {
	rest, ok := strings.CutPrefix(p, LivePrefix)
	if !ok {
		return false
	}
	parts := strings.Split(rest, "/")
	return (len(parts) == 2 || len(parts) == 3) && parts[0] != "" && parts[1] == "whep"
}

// MountToken is Mount with a session store that checks the API token (empty: no login needed).
func MountToken(api http.Handler, token string, live http.Handler) http.Handler {
	return Mount(api, session.New(session.Options{Token: token}), live)
}
