package restream_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/auth"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/restream"
	"github.com/mvwatch/mvwatch/internal/testcam"
)

const (
	viewerTok = "vTok-0123456789abcdef"
	adminTok  = "aTok-fedcba9876543210"
)

// logBuf collects log lines (the server's debug line says which method authenticated).
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// refused counts the refused viewers of the latest serving restream.
var refused prometheus.Counter

// serving starts a restream with users (digest: every user gets an HA1) and UDP, fed by a test
// camera as "cam".
func serving(t *testing.T, digest bool) (*restream.Server, *logBuf) {
	t.Helper()
	users := []config.User{
		{Name: "vera", Role: "viewer", TokenSHA256: auth.HashToken(viewerTok)},
		{Name: "adam", Role: "admin", TokenSHA256: auth.HashToken(adminTok)},
	}
	if digest {
		users[0].RTSPDigestMD5 = auth.DigestHA1("vera", viewerTok)
		users[1].RTSPDigestMD5 = auth.DigestHA1("adam", adminTok)
	}
	u, err := auth.New(users, "")
	require.NoError(t, err)
	src, err := ingest.NewAnnexBSource(testcam.DefaultClip(), ingest.AnnexBOptions{Loop: true})
	require.NoError(t, err)
	cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Source: src})
	require.NoError(t, cam.Start())
	t.Cleanup(cam.Close)
	logs := &logBuf{}
	metrics, err := auth.NewMetrics(prometheus.NewRegistry())
	require.NoError(t, err)
	refused = metrics.Refused.WithLabelValues(auth.RefusedRTSP)
	rs := restream.New(restream.Config{Address: "127.0.0.1:0", UDPAddress: "127.0.0.1:0", Users: u, Metrics: metrics,
		Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, rs.Start())
	t.Cleanup(rs.Close)
	require.NotEmpty(t, rs.UDPAddr())
	var upstream testcam.Sink
	pull := newClient(t, ingest.ClientConfig{URL: cam.URL(), Camera: "cam", OnAccessUnit: func(au media.AccessUnit) {
		upstream.OnAccessUnit(au)
		_ = rs.WriteAccessUnit("cam", au)
	}})
	pull.Start()
	require.Eventually(t, func() bool { return upstream.Count() >= 2 }, 10*time.Second, 10*time.Millisecond, "upstream")
	return rs, logs
}

// describe sends DESCRIBE with a real gortsplib client and returns the status code (200 on success).
func describe(t *testing.T, rs *restream.Server, userinfo string) int {
	t.Helper()
	u, err := base.ParseURL("rtsp://" + userinfo + rs.Addr() + "/cam")
	require.NoError(t, err)
	c := gortsplib.Client{Scheme: u.Scheme, Host: u.Host}
	require.NoError(t, c.Start2())
	defer c.Close()
	_, _, err = c.Describe(u)
	if err == nil {
		return 200
	}
	var bad liberrors.ErrClientBadStatusCode
	require.True(t, errors.As(err, &bad), "describe: %v", err)
	return int(bad.Code)
}

// play reads the restream with mvwatch's own RTSP client over transport and counts access units.
func play(t *testing.T, rs *restream.Server, userinfo, transport string) int {
	t.Helper()
	var got testcam.Sink
	c := newClient(t, ingest.ClientConfig{URL: "rtsp://" + userinfo + rs.Addr() + "/cam", Transport: transport, OnAccessUnit: got.OnAccessUnit})
	c.Start()
	ok := assertEventually(func() bool {
		return got.Count() >= 10 || c.State().Reconnects > 0 || c.State().State == ingest.StateFailed
	}, 15*time.Second)
	st := c.State()
	_ = c.Close() // its error is the session's failure, if any: st has it
	t.Logf("play %s over %s: %d units, state %+v (%v)", strings.SplitN(userinfo, ":", 2)[0], transport, got.Count(), st, ok)
	return got.Count()
}

func assertEventually(cond func() bool, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// TestRestreamCredentials: before, the restream served anyone (the service never set credentials);
// now every request needs a user's name and token.
func TestRestreamCredentials(t *testing.T) {
	for _, digest := range []bool{false, true} {
		name := map[bool]string{false: "basic", true: "digest"}[digest]
		t.Run(name, func(t *testing.T) {
			rs, logs := serving(t, digest)
			require.Equal(t, 401, describe(t, rs, ""), "no credentials")
			require.Equal(t, 401, describe(t, rs, "vera:wrong@"), "wrong token")
			require.Equal(t, 401, describe(t, rs, "adam:"+viewerTok+"@"), "another user's token")
			require.Equal(t, 401, describe(t, rs, "vera:"+auth.HashToken(viewerTok)+"@"), "the hash is no token")
			require.Equal(t, 3.0, testutil.ToFloat64(refused), "wrong credentials are counted, none given are not")
			require.Equal(t, 200, describe(t, rs, "vera:"+viewerTok+"@"), "a viewer may view")
			require.Equal(t, 200, describe(t, rs, "adam:"+adminTok+"@"), "so may an admin")
			require.Contains(t, logs.String(), "method="+name, "the client authenticated by %s", name)
			require.NotContains(t, logs.String(), viewerTok)

			for _, tr := range []string{"tcp", "udp"} {
				require.GreaterOrEqual(t, play(t, rs, "vera:"+viewerTok+"@", tr), 10, "a viewer plays over %s", tr)
			}
			require.Zero(t, play(t, rs, "vera:nope@", "tcp"), "wrong credentials play nothing")
		})
	}
}

// TestRestreamUDPWithoutAuth: UDP viewers (before: 461 Unsupported Transport) and TCP viewers both
// play.
func TestRestreamUDPWithoutAuth(t *testing.T) {
	src, err := ingest.NewAnnexBSource(testcam.DefaultClip(), ingest.AnnexBOptions{Loop: true})
	require.NoError(t, err)
	cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Source: src})
	require.NoError(t, cam.Start())
	t.Cleanup(cam.Close)
	rs := restream.New(restream.Config{Address: "127.0.0.1:0", UDPAddress: "127.0.0.1:0"})
	require.NoError(t, rs.Start())
	t.Cleanup(rs.Close)
	var upstream testcam.Sink
	pull := newClient(t, ingest.ClientConfig{URL: cam.URL(), Camera: "cam", OnAccessUnit: func(au media.AccessUnit) {
		upstream.OnAccessUnit(au)
		_ = rs.WriteAccessUnit("cam", au)
	}})
	pull.Start()
	require.Eventually(t, func() bool { return upstream.Count() >= 2 }, 10*time.Second, 10*time.Millisecond, "upstream")
	require.GreaterOrEqual(t, play(t, rs, "", "udp"), 10)
	require.GreaterOrEqual(t, play(t, rs, "", "tcp"), 10)
}

// TestRestreamFFprobe: FFmpeg, a client mvwatch did not write, authenticates (it prefers Digest when
// offered) and plays over UDP and TCP; wrong credentials fail.
func TestRestreamFFprobe(t *testing.T) {
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Skip("no ffprobe")
	}
	for _, digest := range []bool{false, true} {
		rs, logs := serving(t, digest)
		run := func(userinfo, transport string) (string, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, ffprobe, "-v", "error", "-rtsp_transport", transport, "-show_entries", "stream=codec_name",
				"-of", "csv=p=0", "rtsp://"+userinfo+rs.Addr()+"/cam")
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			return strings.TrimSpace(string(out) + "\n" + lastLine(stderr.String())), err
		}
		for _, tr := range []string{"udp", "tcp"} {
			out, err := run("vera:"+viewerTok+"@", tr)
			require.NoError(t, err, "digest=%v %s: %s", digest, tr, out)
			require.True(t, strings.HasPrefix(out+"\n", "h264\n"), out)
		}
		out, err := run("vera:wrong@", "tcp")
		require.Error(t, err, out)
		require.Contains(t, out, "401")
		method := map[bool]string{false: "basic", true: "digest"}[digest]
		require.Contains(t, logs.String(), "method="+method)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
