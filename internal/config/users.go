package config

import (
	"fmt"
	"slices"
	"strings"
)

// User is one person or program allowed to use the HTTP API and the restream. Its token is stored
// hashed: `mvwatch hash-token -user NAME` makes a random token and prints this entry.
//
// On HTTP a user sends `Authorization: Bearer <token>`; on the restream the user name and the token
// as password (rtsp://NAME:TOKEN@host:8554/camera), by Basic or, when RTSPDigestMD5 is set, Digest.
type User struct {
	// Name identifies the user in logs and the restream: 1 to 64 of [A-Za-z0-9_-]. Required, unique.
	Name string `yaml:"name" json:"name"`
	// Role is "viewer" (events, live events, camera state, restream) or "admin" (also adding, changing
	// and removing cameras, and config). It defaults to "viewer".
	Role string `yaml:"role" json:"role"`
	// TokenSHA256 is the hex SHA-256 of the user's token (64 hex digits). Required. Tokens must be
	// random (hash-token makes 256-bit ones): a hash of a guessable word is no protection.
	TokenSHA256 string `yaml:"token_sha256" json:"token_sha256"`
	// RTSPDigestMD5, when set, is the hex MD5 of "NAME:mvwatch:TOKEN" (RTSP Digest's HA1, with realm
	// RTSPRealm), which lets the user's player authenticate by Digest, which sends no token. It is
	// equivalent to the token for RTSP Digest, so it is never rendered. Digest is offered only when
	// every user has one. It defaults to empty (Basic only).
	RTSPDigestMD5 string `yaml:"rtsp_digest_md5" json:"rtsp_digest_md5,omitempty"`
}

// Roles lists the user roles, least privileged first.
var Roles = []string{RoleViewer, RoleAdmin}

// User roles.
const (
	RoleViewer = "viewer"
	RoleAdmin  = "admin"
)

// RTSPRealm is the realm of the restream's RTSP authentication (part of RTSPDigestMD5).
const RTSPRealm = "mvwatch"

func (u *User) applyDefaults() { setStr(&u.Role, RoleViewer) }

func validateUsers(p *problems, users []User) {
	names := map[string]int{}
	for i, u := range users {
		path := fmt.Sprintf("users[%d]", i)
		if u.Name == "" {
			p.bad(path+".name", "required")
		} else if !ValidName(u.Name) {
			p.bad(path+".name", "must be 1 to 64 of A-Z a-z 0-9 _ -, not %q", u.Name)
		} else if j, dup := names[u.Name]; dup {
			p.bad(path+".name", "duplicate user name %q (also users[%d])", u.Name, j)
		}
		names[u.Name] = i
		if !slices.Contains(Roles, u.Role) {
			p.bad(path+".role", "must be %s, not %q", strings.Join(Roles, " or "), u.Role)
		}
		if u.TokenSHA256 == "" {
			p.bad(path+".token_sha256", "required (mvwatch hash-token makes a token and its hash)")
		} else if !isHex(u.TokenSHA256, 64) {
			p.bad(path+".token_sha256", "must be 64 hex digits (the SHA-256 of the token)")
		}
		if u.RTSPDigestMD5 != "" && !isHex(u.RTSPDigestMD5, 32) {
			p.bad(path+".rtsp_digest_md5", "must be 32 hex digits (the MD5 of \"NAME:%s:TOKEN\")", RTSPRealm)
		}
	}
}

// isHex reports whether s is n hex digits.
func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}
