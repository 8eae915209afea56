package app

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/mvwatch/mvwatch/internal/api"
	"github.com/mvwatch/mvwatch/internal/auth"
	"github.com/mvwatch/mvwatch/internal/session"
	"github.com/mvwatch/mvwatch/web"
)

// handler is the HTTP tree: the API (its own authentication, strict CSP and metrics) at /api/,
// /healthz, /readyz and /metrics, and the dashboard (package web, with the CSP its page needs)
// everywhere else. The dashboard's files are public (the login page is one of them); everything they
// show comes from the API.
func (a *App) handler() http.Handler {
	dash := web.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; strings.HasPrefix(p, "/api/") || p == "/healthz" || p == "/readyz" || p == "/metrics" {
			a.api.ServeHTTP(w, r)
			return
		}
		dash.ServeHTTP(w, r)
	})
}

// LiveViewers is the number of the dashboard's live viewers of camera (0 without a live view here).
func (a *App) LiveViewers(camera string) int {
	if a.live == nil {
		return 0
	}
	return a.live.Viewers(camera)
}

// newSessions builds the browser session store on the users: a login's token is checked as a bearer
// token is, and the session keeps the user's name and role. With no credential configured, logins
// are not needed (the API is open).
func newSessions(users *auth.Users) *session.Store {
	if !users.Enabled() {
		return session.New(session.Options{})
	}
	return session.New(session.Options{Verify: func(tok string) (string, string, bool) {
		id, err := users.Token(tok)
		if err != nil {
			return "", "", false
		}
		return id.Name, id.Role.String(), true
	}})
}

// sessionIdentity is auth.Options.Session: the identity of the session cookie a request carries.
// A cookie-authenticated request that changes something must be same-origin (session.CheckOrigin;
// the middleware itself requires JSON bodies, or SDP for WHEP offers).
func (a *App) sessionIdentity(r *http.Request) (auth.Identity, bool, error) {
	s, ok := a.sessions.Lookup(r)
	if !ok {
		return auth.Identity{}, false, nil
	}
	if err := session.CheckOrigin(r); err != nil {
		return auth.Identity{}, false, err
	}
	role, err := auth.ParseRole(s.Role) // always parses: the role is auth's own, from newSessions
	if err != nil {
		return auth.Identity{}, false, fmt.Errorf("session role: %w", err)
	}
	return auth.Identity{Name: s.Name, Role: role}, true, nil
}

// liveHandler serves the live view's WHEP routes, nil when the cameras run in another process.
func (a *App) liveHandler() http.Handler {
	if a.live == nil {
		return nil
	}
	return a.live.Handler(api.LivePrefix)
}
