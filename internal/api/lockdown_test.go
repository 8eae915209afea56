package api

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/bus"
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
		require.ErrorIs(t, err, bus.ErrCameraNotFound, "content type %q added a camera", ct)
	}
	code, _, resp := f.do(t, "POST", "/api/v1/cameras", `{"name":"good","url":"rtsp://127.0.0.1:8554/good"}`)
	require.Equal(t, 201, code, "JSON still works: %s", resp)
}
