package restream

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"strings"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/auth"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/headers"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"

	mvauth "github.com/mvwatch/mvwatch/internal/auth"
	"github.com/mvwatch/mvwatch/internal/config"
)

// connState is what the server keeps per RTSP connection (ServerConn user data): the Digest nonce
// it challenged the connection with.
type connState struct{ nonce string }

// OnConnOpen implements gortsplib.ServerHandlerOnConnOpen: each connection gets its own nonce.
func (r *Server) OnConnOpen(ctx *gortsplib.ServerHandlerOnConnOpenCtx) {
	n, err := auth.GenerateNonce()
	if err != nil {
		n = "" // Digest then fails for this connection; Basic still works
	}
	ctx.Conn.SetUserData(&connState{nonce: n})
}

// authenticate checks a viewer's request: nil when it may go on, else the response to give and the
// error to return with it. Without credentials the answer is 401 with the challenge (Basic, and
// Digest MD5 when every user can use it) and the connection stays open for the retry; wrong
// credentials get 401 and the connection is closed (liberrors.ErrServerAuth).
func (r *Server) authenticate(conn *gortsplib.ServerConn, req *base.Request) (*base.Response, error) {
	users := r.cfg.Users
	if !users.Enabled() {
		return nil, nil
	}
	st, _ := conn.UserData().(*connState)
	nonce := ""
	if st != nil {
		nonce = st.nonce
	}
	h, given := credentials(req)
	if !given {
		return &base.Response{StatusCode: base.StatusUnauthorized, Header: base.Header{"WWW-Authenticate": r.challenge(nonce)}}, nil
	}
	id, ok := r.verify(h, req, nonce)
	if !ok || id.Role < mvauth.RoleViewer {
		r.cfg.Metrics.RefusedRTSPCredentials()
		r.cfg.Log.Info("restream: refused credentials", "user", h.Username, "remote", conn.NetConn().RemoteAddr().String())
		return &base.Response{StatusCode: base.StatusUnauthorized}, liberrors.ErrServerAuth{}
	}
	r.cfg.Log.Debug("restream: viewer authenticated", "user", id.Name, "method", authMethodName(h.Method), "request", string(req.Method))
	return nil, nil
}

func authMethodName(m headers.AuthMethod) string {
	if m == headers.AuthMethodDigest {
		return "digest"
	}
	return "basic"
}

// credentials returns the request's Authorization header, and whether it names a user.
func credentials(req *base.Request) (*headers.Authorization, bool) {
	var h headers.Authorization
	if h.Unmarshal(req.Header["Authorization"]) != nil {
		return nil, false
	}
	return &h, h.Username != ""
}

// challenge is the WWW-Authenticate header of a 401.
func (r *Server) challenge(nonce string) base.HeaderValue {
	methods := []auth.VerifyMethod{auth.VerifyMethodBasic}
	if r.cfg.Users.DigestAvailable() && nonce != "" {
		// Players (FFmpeg, gortsplib) take Digest over Basic when both are offered, so Digest is
		// offered only when every user can answer it.
		methods = append(methods, auth.VerifyMethodDigestMD5)
	}
	return auth.GenerateWWWAuthenticate(methods, config.RTSPRealm, nonce)
}

// verify checks Basic or Digest MD5 credentials against the users.
func (r *Server) verify(h *headers.Authorization, req *base.Request, nonce string) (mvauth.Identity, bool) {
	switch h.Method {
	case headers.AuthMethodBasic:
		id, err := r.cfg.Users.Password(h.Username, h.BasicPass)
		return id, err == nil
	case headers.AuthMethodDigest:
		if nonce == "" || h.Nonce != nonce || h.Realm != config.RTSPRealm ||
			(h.Algorithm != nil && *h.Algorithm != headers.AuthAlgorithmMD5) || !uriMatches(req, h.URI) {
			return mvauth.Identity{}, false
		}
		ha2 := md5Hex(string(req.Method) + ":" + h.URI)
		ha1s, ids := r.cfg.Users.DigestHA1s(h.Username)
		found := -1
		for i, ha1 := range ha1s {
			want := md5Hex(ha1 + ":" + nonce + ":" + ha2)
			if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(h.Response))) == 1 {
				found = i
			}
		}
		if found < 0 {
			return mvauth.Identity{}, false
		}
		return ids[found], true
	}
	return mvauth.Identity{}, false
}

// uriMatches reports whether a Digest uri names the request's URL; a SETUP may name the stream's base
// URL instead of its track's (VLC does).
func uriMatches(req *base.Request, uri string) bool {
	u := req.URL.String()
	if uri == u {
		return true
	}
	return req.Method == base.Setup && uri != "" && strings.HasPrefix(u, strings.TrimSuffix(uri, "/")+"/")
}

func md5Hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}
