package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/auth"
	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/mvextract"
)

// TestLockdownRestreamNeedsCredentials: with api_token set, the restream served anyone.
func TestLockdownRestreamNeedsCredentials(t *testing.T) {
	cam := startTestCamera(t, "127.0.0.1:0")
	defer cam.Close()
	svc := newTestService(t, filepath.Join(t.TempDir(), "events.db"), &alternatingClassifier{}, config.Camera{Name: "cam", URL: cam.URL()})
	defer svc.Close()
	eventually(t, 10*time.Second, func() bool {
		st, _ := svc.Fleet().State("cam")
		return st.FramesDecoded > 0
	}, "camera decoding")

	describe := func(userinfo string) error {
		u, err := base.ParseURL("rtsp://" + userinfo + svc.RTSPAddr() + "/cam")
		require.NoError(t, err)
		c := gortsplib.Client{Scheme: u.Scheme, Host: u.Host}
		require.NoError(t, c.Start2())
		defer c.Close()
		_, _, err = c.Describe(u)
		return err
	}
	var bad liberrors.ErrClientBadStatusCode
	err := describe("")
	require.True(t, errors.As(err, &bad) && bad.Code == base.StatusUnauthorized, "no credentials: %v", err)
	err = describe("viewer:wrong@")
	require.True(t, errors.As(err, &bad) && bad.Code == base.StatusUnauthorized, "wrong token: %v", err)
	require.NoError(t, describe("viewer:s3cret-token@"), "the api_token is an admin's, and admins may view")
}

// lockedService starts a service with a viewer and an admin user and the given camera.
func lockedService(t *testing.T, maxStreams int, cams ...config.Camera) *App {
	t.Helper()
	cfg := config.Default()
	cfg.Listen.HTTP, cfg.Listen.RTSP, cfg.Listen.RTSPUDP = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.Path = filepath.Join(t.TempDir(), "events.db")
	cfg.Users = []config.User{
		{Name: "vera", Role: "viewer", TokenSHA256: auth.HashToken("viewer-tok")},
		{Name: "adam", Role: "admin", TokenSHA256: auth.HashToken("admin-tok")},
	}
	cfg.HTTP.MaxSSESubscribers = maxStreams
	cfg.Cameras = cams
	svc, err := New(Options{Config: cfg, Classifier: &alternatingClassifier{},
		Features: mvextract.FeatureSpec{Clip: mvextract.ClipConfig{Length: 4, Width: 16, Height: 16}},
		Registry: prometheus.NewRegistry(), Logger: quietLogger()})
	require.NoError(t, err)
	require.NoError(t, svc.Start())
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	return svc
}

func call(t *testing.T, svc *App, method, path, token, ct, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+svc.HTTPAddr()+path, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, res.Header, string(b)
}

// TestLockdownRoles: users with roles over real sockets: no token 401, a viewer reads but cannot add
// a camera, an admin can, the camera policy refuses a metadata address, and a viewer never learns
// what answered at a camera's address.
func TestLockdownRoles(t *testing.T) {
	svc := lockedService(t, 4, config.Camera{Name: "gone", URL: "rtsp://127.0.0.1:1/x"}) // connection refused
	const cam = `{"name":"yard","url":"rtsp://127.0.0.1:1/yard"}`
	code, hdr, _ := call(t, svc, "GET", "/api/v1/cameras", "", "", "")
	require.Equal(t, 401, code)
	require.Equal(t, "nosniff", hdr.Get("X-Content-Type-Options"))
	code, _, _ = call(t, svc, "POST", "/api/v1/cameras", "", "application/json", cam)
	require.Equal(t, 401, code)
	code, _, body := call(t, svc, "POST", "/api/v1/cameras", "viewer-tok", "application/json", cam)
	require.Equal(t, 403, code, body)
	code, _, body = call(t, svc, "DELETE", "/api/v1/cameras/gone", "viewer-tok", "", "")
	require.Equal(t, 403, code, body)
	code, _, body = call(t, svc, "POST", "/api/v1/cameras", "admin-tok", "text/plain", cam)
	require.Equal(t, 415, code, body)
	code, _, body = call(t, svc, "POST", "/api/v1/cameras", "admin-tok", "application/json", `{"name":"meta","url":"rtsp://169.254.169.254:554/"}`)
	require.Equal(t, 400, code, body)
	require.Contains(t, body, "camera_policy.deny_networks")
	code, _, body = call(t, svc, "POST", "/api/v1/cameras", "admin-tok", "application/json", cam)
	require.Equal(t, 201, code, body)

	reason := func(token string) string {
		_, _, body := call(t, svc, "GET", "/api/v1/cameras/gone/state", token, "", "")
		var st bus.CameraState
		require.NoError(t, json.Unmarshal([]byte(body), &st), body)
		return st.Reason
	}
	eventually(t, 10*time.Second, func() bool { return reason("admin-tok") != "" }, "the camera fails")
	require.Contains(t, reason("admin-tok"), "refused", "an admin sees the detail")
	require.Equal(t, auth.UnreachableReason, reason("viewer-tok"), "a viewer does not")
	_, _, body = call(t, svc, "GET", "/api/v1/cameras", "viewer-tok", "", "")
	require.NotContains(t, body, "refused")
	_, _, body = call(t, svc, "GET", "/metrics", "", "", "")
	require.Contains(t, body, `mvwatch_auth_refused_total{reason="forbidden"} 2`)
	require.Contains(t, body, `mvwatch_auth_refused_total{reason="unauthorized"} 2`)
	require.Contains(t, body, `mvwatch_auth_refused_total{reason="unsupported_media_type"} 1`)
	require.Contains(t, body, `mvwatch_auth_refused_total{reason="rtsp_credentials"} 0`)
}

// TestLockdownLiveStreamCap: beyond http.max_sse_subscribers live streams get 429.
func TestLockdownLiveStreamCap(t *testing.T) {
	svc := lockedService(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+svc.HTTPAddr()+"/api/v1/events/live", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer viewer-tok")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	code, hdr, body := call(t, svc, "GET", "/api/v1/events/live", "viewer-tok", "", "")
	require.Equal(t, 429, code, body)
	require.Equal(t, "5", hdr.Get("Retry-After"))
	cancel()
}

// TestLockdownPolicyAtDial: a host name passes validation, but the address it resolves to is
// checked when dialled.
func TestLockdownPolicyAtDial(t *testing.T) {
	cam := startTestCamera(t, "127.0.0.1:0")
	defer cam.Close()
	cfg := config.Default()
	cfg.Listen.HTTP, cfg.Listen.RTSP, cfg.Listen.RTSPUDP = "127.0.0.1:0", "127.0.0.1:0", config.UDPOff
	cfg.Store.Path = filepath.Join(t.TempDir(), "events.db")
	cfg.CameraPolicy.DenyNetworks = []string{"127.0.0.0/8", "::1/128"}
	url := strings.Replace(cam.URL(), "127.0.0.1", "localhost", 1)
	require.NoError(t, cfg.CameraPolicy.CheckURL(url), "a host name passes validation")
	cfg.Cameras = []config.Camera{{Name: "cam", URL: url}}
	require.NoError(t, cfg.Cameras[0].Validate(cfg.Gate))
	svc, err := New(Options{Config: cfg, Classifier: &alternatingClassifier{},
		Features: mvextract.FeatureSpec{Clip: mvextract.ClipConfig{Length: 4, Width: 16, Height: 16}},
		Registry: prometheus.NewRegistry(), Logger: quietLogger()})
	require.NoError(t, err)
	require.NoError(t, svc.Start())
	defer svc.Close()
	var st bus.CameraState
	require.Eventually(t, func() bool {
		st, _ = svc.Fleet().State("cam")
		return strings.Contains(st.Reason, "camera_policy")
	}, 10*time.Second, 20*time.Millisecond, "the dial is refused by the policy")
	require.Zero(t, st.FramesDecoded, "%+v", st)
}
