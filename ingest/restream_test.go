package ingest

import (
	"bytes"
	"testing"
	"time"

	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRestreamTwoViewers(t *testing.T) {
	cam := startCamera(t, TestCameraConfig{})
	rs := NewRestream(RestreamConfig{Address: "127.0.0.1:0"})
	require.NoError(t, rs.Start())
	t.Cleanup(rs.Close)

	// One pull from the camera, republished as "front-door".
	var upstream sink
	pull := newTestClient(t, ClientConfig{URL: cam.URL(), Camera: "front-door", OnAccessUnit: func(au media.AccessUnit) {
		upstream.onAU(au)
		assert.NoError(t, rs.WriteAccessUnit("front-door", au))
	}})
	pull.Start()
	eventually(t, 10*time.Second, func() bool { return upstream.count() >= 1 }, "upstream access units")

	var v1, v2 sink
	for _, v := range []*sink{&v1, &v2} {
		c := newTestClient(t, ClientConfig{URL: rs.URL("front-door"), OnAccessUnit: v.onAU})
		c.Start()
	}
	eventually(t, 15*time.Second, func() bool { return v1.count() >= 8 && v2.count() >= 8 }, "both viewers get access units")

	up := upstream.units()
	index := map[string]int{}
	for i, au := range up {
		index[string(bytes.Join(au.NALUs, nil))] = i
	}
	for _, v := range []*sink{&v1, &v2} {
		got := v.units()
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
	c := newTestClient(t, ClientConfig{URL: rs.URL("back-door"), OnAccessUnit: func(media.AccessUnit) {}})
	c.Start()
	eventually(t, 5*time.Second, func() bool { return c.State().State == StateBackoff }, "404 for an unknown camera")
	require.Contains(t, c.State().Reason, "404")
	require.ErrorIs(t, rs.WriteAccessUnit("../x", up[0]), ErrBadCameraName)

	// Removing the camera disconnects its viewers.
	require.NoError(t, pull.Close())
	rs.RemoveCamera("front-door")
	require.NoError(t, rs.WriteAccessUnit("other", media.AccessUnit{Codec: media.CodecH264}), "non-random-access units before a stream are ignored")
}

func TestTickConversionLongStreams(t *testing.T) {
	week := 7 * 24 * time.Hour
	require.Equal(t, int64(week/time.Second)*90000, durationToTicks(week, 90000))
	require.Equal(t, week, ticksToDuration(int64(week/time.Second)*90000, 90000))
	require.Equal(t, int64(6000), durationToTicks(time.Second/15, 90000), "rounded, not truncated")
	require.Equal(t, -time.Second, ticksToDuration(-90000, 90000))
}
