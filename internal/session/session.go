// Package session exchanges an API token for a browser session: POST /api/v1/session checks the token
// and sets an HttpOnly, SameSite=Strict cookie holding a random session id; the session itself (its
// role, expiry and the credential it was opened with) lives only in this process's memory. The cookie
// lets EventSource, <img> and <video> authenticate, which cannot send an Authorization header, while
// the token never reaches storage that the page's JavaScript can read.
//
// Authentication middleware accepts the cookie as a credential by calling Store.Lookup (internal/app
// plugs it into internal/auth's middleware, with CheckCSRF); the session keeps the user's name and
// role from Options.Verify, never the token.
//
// CSRF: the cookie is SameSite=Strict, so other sites' requests carry none; in addition a
// cookie-authenticated request that changes something must come from the same origin (Origin and
// Sec-Fetch-Site are checked when the browser sends them) and, for POST, PUT and PATCH, carry
// Content-Type: application/json, which no HTML form can send.
package session

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// CookieName is the name of the session cookie.
const CookieName = "mvwatch_session"

// Path is where the Store's handler expects to be mounted.
const Path = "/api/v1/session"

// RoleAdmin is the role a session opened with the configured API token gets.
const RoleAdmin = "admin"

// Options configures a Store.
type Options struct {
	// Token is the API token a login must present. Empty means the API needs no credential: logins
	// are refused and the handler reports that none is required.
	Token string
	// Verify, when set, checks a presented credential instead of comparing it with Token, and returns
	// the user's name and role (internal/app plugs internal/auth's Users in here). With Verify set,
	// logins are required whatever Token is.
	Verify func(credential string) (name, role string, ok bool)
	// TTL is how long a session lasts from login. It defaults to 12 hours.
	TTL time.Duration
	// MaxSessions bounds the sessions held; a login beyond it evicts the session closest to expiry.
	// It defaults to 10000.
	MaxSessions int
	// Secure forces the cookie's Secure attribute; it is set anyway on requests that came over TLS.
	Secure bool
	// Now is the clock. It defaults to time.Now.
	Now func() time.Time
}

// Session is an open browser session.
type Session struct {
	// Name is the user's name, as Verify returned it ("" for the API token).
	Name string
	// Role is what Verify returned at login (RoleAdmin for the API token).
	Role string
	// Expires is when the session ends.
	Expires time.Time
}

// Store holds the open sessions in memory (a restart logs everyone out) and serves Path. It is safe
// for concurrent use and starts no goroutine: expired sessions are dropped when met and on each login.
type Store struct {
	opts      Options
	tokenHash [32]byte

	mu       sync.Mutex
	sessions map[string]Session // by sha256(id), so a timing leak of the map reveals no id
}

// New builds a Store.
func New(opts Options) *Store {
	if opts.TTL <= 0 {
		opts.TTL = 12 * time.Hour
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 10000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{opts: opts, tokenHash: sha256.Sum256([]byte(opts.Token)), sessions: map[string]Session{}}
}

// Required reports whether the API needs a credential (a token or Verify is configured).
func (s *Store) Required() bool { return s.opts.Token != "" || s.opts.Verify != nil }

// Lookup returns the session whose cookie the request carries, if it is open and unexpired. This is
// the call for authentication middleware: a request with no Authorization header but a session
// (ok == true) is authenticated with the session's Role. For a request that changes something (not
// GET, HEAD or OPTIONS) the middleware must also call CheckCSRF.
func (s *Store) Lookup(r *http.Request) (Session, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return Session{}, false
	}
	key := sha256.Sum256([]byte(c.Value))
	k := string(key[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[k]
	if !ok {
		return Session{}, false
	}
	if !s.opts.Now().Before(sess.Expires) {
		delete(s.sessions, k)
		return Session{}, false
	}
	return sess, true
}

// ErrCrossSite is CheckCSRF's answer for a request that may come from another site.
var ErrCrossSite = errors.New("session: cross-site request refused")

// ErrNotJSON is CheckCSRF's answer for a cookie-authenticated POST, PUT or PATCH whose body is not
// JSON (or SDP, for the live view's WHEP offer).
var ErrNotJSON = errors.New("session: Content-Type must be application/json")

// CheckCSRF checks a cookie-authenticated request that changes something: it must be same-origin as
// far as the browser says (Sec-Fetch-Site, Origin) and POST, PUT and PATCH must send JSON (or SDP).
// Safe methods always pass.
func CheckCSRF(r *http.Request) error {
	if err := CheckOrigin(r); err != nil {
		return err
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		// application/sdp is WHEP's offer (live view); no HTML form can send it either.
		if err != nil || (mt != "application/json" && mt != "application/sdp") {
			return ErrNotJSON
		}
	}
	return nil
}

// CheckOrigin is CheckCSRF without the Content-Type rule, for middleware that enforces the body's
// type itself (internal/auth's): a request that changes something must be same-origin as far as the
// browser says (Sec-Fetch-Site, Origin). Safe methods always pass.
func CheckOrigin(r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return ErrCrossSite
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return ErrCrossSite
		}
	}
	return nil
}

// status is the body of GET and POST Path.
type status struct {
	Required      bool       `json:"auth_required"`
	Authenticated bool       `json:"authenticated"`
	Role          string     `json:"role,omitempty"`
	Expires       *time.Time `json:"expires,omitempty"`
}

// ServeHTTP serves Path: GET reports the session (auth_required, authenticated, role, expires), POST
// with {"token": "..."} logs in (sets the cookie), DELETE logs out (drops the session, clears the
// cookie).
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		st := status{Required: s.Required(), Authenticated: !s.Required()}
		if sess, ok := s.Lookup(r); ok {
			st.Authenticated, st.Role, st.Expires = true, sess.Role, &sess.Expires
		}
		writeJSON(w, http.StatusOK, st)
	case http.MethodPost:
		s.login(w, r)
	case http.MethodDelete:
		s.logout(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST, DELETE")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": http.StatusText(http.StatusMethodNotAllowed)})
	}
}

// loginRequest is the body of POST Path.
type loginRequest struct {
	Token string `json:"token"`
}

func (s *Store) login(w http.ResponseWriter, r *http.Request) {
	if err := CheckCSRF(r); err != nil {
		code := http.StatusForbidden
		if errors.Is(err, ErrNotJSON) {
			code = http.StatusUnsupportedMediaType // as the API answers any other body that is not JSON
		}
		writeJSON(w, code, map[string]string{"error": err.Error()})
		return
	}
	var req loginRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Token == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want a JSON body {"token": "..."}`})
		return
	}
	if !s.Required() {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "this server needs no login (no API token is configured)"})
		return
	}
	name, role, ok := s.verify(req.Token)
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "wrong token"})
		return
	}
	id, err := newID()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
		return
	}
	now := s.opts.Now()
	sess := Session{Name: name, Role: role, Expires: now.Add(s.opts.TTL)}
	s.add(id, sess, now)
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: id, Path: "/", Expires: sess.Expires, MaxAge: int(s.opts.TTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.opts.Secure || r.TLS != nil,
	})
	writeJSON(w, http.StatusOK, status{Required: true, Authenticated: true, Role: role, Expires: &sess.Expires})
}

func (s *Store) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(CookieName); err == nil {
		key := sha256.Sum256([]byte(c.Value))
		s.mu.Lock()
		delete(s.sessions, string(key[:]))
		s.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.opts.Secure || r.TLS != nil})
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// verify checks a credential with Verify, or against Token in constant time.
func (s *Store) verify(credential string) (name, role string, ok bool) {
	if s.opts.Verify != nil {
		return s.opts.Verify(credential)
	}
	got := sha256.Sum256([]byte(credential))
	return "", RoleAdmin, subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) == 1
}

// add stores a session, dropping expired ones and, when full, the one closest to expiry.
func (s *Store) add(id string, sess Session, now time.Time) {
	key := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, old := range s.sessions {
		if !now.Before(old.Expires) {
			delete(s.sessions, k)
		}
	}
	for len(s.sessions) >= s.opts.MaxSessions {
		var oldest string
		var at time.Time
		for k, old := range s.sessions {
			if oldest == "" || old.Expires.Before(at) {
				oldest, at = k, old.Expires
			}
		}
		delete(s.sessions, oldest)
	}
	s.sessions[string(key[:])] = sess
}

// Len is the number of sessions held (expired ones not yet dropped included).
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// newID returns 32 random bytes, hex-encoded.
func newID() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// IsPath reports whether p is the session route.
func IsPath(p string) bool { return strings.TrimSuffix(p, "/") == Path }
