package app

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/auth"
	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/testcam"
)

// TestCameraReconnectHistory: a camera whose address refuses connections, then comes up (a real RTSP
// test camera that wants a password), then drops, leaves its state changes in the API with their
// reasons; the password appears in no answer, and a viewer sees no failure detail.
func TestCameraReconnectHistory(t *testing.T) {
	const pass = "hunter2-Secret"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there: connection refused
	svc := lockedService(t, 4, config.Camera{Name: "door", URL: "rtsp://cam:" + pass + "@" + addr + "/testcam"})

	history := func(token string) (bus.CameraState, string) {
		t.Helper()
		code, _, body := call(t, svc, "GET", "/api/v1/cameras/door", token, "", "")
		require.Equal(t, 200, code, body)
		var v struct{ State bus.CameraState }
		require.NoError(t, json.Unmarshal([]byte(body), &v), body)
		return v.State, body
	}
	has := func(st bus.CameraState, from, to bus.CameraPhase) *bus.PhaseChange {
		for i := range st.History {
			if c := &st.History[i]; c.From == from && c.To == to {
				return c
			}
		}
		return nil
	}
	eventually(t, 10*time.Second, func() bool {
		st, _ := history("admin-tok")
		return has(st, bus.PhaseStarting, bus.PhaseReconnecting) != nil
	}, "the refused camera reconnecting")

	startCam := func() *testcam.Camera {
		src, err := ingest.NewAnnexBSource(testcam.DefaultClip(), ingest.AnnexBOptions{Loop: true})
		require.NoError(t, err)
		cam := testcam.New(testcam.Config{Address: addr, Source: src, User: "cam", Pass: pass})
		require.NoError(t, cam.Start())
		return cam
	}
	cam := startCam()
	eventually(t, 15*time.Second, func() bool {
		st, _ := history("admin-tok")
		return has(st, bus.PhaseReconnecting, bus.PhaseRunning) != nil
	}, "the camera up")
	cam.Close() // it drops
	eventually(t, 15*time.Second, func() bool {
		st, _ := history("admin-tok")
		return has(st, bus.PhaseRunning, bus.PhaseReconnecting) != nil
	}, "the camera dropped")

	st, body := history("admin-tok")
	for _, c := range st.History {
		t.Logf("%s %s -> %s %q", c.At.Format("15:04:05.000"), c.From, c.To, c.Reason)
	}
	require.NotContains(t, body, pass, "the camera's password in the API")
	first := has(st, bus.PhaseStarting, bus.PhaseReconnecting)
	require.Contains(t, first.Reason, "refused", "an admin sees why")
	up := has(st, bus.PhaseReconnecting, bus.PhaseRunning)
	require.Empty(t, up.Reason)
	require.False(t, up.At.Before(first.At), "oldest first")
	drop := has(st, bus.PhaseRunning, bus.PhaseReconnecting)
	require.NotEmpty(t, drop.Reason)
	require.False(t, drop.At.Before(up.At), "oldest first")
	for _, c := range st.History {
		require.NotContains(t, c.Reason, pass)
	}

	// A viewer gets the history without the detail of what answered.
	vst, vbody := history("viewer-tok")
	require.NotContains(t, vbody, pass)
	require.NotContains(t, vbody, "refused")
	require.Equal(t, auth.UnreachableReason, has(vst, bus.PhaseStarting, bus.PhaseReconnecting).Reason)

	// The state route has it too; the fleet list (the dashboard's poll) leaves it out.
	_, _, sbody := call(t, svc, "GET", "/api/v1/cameras/door/state", "admin-tok", "", "")
	require.Contains(t, sbody, `"history":[`)
	require.NotContains(t, sbody, pass)
	_, _, lbody := call(t, svc, "GET", "/api/v1/cameras", "admin-tok", "", "")
	require.False(t, strings.Contains(lbody, `"history"`), lbody)
	require.NotContains(t, lbody, pass)
}
