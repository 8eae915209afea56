package auth

import (
	"context"
	"encoding/json"
	"mime"
	"net"
	"net/http"
	"strings"
)

// APIContentSecurityPolicy is the Content-Security-Policy of JSON API responses: nothing may load,
// run, be framed or submit forms.
const APIContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// Options configures Middleware.
type Options struct {
	// Users verifies bearer tokens. Nil or not Enabled: every request is Anonymous (an admin).
	Users *Users
	// Public reports the requests anyone may make without a token. It defaults to PublicHealth
	// (/healthz and /metrics).
	Public func(r *http.Request) bool
	// Need returns the role a request needs. It defaults to NeedByMethod.
	Need func(r *http.Request) Role
	// ContentSecurityPolicy is set on every response. It defaults to APIContentSecurityPolicy.
	ContentSecurityPolicy string
	// Metrics, when set, counts refused requests.
	Metrics *Metrics
	// AllowedHosts lists the host names (besides IP addresses and localhost) an open API (no
	// credential configured) answers to; see Middleware. It defaults to none.
	AllowedHosts []string
	// Session, when set, authenticates a request without an Authorization header by its browser
	// session (internal/session's cookie, looked up by internal/app): ok false means it has none (401
	// as without a token); a non-nil err refuses it (403), such as a cross-site request that changes
	// something. The identity's role is the user's (from Users, at login).
	Session func(r *http.Request) (id Identity, ok bool, err error)
	// SDP reports the requests whose body is an SDP offer (application/sdp, the live view's WHEP)
	// instead of JSON. No browser sends that type cross-site without a CORS preflight either.
	SDP func(r *http.Request) bool
}

// PublicHealth reports the liveness and metrics routes, which probes and scrapers call without a
// token.
func PublicHealth(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && (r.URL.Path == "/healthz" || r.URL.Path == "/metrics")
}

// NeedByMethod is the default route classes: reads (GET, HEAD, OPTIONS) need a viewer; everything
// else (POST, PUT, PATCH, DELETE: adding, changing or removing cameras and config) an admin.
func NeedByMethod(r *http.Request) Role {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return RoleViewer
	}
	return RoleAdmin
}

// Middleware returns next behind authentication and authorisation:
//
//   - every response carries security headers (nosniff, no framing, no referrer, a CSP and a
//     same-origin resource policy);
//   - a request that is not public needs `Authorization: Bearer <token>` of a user, or without that
//     header a browser session (Options.Session) (401 otherwise, with WWW-Authenticate), whose role
//     is at least Need(r) (403 otherwise); with no credential
//     configured everyone is Anonymous, an admin;
//   - with no credential configured, a request whose Host is a DNS name other than localhost and
//     AllowedHosts is refused (403): an open API listens on loopback, and a web page that rebinds its
//     own name to 127.0.0.1 (DNS rebinding) would otherwise be same-origin with it;
//   - POST, PUT and PATCH need Content-Type application/json (application/sdp where Options.SDP
//     says so; 415 otherwise). Browsers send a
//     cross-site form or no-cors fetch only with text/plain, form or multipart types and no
//     preflight, so a page cannot make a visitor's browser change anything; a JSON POST from another
//     origin needs a CORS preflight, which this API never grants.
//
// next finds the Identity in the request's context (FromContext). Errors are JSON {"error": "..."}.
func Middleware(o Options, next http.Handler) http.Handler {
	if o.Public == nil {
		o.Public = PublicHealth
	}
	if o.Need == nil {
		o.Need = NeedByMethod
	}
	if o.ContentSecurityPolicy == "" {
		o.ContentSecurityPolicy = APIContentSecurityPolicy
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", o.ContentSecurityPolicy)
		h.Set("Cross-Origin-Resource-Policy", "same-origin")

		id := Anonymous
		if !o.Users.Enabled() && !hostAllowed(r.Host, o.AllowedHosts) {
			o.Metrics.refused(RefusedForbidden)
			writeError(w, http.StatusForbidden, "host name not allowed without credentials (DNS rebinding protection): "+
				"use an IP address or localhost, list the name in http.allowed_hosts, or configure users")
			return
		}
		if o.Users.Enabled() {
			if o.Public(r) {
				next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), Identity{Name: AnonymousName, Role: RoleNone})))
				return
			}
			var err error
			id, err = o.Users.Token(bearer(r))
			if err != nil && o.Session != nil && r.Header.Get("Authorization") == "" {
				sid, ok, serr := o.Session(r)
				if serr != nil {
					o.Metrics.refused(RefusedForbidden)
					writeError(w, http.StatusForbidden, serr.Error())
					return
				}
				if ok {
					id, err = sid, nil
				}
			}
			if err != nil {
				o.Metrics.refused(RefusedUnauthorized)
				h.Set("WWW-Authenticate", `Bearer realm="mvwatch"`)
				writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
				return
			}
			if need := o.Need(r); id.Role < need {
				o.Metrics.refused(RefusedForbidden)
				writeError(w, http.StatusForbidden, "this needs the "+need.String()+" role")
				return
			}
		}
		if needsJSON(r.Method) && !o.bodyTypeAllowed(r) {
			o.Metrics.refused(RefusedContentType)
			writeError(w, http.StatusUnsupportedMediaType, "this needs Content-Type: application/json")
			return
		}
		next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
	})
}

// hostAllowed reports whether a Host header names an IP address, localhost or one of allowed.
func hostAllowed(hostport string, allowed []string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if host == "" || strings.EqualFold(host, "localhost") || net.ParseIP(host) != nil {
		return true // no Host (HTTP/1.0) cannot be a browser's rebinding
	}
	for _, a := range allowed {
		if strings.EqualFold(host, a) {
			return true
		}
	}
	return false
}

// bearer returns the token of an "Authorization: Bearer <token>" header, "" for none. (No Basic:
// browsers attach cached Basic credentials to cross-site requests; they never attach a bearer token.)
func bearer(r *http.Request) string {
	const prefix = "Bearer "
	a := r.Header.Get("Authorization")
	if len(a) <= len(prefix) || !strings.EqualFold(a[:len(prefix)], prefix) {
		return ""
	}
	return a[len(prefix):]
}

// needsJSON reports the methods that carry a body a browser could send cross-site.
func needsJSON(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete, http.MethodTrace:
		return false
	}
	return true
}

// isJSON reports application/json or an application/*+json type, parameters allowed.
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// bodyTypeAllowed reports whether a request's Content-Type is JSON, or SDP where o.SDP allows it.
func (o Options) bodyTypeAllowed(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return isJSON(ct) || (o.SDP != nil && o.SDP(r) && isSDP(ct))
}

// isSDP reports application/sdp, parameters allowed.
func isSDP(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/sdp"
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{msg})
}

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the identity Middleware put in ctx.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// Allowed reports whether the request's identity has at least role; false without an identity.
func Allowed(ctx context.Context, role Role) bool {
	id, ok := FromContext(ctx)
	return ok && id.Role >= role
}

// UnreachableReason is what a viewer sees instead of a camera's failure detail.
const UnreachableReason = "camera unreachable"

// Reason returns a camera state reason as the request's identity may see it: admins get the
// (already redacted) detail; anyone else UnreachableReason for any failure, so that the state never
// tells which host:port answered how ("connection refused", "EOF", "no such host", a banner).
func Reason(ctx context.Context, reason string) string {
	if reason == "" || Allowed(ctx, RoleAdmin) {
		return reason
	}
	return UnreachableReason
}
