package ingest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/testcam"
)

// TestClientReadsAgainWithin5sOfCameraReturn runs the client with its default backoff against a
// real RTSP server (the test camera) that goes away long enough for the backoff to reach its cap,
// then comes back right after a failed attempt: the client must read again within 5 seconds of the
// server's return (issue 17; the uncapped backoff waited 17 s).
func TestClientReadsAgainWithin5sOfCameraReturn(t *testing.T) {
	cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Source: defaultSource(t, true)})
	require.NoError(t, cam.Start())
	addr := cam.Addr()

	var s sink
	c := NewClient(ClientConfig{URL: cam.URL(), OnAccessUnit: s.OnAccessUnit, Log: discardLog()}) // default backoff
	t.Cleanup(func() { c.Close() })
	c.Start()
	eventually(t, 10*time.Second, func() bool { return s.Count() >= 5 }, "first access units")

	cam.Close()
	// Four failed attempts (pauses of 0.5, 1, 2 and 4 s planned): the pause after the fourth is the
	// first that the cap shortens (it would be 8 s).
	eventually(t, 20*time.Second, func() bool {
		st := c.State()
		return st.State == StateBackoff && st.Reconnects >= 4
	}, "four failed reconnects")
	st := c.State()
	pause := st.NextAttempt.Sub(st.Since)
	t.Logf("camera away; next attempt planned %v after the failure", pause.Round(time.Millisecond))

	before := s.Count()
	cam2 := testcam.New(testcam.Config{Address: addr, Source: defaultSource(t, true)})
	require.NoError(t, cam2.Start())
	t.Cleanup(cam2.Close)
	returned := time.Now()
	eventually(t, 5*time.Second, func() bool { return s.Count() > before }, "read again within 5 s of the camera's return")
	t.Logf("read again %v after the camera returned", time.Since(returned).Round(time.Millisecond))
	require.LessOrEqual(t, pause, 4*time.Second, "the reconnect pause is capped")
	require.NoError(t, c.Close())
}
