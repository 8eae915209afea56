package restream

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/headers"
	"github.com/stretchr/testify/require"

	mvauth "github.com/mvwatch/mvwatch/internal/auth"
	"github.com/mvwatch/mvwatch/internal/config"
)

// FuzzVerify: whatever Authorization header a client sends, it is accepted only with the right
// token: as the Basic password of its user, or in a Digest response computed from it.
func FuzzVerify(f *testing.F) {
	const tok, nonce = "the-token", "0123456789abcdef0123456789abcdef"
	users, err := mvauth.New([]config.User{{Name: "vera", Role: "viewer", TokenSHA256: mvauth.HashToken(tok),
		RTSPDigestMD5: mvauth.DigestHA1("vera", tok)}}, "")
	require.NoError(f, err)
	r := New(Config{Users: users, Log: slog.New(slog.DiscardHandler)})
	u, err := base.ParseURL("rtsp://127.0.0.1:8554/cam")
	require.NoError(f, err)
	good := md5Hex(mvauth.DigestHA1("vera", tok) + ":" + nonce + ":" + md5Hex("DESCRIBE:rtsp://127.0.0.1:8554/cam"))
	f.Add(`Basic dmVyYTp0aGUtdG9rZW4=`)
	f.Add(`Basic dmVyYTp3cm9uZw==`)
	f.Add(`Digest username="vera", realm="mvwatch", nonce="` + nonce + `", uri="rtsp://127.0.0.1:8554/cam", response="` + good + `"`)
	f.Add(`Digest username="vera", realm="ipcam", nonce="` + nonce + `", uri="rtsp://127.0.0.1:8554/cam", response="` + good + `"`)
	f.Add(`Digest username="vera", realm="mvwatch", nonce="", uri="", response=""`)
	f.Fuzz(func(t *testing.T, value string) {
		var h headers.Authorization
		if h.Unmarshal(base.HeaderValue{value}) != nil {
			return
		}
		req := &base.Request{Method: base.Describe, URL: u, Header: base.Header{"Authorization": base.HeaderValue{value}}}
		id, ok := r.verify(&h, req, nonce)
		if !ok {
			return
		}
		require.Equal(t, "vera", id.Name)
		switch h.Method {
		case headers.AuthMethodBasic:
			require.Equal(t, tok, h.BasicPass)
		case headers.AuthMethodDigest:
			require.Equal(t, nonce, h.Nonce)
			require.Equal(t, md5Hex(mvauth.DigestHA1(h.Username, tok)+":"+nonce+":"+md5Hex("DESCRIBE:"+h.URI)), strings.ToLower(h.Response))
		}
	})
}
