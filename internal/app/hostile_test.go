package app

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/testcam"
)

// TestServiceHostileSPS: cameras whose SPS declares 16000x16000, in the SDP or from the middle of
// the stream on, are failed with the limit in their state, counted by reason in /metrics, while a
// healthy camera beside them goes on.
func TestServiceHostileSPS(t *testing.T) {
	oversized := func(s *h264.SPS) {
		s.PicWidthInMbsMinus1, s.PicHeightInMapUnitsMinus1, s.FrameMbsOnlyFlag, s.FrameCropping = 999, 999, true, nil
	}
	hostile := func(after int) string {
		src, err := ingest.NewAnnexBSource(testcam.DefaultClip(), ingest.AnnexBOptions{Loop: true})
		require.NoError(t, err)
		cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Source: testcam.RewriteSPSAfter(src, after, oversized)})
		require.NoError(t, cam.Start())
		t.Cleanup(cam.Close)
		return cam.URL()
	}
	good := startTestCamera(t, "127.0.0.1:0")
	defer good.Close()
	svc := newTestService(t, filepath.Join(t.TempDir(), "events.db"), &alternatingClassifier{},
		config.Camera{Name: "good", URL: good.URL()},
		config.Camera{Name: "sdp", URL: hostile(0)},
		config.Camera{Name: "inband", URL: hostile(20)})
	defer svc.Close()
	state := func(name string) bus.CameraState {
		st, err := svc.Fleet().State(name)
		require.NoError(t, err)
		return st
	}
	const reason = "sps: 16000x16000 exceeds the 4096x2304 limit (decode.max_width/max_height)"
	for _, name := range []string{"sdp", "inband"} {
		eventually(t, 15*time.Second, func() bool { return state(name).Phase == bus.PhaseFailed }, name+" failed")
		require.Contains(t, state(name).Reason, reason, name)
	}
	before := state("good").FramesDecoded
	eventually(t, 10*time.Second, func() bool {
		st := state("good")
		return st.Phase == bus.PhaseRunning && st.FramesDecoded > before+15
	}, "the healthy camera goes on")

	_, body := apiGet(t, svc, "/metrics", false)
	for _, line := range []string{
		`mvwatch_decode_limit_failures_total{reason="dimensions"} 2`,
		`mvwatch_decode_limit_failures_total{reason="ref_frames"} 0`,
		`mvwatch_decode_throttled_access_units_total{camera="good"} 0`,
	} {
		require.True(t, strings.Contains(string(body), line), "/metrics lacks %s", line)
	}
}
