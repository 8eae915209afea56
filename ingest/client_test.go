package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/restream"
	"github.com/mvwatch/mvwatch/internal/testcam"
	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// stripParams removes the parameter sets the client prepended to a random-access unit, given the
// NAL units the camera sent.
func stripParams(t *testing.T, got media.AccessUnit, sent [][]byte) [][]byte {
	t.Helper()
	extra := len(got.NALUs) - len(sent)
	require.GreaterOrEqual(t, extra, 0)
	if extra > 0 {
		require.True(t, got.RandomAccess, "only random-access units get parameter sets")
		for _, n := range got.NALUs[:extra] {
			typ := h264.NALUType(n[0] & 0x1F)
			require.True(t, typ == h264.NALUTypeSPS || typ == h264.NALUTypePPS, "prepended %v", typ)
		}
	}
	return got.NALUs[extra:]
}

func TestClientPeerClipOverRTSP(t *testing.T) {
	path := peerFile(t)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	want, err := ParseAnnexB(data, 0)
	require.NoError(t, err)
	require.Len(t, want, 337)

	src, err := OpenAnnexB(path, AnnexBOptions{})
	require.NoError(t, err)
	cam := startCamera(t, testcam.Config{Source: src, Fast: true, Path: "/peer"})

	reg := prometheus.NewRegistry()
	var s sink
	c := newTestClient(t, ClientConfig{URL: cam.URL(), Camera: "peer", OnAccessUnit: s.OnAccessUnit, QueueSize: 1024, Registerer: reg})
	c.Start()
	eventually(t, 60*time.Second, func() bool { return s.Count() >= 337 }, "337 access units, got %d", s.Count())
	time.Sleep(100 * time.Millisecond) // nothing more may come
	got := s.Units()
	require.Len(t, got, 337)
	require.Zero(t, cam.Dropped())

	var wantNALUs [][]byte
	for _, au := range want {
		wantNALUs = append(wantNALUs, au.NALUs...)
	}
	var gotNALUs [][]byte
	for i, au := range got {
		require.Equal(t, media.CodecH264, au.Codec)
		require.Equal(t, want[i].RandomAccess, au.RandomAccess, "AU %d", i)
		require.Equal(t, i == 0, au.Discontinuity, "AU %d", i)
		nalus := stripParams(t, au, want[i].NALUs)
		require.Equal(t, want[i].NALUs, nalus, "AU %d: same NAL units, same grouping", i)
		require.Equal(t, want[i].PTS, au.PTS, "AU %d: PTS from the POC order", i)
		gotNALUs = append(gotNALUs, nalus...)
	}
	require.True(t, bytes.Equal(bytes.Join(wantNALUs, nil), bytes.Join(gotNALUs, nil)))
	require.Equal(t, ffprobeDecodeOrder(t, path), displayOrder(got))

	st := c.State()
	require.Equal(t, StateStreaming, st.State)
	require.Equal(t, uint64(337), st.AUsDelivered)
	require.Zero(t, st.PacketsLost)
	require.Zero(t, st.AUsDropped)
	require.Zero(t, st.DecodeErrors)
	require.Greater(t, st.Bytes, uint64(len(data)))
	require.Equal(t, "tcp", st.Transport)

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP mvwatch_ingest_access_units_total Access units delivered.
# TYPE mvwatch_ingest_access_units_total counter
mvwatch_ingest_access_units_total{camera="peer"} 337
# HELP mvwatch_ingest_state 1 for the client's current state, 0 for the others.
# TYPE mvwatch_ingest_state gauge
mvwatch_ingest_state{camera="peer",state="backoff"} 0
mvwatch_ingest_state{camera="peer",state="closed"} 0
mvwatch_ingest_state{camera="peer",state="connecting"} 0
mvwatch_ingest_state{camera="peer",state="failed"} 0
mvwatch_ingest_state{camera="peer",state="idle"} 0
mvwatch_ingest_state{camera="peer",state="streaming"} 1
`), "mvwatch_ingest_access_units_total", "mvwatch_ingest_state"))
	require.NoError(t, c.Close())
	require.Equal(t, StateClosed, c.State().State)
}

func TestClientUDP(t *testing.T) {
	rtpAddr, rtcpAddr := udpPortPair(t)
	cam := startCamera(t, testcam.Config{UDPRTPAddress: rtpAddr, UDPRTCPAddress: rtcpAddr})
	var s sink
	c := newTestClient(t, ClientConfig{URL: cam.URL(), Transport: TransportUDP, OnAccessUnit: s.OnAccessUnit})
	c.Start()
	eventually(t, 15*time.Second, func() bool { return s.Count() >= 10 }, "10 access units over UDP")
	require.Equal(t, "udp", c.State().Transport)
	aus := s.Units()
	require.True(t, aus[0].RandomAccess)
	require.Equal(t, h264.NALUTypeSPS, h264.NALUType(aus[0].NALUs[0][0]&0x1F))
}

func TestClientReconnects(t *testing.T) {
	cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Source: defaultSource(t, true)})
	require.NoError(t, cam.Start())
	addr := cam.Addr()

	var s sink
	c := newTestClient(t, ClientConfig{URL: cam.URL(), OnAccessUnit: s.OnAccessUnit, OnStateChange: s.onState})
	c.Start()
	eventually(t, 10*time.Second, func() bool { return s.Count() >= 5 }, "first access units")
	firstSession := s.Count()

	cam.Close()
	eventually(t, 10*time.Second, func() bool { return c.State().State == StateBackoff }, "backoff after the camera went away")

	cam2 := testcam.New(testcam.Config{Address: addr, Source: defaultSource(t, true)})
	require.NoError(t, cam2.Start())
	defer cam2.Close()
	restarted := time.Now()
	eventually(t, 10*time.Second, func() bool { return s.Count() >= firstSession+5 }, "access units after the restart")
	t.Logf("resumed %v after the restart", time.Since(restarted).Round(time.Millisecond))

	st := c.State()
	require.Equal(t, StateStreaming, st.State)
	require.GreaterOrEqual(t, st.Reconnects, uint64(1))
	log := s.stateLog()
	require.Equal(t, []State{StateConnecting, StateStreaming}, log[:2])
	// streaming -> backoff -> (connecting -> backoff)* -> connecting -> streaming
	require.Equal(t, StateBackoff, log[2])
	require.Equal(t, StateStreaming, log[len(log)-1])

	aus := s.Units()
	var discont []int
	for i, au := range aus {
		if au.Discontinuity {
			discont = append(discont, i)
			require.True(t, au.RandomAccess)
		}
	}
	require.Len(t, discont, 2)
	var maxFirst time.Duration
	for _, au := range aus[:discont[1]] {
		maxFirst = max(maxFirst, au.PTS)
	}
	require.Greater(t, aus[discont[1]].PTS, maxFirst, "PTS keeps increasing across sessions")

	require.NoError(t, c.Close())
	cam2.Close()
	goleak.VerifyNone(t, goleak.IgnoreCurrent())
}

func TestClientConnectionRefused(t *testing.T) {
	var s sink
	c := newTestClient(t, ClientConfig{URL: "rtsp://" + closedPort(t) + "/cam", OnAccessUnit: s.OnAccessUnit})
	c.Start()
	eventually(t, 5*time.Second, func() bool { return c.State().Reconnects >= 2 }, "retries")
	st := c.State()
	require.Contains(t, []State{StateBackoff, StateConnecting}, st.State)
	require.Contains(t, st.Reason, "connection refused")
	require.NoError(t, c.Close())
	require.Equal(t, StateClosed, c.State().State)
}

func TestClientNotFound(t *testing.T) {
	cam := startCamera(t, testcam.Config{})
	var s sink
	c := newTestClient(t, ClientConfig{URL: "rtsp://" + cam.Addr() + "/nope", OnAccessUnit: s.OnAccessUnit})
	c.Start()
	eventually(t, 5*time.Second, func() bool { return c.State().State == StateBackoff }, "backoff")
	require.Contains(t, c.State().Reason, "404")
}

func TestClientUnsupportedCodec(t *testing.T) {
	desc := &description.Session{Medias: []*description.Media{
		{Type: description.MediaTypeVideo, Formats: []format.Format{&format.MJPEG{}}},
		{Type: description.MediaTypeAudio, Formats: []format.Format{&format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}}},
	}}
	srv, _ := startStreamServer(t, desc)
	var s sink
	c := NewClient(ClientConfig{URL: srv.URL("/mjpeg"), OnAccessUnit: s.OnAccessUnit, Log: discardLog()})
	err := c.Run(context.Background())
	require.ErrorIs(t, err, ErrUnsupportedCodec)
	require.ErrorContains(t, err, "video/M-JPEG")
	st := c.State()
	require.Equal(t, StateFailed, st.State)
	require.Contains(t, st.Reason, "no H.264 or H.265 video")
}

func TestClientBadURL(t *testing.T) {
	for _, u := range []string{"http://x/y", "rtsp://", "::::", "rtsp://user:hunter22@[::1"} {
		c := NewClient(ClientConfig{URL: u, OnAccessUnit: func(media.AccessUnit) {}, Log: discardLog()})
		err := c.Run(context.Background())
		require.ErrorIs(t, err, ErrBadURL, u)
		require.NotContains(t, err.Error(), "hunter22")
		require.Equal(t, StateFailed, c.State().State)
	}
}

func TestClientGarbageRTP(t *testing.T) {
	src := defaultSource(t, true)
	first, err := src.Next()
	require.NoError(t, err)
	srv := testcam.NewServer(testcam.ServerConfig{})
	require.NoError(t, srv.Start())
	t.Cleanup(srv.Close)
	out, err := restream.NewStream(srv.RTSP(), first)
	require.NoError(t, err)
	srv.SetStream(out.ServerStream())
	stream := out.ServerStream()
	medi := stream.Desc.Medias[0]
	forma := medi.Formats[0].(*format.H264)

	var s sink
	c := newTestClient(t, ClientConfig{URL: srv.URL("/garbage"), OnAccessUnit: s.OnAccessUnit, Log: discardLog()})
	c.Start()
	select {
	case <-srv.Playing():
	case <-time.After(10 * time.Second):
		t.Fatal("client did not play")
	}

	enc, err := forma.CreateEncoder()
	require.NoError(t, err)
	real := map[string]bool{}
	var seq uint16
	write := func(pkt *rtp.Packet) {
		pkt.Version, pkt.PayloadType, pkt.SequenceNumber = 2, 96, seq
		seq++
		require.NoError(t, stream.WritePacketRTP(medi, pkt))
	}
	au := first
	// Garbage drawn from a fixed seed, so a failure reproduces. The first unit (the IDR the client
	// starts on) comes clean: a burst that breaks it would only make the client wait for the next
	// IDR, which is right but leaves nothing to count here.
	rng := rand.New(rand.NewPCG(18, 2026))
	for i := range 60 {
		// A burst of random payloads, then a real access unit.
		for range 5 {
			if i == 0 {
				break
			}
			payload := make([]byte, 1+int(seq)%300)
			for j := range payload {
				payload[j] = byte(rng.Uint32())
			}
			write(&rtp.Packet{Header: rtp.Header{Timestamp: uint32(i) * 3000, Marker: seq%3 == 0}, Payload: payload})
		}
		real[string(bytes.Join(au.NALUs, nil))] = true
		pkts, err := enc.Encode(au.NALUs)
		require.NoError(t, err)
		for _, p := range pkts {
			p.Timestamp = uint32(i)*6000 + 1
			write(p)
		}
		au, err = src.Next()
		require.NoError(t, err)
		time.Sleep(2 * time.Millisecond)
	}
	eventually(t, 10*time.Second, func() bool { return c.State().PacketsReceived >= uint64(seq) }, "all packets received")
	st := c.State()
	require.Equal(t, StateStreaming, st.State, "garbage does not end the session")
	require.Zero(t, st.Reconnects)
	require.Greater(t, st.DecodeErrors, uint64(0), "garbage is counted")
	require.Greater(t, st.AUsDropped, uint64(0), "broken units are dropped")
	intact := 0
	for _, got := range s.Units() {
		if real[string(bytes.Join(got.NALUs, nil))] {
			intact++
		}
	}
	require.Greater(t, intact, 10, "real access units get through between the garbage")
	t.Logf("garbage: %d intact; %+v", intact, st)

	// Clean packets afterwards: every access unit arrives.
	before := s.Count()
	for i := 60; i < 75; i++ {
		pkts, err := enc.Encode(au.NALUs)
		require.NoError(t, err)
		for _, p := range pkts {
			p.Timestamp = uint32(i)*6000 + 1
			write(p)
		}
		au, err = src.Next()
		require.NoError(t, err)
	}
	eventually(t, 10*time.Second, func() bool { return s.Count() >= before+15 }, "clean access units after the garbage")
}

func TestClientStall(t *testing.T) {
	src := &blockingSource{release: make(chan struct{})}
	cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Source: src})
	require.NoError(t, cam.Start())
	defer func() {
		close(src.release)
		cam.Close()
	}()
	var s sink
	c := newTestClient(t, ClientConfig{URL: cam.URL(), OnAccessUnit: s.OnAccessUnit, StallTimeout: 300 * time.Millisecond, InitialBackoff: time.Second})
	c.Start()
	eventually(t, 10*time.Second, func() bool { return c.State().State == StateBackoff }, "stall detected")
	require.Contains(t, c.State().Reason, "stalled")
	require.Equal(t, 1, s.Count())
	require.NoError(t, c.Close())
}

// blockingSource yields the default clip's first access unit, then blocks until released.
type blockingSource struct {
	once    sync.Once
	release chan struct{}
}

func (b *blockingSource) Next() (media.AccessUnit, error) {
	var au media.AccessUnit
	first := false
	b.once.Do(func() { first = true })
	if first {
		src, err := NewAnnexBSource(testcam.DefaultClip(), AnnexBOptions{})
		if err != nil {
			return au, err
		}
		return src.Next()
	}
	<-b.release
	return au, io.EOF
}

func TestClientCredentials(t *testing.T) {
	const user, pass = "viewer", "s3cr3t-Pa55"
	cam := startCamera(t, testcam.Config{User: user, Pass: pass, Path: "/private"})
	require.Contains(t, cam.URL(), user+":"+pass+"@")

	logger, logs := captureLog()
	var s sink
	c := newTestClient(t, ClientConfig{URL: cam.URL(), OnAccessUnit: s.OnAccessUnit, Log: logger})
	c.Start()
	eventually(t, 10*time.Second, func() bool { return s.Count() >= 3 }, "access units with credentials")
	st := c.State()
	require.Equal(t, StateStreaming, st.State)
	require.Equal(t, "rtsp://"+user+":REDACTED@"+cam.Addr()+"/private", st.URL)
	require.NoError(t, c.Close())

	// Wrong password: failed, and neither password shows anywhere.
	wrong := "rtsp://" + user + ":wr0ng-Pa55@" + cam.Addr() + "/private"
	c2 := NewClient(ClientConfig{URL: wrong, OnAccessUnit: s.OnAccessUnit, Log: logger})
	err := c2.Run(context.Background())
	require.ErrorIs(t, err, ErrUnauthorized)
	st2 := c2.State()
	require.Equal(t, StateFailed, st2.State)
	require.Contains(t, st2.Reason, "401")

	// No credentials at all against a camera that wants them.
	c3 := NewClient(ClientConfig{URL: "rtsp://" + cam.Addr() + "/private", OnAccessUnit: s.OnAccessUnit, Log: logger})
	require.ErrorIs(t, c3.Run(context.Background()), ErrUnauthorized)

	for _, secret := range []string{pass, "wr0ng-Pa55"} {
		require.NotContains(t, logs.String(), secret)
		require.NotContains(t, fmt.Sprintf("%+v %+v", st, st2), secret)
		require.NotContains(t, err.Error(), secret)
	}
	require.Contains(t, logs.String(), `"camera":"camera"`)
	require.Contains(t, logs.String(), "streaming")
}

func TestClientH265(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	path := t.TempDir() + "/c.265"
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=160x96:r=10:d=3",
		"-c:v", "libx265", "-x265-params", "keyint=10:bframes=0:log-level=error", "-f", "hevc", path).CombinedOutput()
	require.NoError(t, err, string(out))
	src, err := OpenAnnexB(path, AnnexBOptions{Codec: media.CodecH265})
	require.NoError(t, err)
	require.Equal(t, 30, src.Len())
	require.Equal(t, 100*time.Millisecond, src.FrameDuration())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	want, err := NewAnnexBSource(data, AnnexBOptions{Codec: media.CodecH265})
	require.NoError(t, err)

	cam := startCamera(t, testcam.Config{Source: src, Fast: true})
	var s sink
	c := newTestClient(t, ClientConfig{URL: cam.URL(), OnAccessUnit: s.OnAccessUnit})
	c.Start()
	eventually(t, 20*time.Second, func() bool { return s.Count() >= 30 }, "30 H.265 access units")
	require.Equal(t, media.CodecH265, c.State().Codec)
	for i, got := range s.Units() {
		exp, err := want.Next()
		require.NoError(t, err)
		require.Equal(t, media.CodecH265, got.Codec)
		require.Equal(t, exp.RandomAccess, got.RandomAccess, "AU %d", i)
		require.Equal(t, exp.PTS, got.PTS, "AU %d", i)
		require.Equal(t, exp.NALUs, got.NALUs[len(got.NALUs)-len(exp.NALUs):], "AU %d", i)
	}
}

func TestClientAutoTransportFallsBackToTCP(t *testing.T) {
	cam := startCamera(t, testcam.Config{}) // TCP only
	var s sink
	c := newTestClient(t, ClientConfig{URL: cam.URL(), Transport: TransportAuto, OnAccessUnit: s.OnAccessUnit})
	c.Start()
	eventually(t, 15*time.Second, func() bool { return s.Count() >= 3 }, "access units over the fallback")
	require.Equal(t, TransportTCP, c.State().Transport)
}

func TestClientRequiresCallback(t *testing.T) {
	c := NewClient(ClientConfig{URL: "rtsp://127.0.0.1:1/x", Log: discardLog()})
	err := c.Run(context.Background())
	require.ErrorIs(t, err, ErrBadConfig)
	require.ErrorContains(t, err, "OnAccessUnit")
	require.Equal(t, StateFailed, c.State().State)
	c = NewClient(ClientConfig{URL: "rtsp://127.0.0.1:1/x", Transport: "quic", OnAccessUnit: func(media.AccessUnit) {}, Log: discardLog()})
	require.ErrorIs(t, c.Run(context.Background()), ErrBadConfig)
}

func TestClientQueueFullDropsAndCounts(t *testing.T) {
	src := defaultSource(t, false)
	cam := startCamera(t, testcam.Config{Source: src, Fast: true})
	release := make(chan struct{})
	var s sink
	reg := prometheus.NewRegistry()
	c := newTestClient(t, ClientConfig{URL: cam.URL(), Camera: "slow", QueueSize: 4, Registerer: reg,
		OnAccessUnit: func(au media.AccessUnit) {
			<-release // a consumer that is stuck until the camera has sent everything
			s.OnAccessUnit(au)
		}})
	c.Start()
	eventually(t, 20*time.Second, func() bool { return cam.Sent() == 150 }, "the camera sends the clip")
	eventually(t, 20*time.Second, func() bool {
		st := c.State()
		return st.AUsDropped+uint64(4+1) >= 150
	}, "units beyond the queue are dropped: %+v", c.State())
	close(release)
	eventually(t, 10*time.Second, func() bool { st := c.State(); return st.AUsDelivered+st.AUsDropped == 150 }, "every unit delivered or dropped")
	st := c.State()
	require.Equal(t, uint64(s.Count()), st.AUsDelivered)
	require.LessOrEqual(t, st.AUsDelivered, uint64(5+5), "the queue holds 4, the stuck call 1, then random-access units")
	require.Equal(t, float64(st.AUsDropped), testutil.ToFloat64(c.metrics.dropQueue))
	// After the first overflow only random-access units get through: no unit misses its references.
	got := s.Units()
	for i, au := range got {
		if i >= 5 {
			require.True(t, au.RandomAccess, "unit %d after the overflow", i)
		}
	}
}

// TestClientSoakReconnects restarts the camera many times; goroutines and delivery must survive every
// cycle. 4 cycles by default, 20 with MVWATCH_LONG=1.
func TestClientSoakReconnects(t *testing.T) {
	cycles := 4
	if os.Getenv("MVWATCH_LONG") != "" {
		cycles = 20
	}
	cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Source: defaultSource(t, true)})
	require.NoError(t, cam.Start())
	addr := cam.Addr()
	var s sink
	c := newTestClient(t, ClientConfig{URL: cam.URL(), OnAccessUnit: s.OnAccessUnit})
	c.Start()
	for i := range cycles {
		n := s.Count()
		eventually(t, 15*time.Second, func() bool { return s.Count() >= n+5 }, "cycle %d: access units", i)
		cam.Close()
		eventually(t, 10*time.Second, func() bool { return c.State().State == StateBackoff }, "cycle %d: backoff", i)
		cam = testcam.New(testcam.Config{Address: addr, Source: defaultSource(t, true)})
		require.NoError(t, cam.Start())
	}
	n := s.Count()
	eventually(t, 15*time.Second, func() bool { return s.Count() >= n+5 }, "access units after the last restart")
	require.NoError(t, c.Close())
	cam.Close()
	require.GreaterOrEqual(t, c.State().Reconnects, uint64(cycles))
	goleak.VerifyNone(t, goleak.IgnoreCurrent())
}

func TestTicksToDurationLongStreams(t *testing.T) {
	week := 7 * 24 * time.Hour
	require.Equal(t, week, ticksToDuration(int64(week/time.Second)*90000, 90000))
	require.Equal(t, -time.Second, ticksToDuration(-90000, 90000))
}
