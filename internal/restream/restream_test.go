package restream_test

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/restream"
	"github.com/mvwatch/mvwatch/internal/testcam"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRestreamTwoViewers(t *testing.T) {
	src, err := ingest.NewAnnexBSource(testcam.DefaultClip(), ingest.AnnexBOptions{Loop: true})
	require.NoError(t, err)
	cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Source: src})
	require.NoError(t, cam.Start())
	t.Cleanup(cam.Close)
	rs := restream.New(restream.Config{Address: "127.0.0.1:0"})
	require.NoError(t, rs.Start())
	t.Cleanup(rs.Close)

	// One pull from the camera, republished as "front-door".
	var upstream testcam.Sink
	pull := newClient(t, ingest.ClientConfig{URL: cam.URL(), Camera: "front-door", OnAccessUnit: func(au media.AccessUnit) {
		upstream.OnAccessUnit(au)
		assert.NoError(t, rs.WriteAccessUnit("front-door", au))
	}})
	pull.Start()
	require.Eventually(t, func() bool { return upstream.Count() >= 1 }, 10*time.Second, 10*time.Millisecond, "upstream access units")

	var v1, v2 testcam.Sink
	for _, v := range []*testcam.Sink{&v1, &v2} {
		c := newClient(t, ingest.ClientConfig{URL: rs.URL("front-door"), OnAccessUnit: v.OnAccessUnit})
		c.Start()
	}
	require.Eventually(t, func() bool { return v1.Count() >= 8 && v2.Count() >= 8 }, 15*time.Second, 10*time.Millisecond, "both viewers get access units")

	up := upstream.Units()
	index := map[string]int{}
	for i, au := range up {
		index[string(bytes.Join(au.NALUs, nil))] = i
	}
	for _, v := range []*testcam.Sink{&v1, &v2} {
		got := v.Units()
		require.True(t, got[0].RandomAccess)
		start, ok := index[string(bytes.Join(got[0].NALUs, nil))]
		require.True(t, ok, "a viewer's first unit is one the camera sent")
		for i, au := range got {
			want := up[start+i]
			require.Equal(t, want.NALUs, au.NALUs, "viewer unit %d is the camera's unit %d", i, start+i)
			require.InDelta(t, want.PTS-up[start].PTS, au.PTS-got[0].PTS, float64(20*time.Microsecond), "same timing (to a 90 kHz tick)")
		}
	}

	// An unknown camera is a 404 for viewers; a bad name is refused.
	c := newClient(t, ingest.ClientConfig{URL: rs.URL("back-door"), OnAccessUnit: func(media.AccessUnit) {}})
	c.Start()
	require.Eventually(t, func() bool { return c.State().State == ingest.StateBackoff }, 5*time.Second, 10*time.Millisecond, "404 for an unknown camera")
	require.Contains(t, c.State().Reason, "404")
	require.ErrorIs(t, rs.WriteAccessUnit("../x", up[0]), restream.ErrBadCameraName)

	// Removing the camera disconnects its viewers.
	require.NoError(t, pull.Close())
	rs.RemoveCamera("front-door")
	require.NoError(t, rs.WriteAccessUnit("other", media.AccessUnit{Codec: media.CodecH264}), "non-random-access units before a stream are ignored")
}

// newClient makes a client with quick reconnects and closes it at the end of the test.
func newClient(t *testing.T, cfg ingest.ClientConfig) *ingest.Client {
	t.Helper()
	cfg.InitialBackoff, cfg.MaxBackoff = 50*time.Millisecond, 400*time.Millisecond
	cfg.Log = slog.New(slog.DiscardHandler)
	c := ingest.NewClient(cfg)
	t.Cleanup(func() { c.Close() })
	return c
}
