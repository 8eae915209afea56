// Package liveview serves the cameras' live video to browsers over WebRTC, as WHEP (the WebRTC-HTTP
// egress protocol: POST an SDP offer, get the answer; DELETE the session's URL to stop). The H.264
// access units that the cameras already receive are sent as they are (pion/webrtc packetises them), no
// transcoding; every viewer of a camera shares that camera's one RTSP session, and each starts at a
// keyframe. A viewer that falls behind drops video and waits for the next keyframe rather than slowing
// the camera.
package liveview

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"

	"github.com/mvwatch/mvwatch/internal/lifecycle"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/queue"
)

// Config configures a Hub.
type Config struct {
	// MaxViewers bounds the viewers of one camera. It defaults to 8.
	MaxViewers int
	// Queue bounds the access units waiting for one viewer. It defaults to 60.
	Queue int
	// Log defaults to slog.Default().
	Log *slog.Logger
}

// h264 is the codec offered to browsers: constrained baseline, packetization mode 1, which every
// WebRTC browser decodes; the camera's own profile is sent as it is (decoders take higher profiles).
var h264 = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
	SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}

// Hub fans each camera's access units out to its WebRTC viewers. WriteAccessUnit is called on the
// camera's goroutine and never blocks; each viewer has its own bounded queue and writer goroutine.
type Hub struct {
	cfg   Config
	api   *webrtc.API
	group *lifecycle.Group

	mu      sync.Mutex
	closed  bool
	live    map[string]bool               // cameras that have sent video
	viewers map[string]map[string]*viewer // camera -> viewer id -> viewer
}

// New builds a Hub; it starts nothing until a viewer comes.
func New(cfg Config) (*Hub, error) {
	if cfg.MaxViewers <= 0 {
		cfg.MaxViewers = 8
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 60
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: h264, PayloadType: 102}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("liveview: %w", err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true) // a browser on the same machine (tests, a kiosk)
	return &Hub{cfg: cfg, api: webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)),
		group: lifecycle.NewGroup(context.Background()), live: map[string]bool{}, viewers: map[string]map[string]*viewer{}}, nil
}

// frame is one access unit in Annex B form, as the H.264 payloader takes it.
type frame struct {
	data   []byte
	pts    time.Duration
	random bool
}

type viewer struct {
	id, camera string
	pc         *webrtc.PeerConnection
	track      *webrtc.TrackLocalStaticSample
	q          *queue.Queue[frame]
	needKey    atomic.Bool // set on a drop: wait for the next keyframe
	cancel     context.CancelFunc
}

// WriteAccessUnit sends a camera's access unit to its viewers (H.264 only; others are ignored).
func (h *Hub) WriteAccessUnit(camera string, au media.AccessUnit) {
	if au.Codec != media.CodecH264 {
		return
	}
	h.mu.Lock()
	h.live[camera] = true
	vs := make([]*viewer, 0, len(h.viewers[camera]))
	for _, v := range h.viewers[camera] {
		vs = append(vs, v)
	}
	h.mu.Unlock()
	if len(vs) == 0 {
		return
	}
	n := 0
	for _, nalu := range au.NALUs {
		n += 4 + len(nalu)
	}
	data := make([]byte, 0, n)
	for _, nalu := range au.NALUs {
		data = append(data, 0, 0, 0, 1)
		data = append(data, nalu...)
	}
	f := frame{data: data, pts: au.PTS, random: au.RandomAccess}
	for _, v := range vs {
		if !v.q.Push(f) {
			v.needKey.Store(true)
		}
	}
}

// RemoveCamera ends a removed camera's viewers.
func (h *Hub) RemoveCamera(camera string) {
	h.mu.Lock()
	vs := h.viewers[camera]
	delete(h.viewers, camera)
	delete(h.live, camera)
	h.mu.Unlock()
	for _, v := range vs {
		h.closeViewer(v)
	}
}

// Viewers is the number of viewers of a camera.
func (h *Hub) Viewers(camera string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.viewers[camera])
}

// Close ends every viewer and waits for their goroutines.
func (h *Hub) Close() error {
	h.mu.Lock()
	h.closed = true
	all := h.viewers
	h.viewers = map[string]map[string]*viewer{}
	h.mu.Unlock()
	for _, vs := range all {
		for _, v := range vs {
			h.closeViewer(v)
		}
	}
	return h.group.Close()
}

func (h *Hub) closeViewer(v *viewer) {
	v.cancel()
	if err := v.pc.Close(); err != nil {
		h.cfg.Log.Debug("live view close", "camera", v.camera, "err", err)
	}
}

func (h *Hub) drop(v *viewer) {
	h.mu.Lock()
	if vs := h.viewers[v.camera]; vs != nil && vs[v.id] == v {
		delete(vs, v.id)
		if len(vs) == 0 {
			delete(h.viewers, v.camera)
		}
	}
	h.mu.Unlock()
	h.closeViewer(v)
}

// ErrNotStreaming is the answer for a camera that has sent no video (unknown, disabled, or down).
var ErrNotStreaming = errors.New("liveview: the camera is not streaming")

// ErrTooManyViewers is the answer when a camera has MaxViewers viewers.
var ErrTooManyViewers = errors.New("liveview: too many viewers of this camera")

// Offer answers a viewer's SDP offer for a camera and starts sending it video from the next keyframe.
// It returns the answer and the viewer's id (for Stop).
func (h *Hub) Offer(ctx context.Context, camera, offer string) (answer, id string, err error) {
	h.mu.Lock()
	switch {
	case h.closed:
		err = errors.New("liveview: closed")
	case !h.live[camera]:
		err = ErrNotStreaming
	case len(h.viewers[camera]) >= h.cfg.MaxViewers:
		err = ErrTooManyViewers
	}
	h.mu.Unlock()
	if err != nil {
		return "", "", err
	}
	pc, err := h.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return "", "", fmt.Errorf("liveview: %w", err)
	}
	fail := func(err error) (string, string, error) {
		return "", "", errors.Join(fmt.Errorf("liveview: %w", err), pc.Close())
	}
	track, err := webrtc.NewTrackLocalStaticSample(h264, "video", "mvwatch-"+camera)
	if err != nil {
		return fail(err)
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		return fail(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(err)
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return fail(err)
	}
	select {
	case <-gathered: // the answer carries every candidate (no trickle)
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	vctx, cancel := context.WithCancel(h.group.Context())
	v := &viewer{id: hex.EncodeToString(b[:]), camera: camera, pc: pc, track: track, cancel: cancel,
		q: queue.New[frame](h.cfg.Queue, queue.Options{})}
	v.needKey.Store(true)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		cancel()
		return fail(errors.New("closed"))
	}
	if h.viewers[camera] == nil {
		h.viewers[camera] = map[string]*viewer{}
	}
	h.viewers[camera][v.id] = v
	h.mu.Unlock()
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			// Not on pion's callback goroutine, which pc.Close waits for; after Close, Go runs nothing.
			_ = h.group.Go(func(context.Context) error { h.drop(v); return nil })
		}
	})
	if err := h.group.Go(func(ctx context.Context) error { return v.send(vctx) }); err != nil {
		h.drop(v)
		return "", "", err
	}
	if err := h.group.Go(func(context.Context) error { readRTCP(sender); return nil }); err != nil {
		h.drop(v)
		return "", "", err
	}
	return pc.LocalDescription().SDP, v.id, nil
}

// Stop ends a viewer; false when there is none with that id.
func (h *Hub) Stop(camera, id string) bool {
	h.mu.Lock()
	v := h.viewers[camera][id]
	h.mu.Unlock()
	if v == nil {
		return false
	}
	h.drop(v)
	return true
}

// send writes the viewer's access units from a keyframe on, each lasting until the next one's PTS.
func (v *viewer) send(ctx context.Context) error {
	var last time.Duration
	for ctx.Err() == nil { // until the viewer ends
		f, err := v.q.Pop(ctx)
		if err != nil {
			continue
		}
		if v.needKey.Load() {
			if !f.random {
				continue
			}
			v.needKey.Store(false)
		}
		d := f.pts - last
		if last == 0 || d <= 0 || d > time.Second {
			d = time.Second / 15
		}
		last = f.pts
		if err := v.track.WriteSample(pionmedia.Sample{Data: f.data, Duration: d}); err != nil && !errors.Is(err, io.ErrClosedPipe) {
			break // the connection went away; its state change drops the viewer
		}
	}
	return nil
}

// readRTCP drains the sender's RTCP (receiver reports), which pion needs read; it ends with the
// connection (Read fails then).
func readRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}

// Handler serves WHEP under prefix + "{camera}/whep": POST with an application/sdp offer answers 201
// with the SDP answer and Location naming the session; DELETE on that Location ends it. It does not
// authenticate: mount it behind the API's authentication.
func (h *Hub) Handler(prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, prefix)
		parts := strings.Split(rest, "/")
		if !ok || len(parts) < 2 || parts[1] != "whep" || parts[0] == "" || len(parts) > 3 {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		camera := parts[0]
		switch {
		case len(parts) == 2 && r.Method == http.MethodPost:
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/sdp") {
				http.Error(w, "want Content-Type: application/sdp", http.StatusUnsupportedMediaType)
				return
			}
			offer, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
			if err != nil {
				http.Error(w, "offer too large", http.StatusRequestEntityTooLarge)
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
			defer cancel()
			answer, id, err := h.Offer(ctx, camera, string(offer))
			switch {
			case errors.Is(err, ErrNotStreaming):
				http.Error(w, err.Error(), http.StatusNotFound)
			case errors.Is(err, ErrTooManyViewers):
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
			case err != nil:
				h.cfg.Log.Warn("live view offer", "camera", camera, "err", err)
				http.Error(w, "bad offer", http.StatusBadRequest)
			default:
				w.Header().Set("Content-Type", "application/sdp")
				w.Header().Set("Location", prefix+camera+"/whep/"+id)
				w.WriteHeader(http.StatusCreated)
				_, _ = io.WriteString(w, answer)
			}
		case len(parts) == 3 && r.Method == http.MethodDelete:
			if !h.Stop(camera, parts[2]) {
				http.Error(w, "no such session", http.StatusNotFound)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		}
	})
}
