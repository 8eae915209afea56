package app

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/event"
)

// clipProbe is what ffprobe says of an event clip.
type clipProbe struct {
	Codec    string
	Duration float64
	// Start is the wall-clock time of the clip's first packet: its "comment" tag (the time of the
	// clip's time 0) plus the first packet's time.
	Start   time.Time
	Packets int
}

// probeClip runs /usr/bin/ffprobe on an MP4 file.
func probeClip(t *testing.T, path string) clipProbe {
	t.Helper()
	out, err := exec.Command("/usr/bin/ffprobe", "-v", "error", "-show_streams", "-show_packets", "-show_format", "-of", "json", path).CombinedOutput()
	require.NoError(t, err, "ffprobe: %s", out)
	var p struct {
		Streams []struct {
			CodecName string `json:"codec_name"`
		} `json:"streams"`
		Packets []struct {
			PTSTime string `json:"pts_time"`
		} `json:"packets"`
		Format struct {
			Duration string            `json:"duration"`
			Tags     map[string]string `json:"tags"`
		} `json:"format"`
	}
	require.NoError(t, json.Unmarshal(out, &p))
	require.Len(t, p.Streams, 1)
	require.NotEmpty(t, p.Packets)
	first := 1e18
	for _, pk := range p.Packets {
		v, err := strconv.ParseFloat(pk.PTSTime, 64)
		require.NoError(t, err)
		first = min(first, v)
	}
	dur, err := strconv.ParseFloat(p.Format.Duration, 64)
	require.NoError(t, err)
	zero, err := time.Parse(time.RFC3339Nano, p.Format.Tags["comment"])
	require.NoError(t, err, "the clip's comment tag holds the wall-clock time of its time 0")
	return clipProbe{Codec: p.Streams[0].CodecName, Duration: dur, Packets: len(p.Packets),
		Start: zero.Add(time.Duration(first * float64(time.Second)))}
}

// requireEventClip waits for ev's clip_ref, fetches the clip through the API (whole, then a Range),
// and checks it with ffprobe: H.264, a duration, and a first picture at or before the event's start.
func requireEventClip(t *testing.T, svc *App, ev event.Event) clipProbe {
	t.Helper()
	var got event.Event
	eventually(t, 20*time.Second, func() bool {
		_, b := apiGet(t, svc, "/api/v1/events/"+ev.ID, true)
		return json.Unmarshal(b, &got) == nil && got.ClipRef != ""
	}, "the clip of the "+ev.Label+" event")
	require.Equal(t, event.ClipPath(ev.ID), got.ClipRef)
	code, body := apiGet(t, svc, got.ClipRef, true)
	require.Equal(t, http.StatusOK, code)
	code, _ = apiGet(t, svc, got.ClipRef, false)
	require.Equal(t, http.StatusUnauthorized, code)
	req, err := http.NewRequest("GET", "http://"+svc.HTTPAddr()+got.ClipRef, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer s3cret-token")
	req.Header.Set("Range", "bytes=0-99")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusPartialContent, res.StatusCode)
	require.Equal(t, "video/mp4", res.Header.Get("Content-Type"))

	path := filepath.Join(t.TempDir(), ev.ID+".mp4")
	require.NoError(t, os.WriteFile(path, body, 0o600))
	p := probeClip(t, path)
	require.Equal(t, "h264", p.Codec)
	require.Positive(t, p.Duration)
	require.False(t, p.Start.After(ev.Start), "the %s clip starts at %v, after its event (%v)", ev.Label, p.Start, ev.Start)
	t.Logf("%s event [%s, %s]: clip of %d packets, %.2f s, from %.2f s before the event's start, %d bytes", ev.Label,
		ev.Start.Format("15:04:05.000"), ev.End.Format("15:04:05.000"), p.Packets, p.Duration, ev.Start.Sub(p.Start).Seconds(), len(body))
	return p
}
