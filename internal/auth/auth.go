// Package auth decides who may do what: users with roles and hashed tokens (from the config's users
// and its legacy api_token), token and RTSP credential checks in constant time, and an HTTP
// middleware that requires a role per request, refuses cross-site-capable mutations and sets
// security headers. The HTTP API and the restream share one Users.
package auth

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/mvwatch/mvwatch/internal/config"
)

// Role is what a user may do. Roles are ordered: a higher role may do what a lower one may.
type Role int

// Roles.
const (
	// RoleNone is no role: only public routes.
	RoleNone Role = iota
	// RoleViewer may read events, live events and camera state, and play the restream.
	RoleViewer
	// RoleAdmin may also add, change and remove cameras and read or change the config.
	RoleAdmin
)

// ParseRole parses a config role name ("viewer", "admin").
func ParseRole(s string) (Role, error) {
	switch s {
	case config.RoleViewer:
		return RoleViewer, nil
	case config.RoleAdmin:
		return RoleAdmin, nil
	}
	return RoleNone, fmt.Errorf("unknown role %q", s)
}

// String returns the role's config name ("none" for RoleNone).
func (r Role) String() string {
	switch r {
	case RoleViewer:
		return config.RoleViewer
	case RoleAdmin:
		return config.RoleAdmin
	}
	return "none"
}

// Identity is who made a request.
type Identity struct {
	// Name is the user name; LegacyName for the api_token, AnonymousName when nothing authenticates.
	Name string
	// Role is what the user may do.
	Role Role
}

// Names of the identities that are no configured user.
const (
	// LegacyName is the identity of the config's api_token.
	LegacyName = "api_token"
	// AnonymousName is everyone's identity when no credential is configured (the API is then open,
	// and listens on loopback unless told otherwise).
	AnonymousName = "anonymous"
)

// Users verifies credentials against the configured users. It is safe for concurrent use and
// immutable; build a new one on a config reload.
type Users struct {
	users     []user
	legacy    *[32]byte // SHA-256 of the api_token, nil without one
	legacyTok string    // the api_token itself: RTSP Digest needs it
	digest    bool      // every user has an RTSP Digest HA1
}

type user struct {
	name string
	role Role
	hash [32]byte
	ha1  string // lower-case hex MD5(name:realm:token); "" if none
}

// New builds Users from the config's users and api_token (which becomes an admin named LegacyName).
// With neither, Enabled is false and everyone is an anonymous admin.
func New(users []config.User, apiToken string) (*Users, error) {
	u := &Users{digest: true}
	for i, cu := range users {
		role, err := ParseRole(cu.Role)
		if cu.Role == "" {
			role, err = RoleViewer, nil
		}
		if err != nil {
			return nil, fmt.Errorf("users[%d]: %w", i, err)
		}
		h, err := hex.DecodeString(cu.TokenSHA256)
		if err != nil || len(h) != sha256.Size {
			return nil, fmt.Errorf("users[%d]: token_sha256 is not 64 hex digits", i)
		}
		nu := user{name: cu.Name, role: role}
		copy(nu.hash[:], h)
		if cu.RTSPDigestMD5 != "" {
			b, err := hex.DecodeString(cu.RTSPDigestMD5)
			if err != nil || len(b) != md5.Size {
				return nil, fmt.Errorf("users[%d]: rtsp_digest_md5 is not 32 hex digits", i)
			}
			nu.ha1 = hex.EncodeToString(b)
		} else {
			u.digest = false
		}
		u.users = append(u.users, nu)
	}
	if apiToken != "" {
		h := sha256.Sum256([]byte(apiToken))
		u.legacy, u.legacyTok = &h, apiToken
	}
	return u, nil
}

// FromConfig builds Users from a validated config.
func FromConfig(c *config.Config) (*Users, error) { return New(c.Users, c.APIToken) }

// Enabled reports whether any credential is configured; if not, Anonymous is everyone's identity.
func (u *Users) Enabled() bool { return u != nil && (len(u.users) > 0 || u.legacy != nil) }

// Anonymous is the identity of every request when nothing is configured: an admin.
var Anonymous = Identity{Name: AnonymousName, Role: RoleAdmin}

// ErrBadCredentials is returned for a missing, unknown or wrong credential.
var ErrBadCredentials = errors.New("bad credentials")

// Token returns the identity whose token is tok (an HTTP bearer token). Every configured hash is
// compared, in constant time, whatever matches.
func (u *Users) Token(tok string) (Identity, error) {
	if tok == "" {
		return Identity{}, ErrBadCredentials
	}
	h := sha256.Sum256([]byte(tok))
	found := -1
	for i := range u.users {
		if subtle.ConstantTimeCompare(h[:], u.users[i].hash[:]) == 1 {
			found = i
		}
	}
	legacy := u.legacy != nil && subtle.ConstantTimeCompare(h[:], u.legacy[:]) == 1
	switch {
	case found >= 0:
		return Identity{Name: u.users[found].name, Role: u.users[found].role}, nil
	case legacy:
		return Identity{Name: LegacyName, Role: RoleAdmin}, nil
	}
	return Identity{}, ErrBadCredentials
}

// Password returns the identity of a user name and token pair (RTSP Basic). The api_token is the
// password of any user name.
func (u *Users) Password(name, tok string) (Identity, error) {
	h := sha256.Sum256([]byte(tok))
	if u.legacy != nil && subtle.ConstantTimeCompare(h[:], u.legacy[:]) == 1 {
		return Identity{Name: LegacyName, Role: RoleAdmin}, nil
	}
	found := -1
	for i, us := range u.users { // every user, so the time tells nothing of which names exist
		if subtle.ConstantTimeCompare([]byte(us.name), []byte(name))&subtle.ConstantTimeCompare(h[:], us.hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Identity{}, ErrBadCredentials
	}
	return Identity{Name: u.users[found].name, Role: u.users[found].role}, nil
}

// DigestAvailable reports whether every credential can authenticate by RTSP Digest (each user has
// rtsp_digest_md5; the api_token always can). Players prefer Digest when a server offers it, so it is
// offered only then.
func (u *Users) DigestAvailable() bool { return u.Enabled() && u.digest }

// DigestHA1s returns the RTSP Digest HA1 values (hex MD5 of "name:realm:token") a response from user
// name may be checked against, each with its identity: the user's own, and the api_token's for any
// name.
func (u *Users) DigestHA1s(name string) (ha1s []string, ids []Identity) {
	for _, us := range u.users {
		if us.name == name && us.ha1 != "" {
			ha1s, ids = append(ha1s, us.ha1), append(ids, Identity{Name: us.name, Role: us.role})
		}
	}
	if u.legacy != nil {
		ha1s, ids = append(ha1s, DigestHA1(name, u.legacyTok)), append(ids, Identity{Name: LegacyName, Role: RoleAdmin})
	}
	return ha1s, ids
}

// HashToken returns the hex SHA-256 of a token: a user's token_sha256.
func HashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// DigestHA1 returns the hex MD5 of "name:realm:token" (realm config.RTSPRealm): a user's
// rtsp_digest_md5.
func DigestHA1(name, tok string) string {
	h := md5.Sum([]byte(name + ":" + config.RTSPRealm + ":" + tok))
	return hex.EncodeToString(h[:])
}

// NewToken returns a random token: 32 bytes from crypto/rand, base64url without padding (43
// characters, valid in a URL's user info and an HTTP header).
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// NewUser returns the config entry of a user with token (a new random one when token is ""): its
// token_sha256 and rtsp_digest_md5, and the token to give the user (the config keeps hashes only).
func NewUser(name, role, token string) (config.User, string, error) {
	if !config.ValidName(name) {
		return config.User{}, "", fmt.Errorf("user name must be 1 to 64 of A-Z a-z 0-9 _ -, not %q", name)
	}
	if _, err := ParseRole(role); err != nil {
		return config.User{}, "", err
	}
	if token == "" {
		var err error
		if token, err = NewToken(); err != nil {
			return config.User{}, "", err
		}
	}
	return config.User{Name: name, Role: role, TokenSHA256: HashToken(token), RTSPDigestMD5: DigestHA1(name, token)}, token, nil
}
