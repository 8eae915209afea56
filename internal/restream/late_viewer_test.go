package restream_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/restream"
	"github.com/mvwatch/mvwatch/internal/testcam"
)

// TestLateViewerStartsOnAKeyframe joins a real RTSP client mid-GOP: the restream sends it the GOP
// since the last keyframe first, so its first access unit is that IDR, arrives within 100 ms of
// PLAY and decodes, and the live units follow without a gap.
func TestLateViewerStartsOnAKeyframe(t *testing.T) {
	src, err := ingest.NewAnnexBSource(testcam.DefaultClip(), ingest.AnnexBOptions{Loop: true})
	require.NoError(t, err)
	cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Source: src})
	require.NoError(t, cam.Start())
	t.Cleanup(cam.Close)
	rs := restream.New(restream.Config{Address: "127.0.0.1:0"})
	require.NoError(t, rs.Start())
	t.Cleanup(rs.Close)

	var upstream testcam.Sink
	lastIDR := make(chan int, 1024)
	pull := newClient(t, ingest.ClientConfig{URL: cam.URL(), Camera: "yard", OnAccessUnit: func(au media.AccessUnit) {
		if au.RandomAccess {
			lastIDR <- upstream.Count()
		}
		upstream.OnAccessUnit(au)
		assert.NoError(t, rs.WriteAccessUnit("yard", au))
	}})
	pull.Start()
	// Wait until the camera is well inside a GOP (IDR every 2 s at 15 fps): a third of it past.
	idr := -1
	require.Eventually(t, func() bool {
		for {
			select {
			case i := <-lastIDR:
				idr = i
				continue
			default:
			}
			break
		}
		return idr >= 0 && upstream.Count()-idr >= 10
	}, 15*time.Second, 5*time.Millisecond, "upstream mid-GOP")

	var viewer testcam.Sink
	var firstAt time.Time
	playing := make(chan time.Time, 1)
	v := newClient(t, ingest.ClientConfig{URL: rs.URL("yard"),
		OnStateChange: func(st ingest.ClientState) {
			if st.State == ingest.StateStreaming {
				select {
				case playing <- time.Now():
				default:
				}
			}
		},
		OnAccessUnit: func(au media.AccessUnit) {
			if viewer.Count() == 0 {
				firstAt = time.Now()
			}
			viewer.OnAccessUnit(au)
		}})
	v.Start()
	require.Eventually(t, func() bool { return viewer.Count() >= 20 }, 10*time.Second, 5*time.Millisecond, "viewer units")
	playAt := <-playing
	wait := firstAt.Sub(playAt)
	t.Logf("first access unit %v after PLAY", wait)
	require.Less(t, wait, 100*time.Millisecond, "a late viewer starts at once")

	got := viewer.Units()
	require.True(t, got[0].RandomAccess, "the first unit is a keyframe")
	up := upstream.Units()
	index := map[string]int{}
	for i, au := range up {
		index[string(bytes.Join(au.NALUs, nil))] = i
	}
	start, ok := index[string(bytes.Join(got[0].NALUs, nil))]
	require.True(t, ok)
	require.Equal(t, idr, start, "the viewer starts at the GOP it joined, not the next one")
	for i, au := range got {
		require.Equal(t, up[start+i].NALUs, au.NALUs, "viewer unit %d is the camera's unit %d: no gap", i, start+i)
	}

	// The first unit is a picture a decoder can show.
	dec, err := demux.NewDecoder(media.CodecH264, demux.DecoderConfig{Pixels: true, Threads: 1})
	require.NoError(t, err)
	defer dec.Close()
	frames := 0
	count := func(*media.Frame) error { frames++; return nil }
	require.NoError(t, dec.Decode(got[0], count))
	require.NoError(t, dec.Flush(count))
	require.Equal(t, 1, frames, "the first unit decodes")
}

// TestLateViewerWithCredentials: with users configured, a viewer who joins mid-GOP with its
// credentials starts on a keyframe over TCP and over UDP (the GOP cache goes through the same
// authenticated PLAY), and one with a wrong token gets nothing, the cached GOP included.
func TestLateViewerWithCredentials(t *testing.T) {
	rs, _ := serving(t, false)
	for _, tr := range []string{"tcp", "udp"} {
		t.Run(tr, func(t *testing.T) {
			var got testcam.Sink
			c := newClient(t, ingest.ClientConfig{URL: "rtsp://vera:" + viewerTok + "@" + rs.Addr() + "/cam", Transport: tr, OnAccessUnit: got.OnAccessUnit})
			c.Start()
			require.Eventually(t, func() bool { return got.Count() >= 5 }, 10*time.Second, 5*time.Millisecond, "viewer units")
			require.True(t, got.Units()[0].RandomAccess, "the first unit is a keyframe")
			// Without the cache the client discards the live units up to the next keyframe.
			require.Zero(t, c.State().AUsSkipped, "the viewer started on the cached keyframe, not the next one")
		})
	}
	require.Zero(t, play(t, rs, "vera:nope@", "tcp"), "wrong credentials play nothing")
}
