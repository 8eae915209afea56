package liveview

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/testcam"
)

// goViewer is a real WebRTC viewer (pion) that POSTs its offer to the WHEP handler and records the
// H.264 it receives: the type of the first NAL unit and how many packets came.
type goViewer struct {
	pc       *webrtc.PeerConnection
	location string
	first    atomic.Int32 // NAL type of the first NAL unit received (7 SPS, 5 IDR, ...); 0 before
	packets  atomic.Int64
}

func newGoViewer(t *testing.T, url string) *goViewer {
	t.Helper()
	m := &webrtc.MediaEngine{}
	require.NoError(t, m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: h264, PayloadType: 102}, webrtc.RTPCodecTypeVideo))
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	v := &goViewer{pc: pc}
	_, err = pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	require.NoError(t, err)
	pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			pkt, _, err := track.ReadRTP()
			if err != nil {
				return
			}
			if v.packets.Add(1) == 1 && len(pkt.Payload) > 0 {
				nal := pkt.Payload[0] & 0x1f
				switch nal {
				case 24: // STAP-A: the first aggregated unit
					if len(pkt.Payload) > 3 {
						nal = pkt.Payload[3] & 0x1f
					}
				case 28: // FU-A: the fragmented unit's type
					if len(pkt.Payload) > 1 {
						nal = pkt.Payload[1] & 0x1f
					}
				}
				v.first.Store(int32(nal))
			}
		}
	})
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-gathered
	res, err := http.Post(url, "application/sdp", strings.NewReader(pc.LocalDescription().SDP))
	require.NoError(t, err)
	defer res.Body.Close()
	answer, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode, "%s", answer)
	require.Equal(t, "application/sdp", res.Header.Get("Content-Type"))
	v.location = res.Header.Get("Location")
	require.NoError(t, pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(answer)}))
	return v
}

// TestTwoViewersShareACameraFromAKeyframe feeds the test clip's access units, as a camera runner does,
// to two real WebRTC viewers: both receive video, and the first NAL unit each gets starts a keyframe
// (SPS before an IDR), whatever point of the stream they joined at. DELETE ends a viewer.
func TestTwoViewersShareACameraFromAKeyframe(t *testing.T) {
	hub, err := New(Config{Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer func() { require.NoError(t, hub.Close()) }()
	srv := httptest.NewServer(hub.Handler("/api/v1/cameras/"))
	defer srv.Close()

	src, err := ingest.NewAnnexBSource(testcam.SceneClip(), ingest.AnnexBOptions{Loop: true, FrameRate: testcam.SceneFrameRate})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	fed := make(chan struct{})
	go func() { // the camera: one access unit per frame duration
		defer close(fed)
		tick := time.NewTicker(src.FrameDuration())
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			au, err := src.Next()
			if err != nil {
				return
			}
			hub.WriteAccessUnit("cam", au)
		}
	}()
	defer func() { cancel(); <-fed }()

	require.Eventually(t, func() bool {
		hub.mu.Lock()
		defer hub.mu.Unlock()
		return hub.live["cam"]
	}, 5*time.Second, 10*time.Millisecond)
	a := newGoViewer(t, srv.URL+"/api/v1/cameras/cam/whep")
	time.Sleep(300 * time.Millisecond) // the second joins mid-GOP
	b := newGoViewer(t, srv.URL+"/api/v1/cameras/cam/whep")
	require.Equal(t, 2, hub.Viewers("cam"))
	for _, v := range []*goViewer{a, b} {
		require.Eventually(t, func() bool { return v.packets.Load() > 20 }, 15*time.Second, 20*time.Millisecond)
		require.Contains(t, []int32{7, 5}, v.first.Load(), "starts at a keyframe (SPS or IDR), got NAL type %d", v.first.Load())
	}

	req, err := http.NewRequest("DELETE", srv.URL+a.location, nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	require.Equal(t, 1, hub.Viewers("cam"))
	hub.RemoveCamera("cam")
	require.Zero(t, hub.Viewers("cam"))
}

func TestHandlerErrors(t *testing.T) {
	hub, err := New(Config{MaxViewers: 1})
	require.NoError(t, err)
	defer func() { require.NoError(t, hub.Close()) }()
	srv := httptest.NewServer(hub.Handler("/api/v1/cameras/"))
	defer srv.Close()
	cases := []struct {
		method, path, ctype string
		want                int
	}{
		{"POST", "/api/v1/cameras/none/whep", "application/sdp", http.StatusNotFound},
		{"POST", "/api/v1/cameras/none/whep", "text/plain", http.StatusUnsupportedMediaType},
		{"GET", "/api/v1/cameras/none/whep", "", http.StatusMethodNotAllowed},
		{"DELETE", "/api/v1/cameras/none/whep/abc", "", http.StatusNotFound},
		{"POST", "/api/v1/cameras//whep", "application/sdp", http.StatusNotFound},
		{"POST", "/api/v1/cameras/x/other", "application/sdp", http.StatusNotFound},
	}
	for _, tc := range cases {
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader("v=0"))
		require.NoError(t, err)
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, tc.want, res.StatusCode, "%s %s", tc.method, tc.path)
	}
	// A streaming camera with a bad offer: 400, and no viewer is left behind.
	hub.mu.Lock()
	hub.live["cam"] = true
	hub.mu.Unlock()
	res, err := http.Post(srv.URL+"/api/v1/cameras/cam/whep", "application/sdp", strings.NewReader("not sdp"))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	require.Zero(t, hub.Viewers("cam"))
}
