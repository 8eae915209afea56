package web_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/auth"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/testcam"
)

// TestRolesInBrowser: a viewer's session sees the fleet and the camera page but no admin control (add,
// edit, remove a camera, zones and masks), the admin routes show a page saying so, and the server
// refuses the viewer's mutations made with its session cookie; an admin's session has the controls.
func TestRolesInBrowser(t *testing.T) {
	ctx := browser(t, 60*time.Second)
	cfg := testConfig(t)
	cfg.Users = []config.User{
		{Name: "vera", Role: "viewer", TokenSHA256: auth.HashToken("viewer-token")},
		{Name: "adam", Role: "admin", TokenSHA256: auth.HashToken("admin-token")},
	}
	cam := startCamera(t, testcam.SceneClip(), testcam.SceneFrameRate, "/testcam0")
	cfg.Cameras = []config.Camera{{Name: "testcam0", URL: cam.URL()}}
	svc := serve(t, cfg)
	base := "http://" + svc.HTTPAddr() + "/"
	shots := screenshots{on: os.Getenv("MVWATCH_SCREENSHOTS") == "1"}

	const adminControls = `#nav-new:not([hidden]), #add-camera, #camera-admin, #edit-camera, #edit-zones, #remove-camera`
	count := func(sel string) int {
		return run(t, ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
	}
	login := func(token string) {
		do(t, ctx, chromedp.Navigate(base), visible("#token"), keys("#token", token), click(`#login button[type=submit]`),
			visible(`#fleet tr[data-camera="testcam0"]`))
	}
	// fetchStatus is the status of an API call made by the page, with its session cookie.
	fetchStatus := func(method, path, body string) int {
		return run(t, ctx, chromedp.Evaluate[int](fmt.Sprintf(`fetch(%q, {method: %q, credentials: 'same-origin',
			headers: {'Content-Type': 'application/json'}, body: %s}).then(r => r.status)`, path, method, body), chromedp.EvalAwaitPromise))
	}

	// The viewer: the fleet, the camera page with its live video and history, no admin control.
	login("viewer-token")
	require.Zero(t, count(adminControls), "admin controls in the viewer's fleet")
	do(t, ctx, goTo("#/cameras/testcam0", "#camera-state dl"), visible("#camera-history li"), visible("#live-video"), shots.take("camera-viewer"))
	require.Zero(t, count(adminControls), "admin controls on the viewer's camera page")
	require.NotContains(t, run(t, ctx, chromedp.Text(css("#main"))), "null")
	for _, route := range []string{"#/cameras/new", "#/cameras/testcam0/edit", "#/cameras/testcam0/zones"} {
		do(t, ctx, goTo(route, "#admin-only"))
		require.Zero(t, count(`#camera-form, #zones-overlay`), route)
	}
	// The server refuses what the pages leave out, with the same session.
	require.Equal(t, 403, fetchStatus("POST", "/api/v1/cameras", `JSON.stringify({name: 'x', url: 'rtsp://127.0.0.1:9/x'})`))
	require.Equal(t, 403, fetchStatus("PUT", "/api/v1/cameras/testcam0", `JSON.stringify({name: 'testcam0', url: 'rtsp://127.0.0.1:9/x', masks: [[[0,0],[1,0],[0,1]]]})`))
	require.Equal(t, 403, fetchStatus("DELETE", "/api/v1/cameras/testcam0", `undefined`))
	require.Equal(t, 200, fetchStatus("GET", "/api/v1/cameras/testcam0", `undefined`), "a viewer reads")
	do(t, ctx, goTo("#/", `#fleet tr[data-camera="testcam0"]`), click("#logout"), visible("#token"))

	// The admin: every control is there.
	login("admin-token")
	require.Equal(t, 1, count(`#nav-new:not([hidden])`))
	require.Equal(t, 1, count(`#add-camera`))
	do(t, ctx, goTo("#/cameras/testcam0", "#camera-state dl"), visible("#edit-camera"), visible("#edit-zones"), visible("#remove-camera"))
	do(t, ctx, goTo("#/cameras/testcam0/zones", "#zones-overlay"), goTo("#/cameras/new", "#camera-form"))
	require.Zero(t, count(`#admin-only`))
}
