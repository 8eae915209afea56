package pipeline

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/config"
)

// TestLockdownCrossSiteCameraPostRefused: a web page can send a POST with a CORS-safelisted content
// type (a form, or fetch in no-cors mode) and a JSON body without any preflight. With the default
// config (no token) such a POST added a camera; it must be refused with 415 and add nothing.
func TestLockdownCrossSiteCameraPostRefused(t *testing.T) {
	f := newAPIFixture(t, "")
	body := `{"name":"evil","zone":"=","url":"rtsp://169.254.169.254:80/"}` // a text/plain form serialises to this
	for _, ct := range []string{"application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", "-"} {
		hdr := []string{"Content-Type", ct}
		if ct == "-" {
			hdr = []string{"Content-Type", ""}
		}
		code, _, resp := f.do(t, "POST", "/api/v1/cameras", body, hdr...)
		require.Equal(t, 415, code, "content type %q: %s", ct, resp)
		_, err := f.cams.Get("evil")
		require.ErrorIs(t, err, ErrCameraNotFound, "content type %q added a camera", ct)
	}
	code, _, resp := f.do(t, "POST", "/api/v1/cameras", `{"name":"good","url":"rtsp://127.0.0.1:8554/good"}`)
	require.Equal(t, 201, code, "JSON still works: %s", resp)
}

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
		c := gortsplib.Client{}
		require.NoError(t, c.Start(u.Scheme, u.Host))
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
