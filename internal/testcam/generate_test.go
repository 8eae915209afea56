package testcam

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/stretchr/testify/require"
)

func TestGenerateAndConcat(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	ctx := context.Background()
	idle := annexB(t, generate(t, GenerateOptions{Graph: "color=c=gray:s=96x64:r=10:d=1", Keyint: 5}))
	require.Equal(t, 10, idle.Len())
	require.Equal(t, 100*time.Millisecond, idle.FrameDuration())
	moving := annexB(t, generate(t, GenerateOptions{Graph: "testsrc2=s=96x64:r=10:d=1", BFrames: 2, Keyint: 5}))
	require.Equal(t, 10, moving.Len())

	_, err := Generate(ctx, GenerateOptions{Graph: "nosuchsource=x"})
	require.ErrorContains(t, err, "nosuchsource")
	_, err = Generate(ctx, GenerateOptions{})
	require.Error(t, err)

	// Concat: 20 pictures, PTS 0..1.9 s in display order, random access at each clip's start.
	c := NewConcat(idle, moving)
	var aus []media.AccessUnit
	for {
		au, err := c.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		aus = append(aus, au)
	}
	require.Len(t, aus, 20)
	require.True(t, aus[0].RandomAccess)
	require.True(t, aus[10].RandomAccess)
	var pts []time.Duration
	for _, au := range aus {
		pts = append(pts, au.PTS)
	}
	slices.Sort(pts)
	for rank, p := range pts {
		require.Equal(t, time.Duration(rank)*100*time.Millisecond, p)
	}

	// Served by the test camera and read back.
	again := annexB(t, generate(t, GenerateOptions{Graph: "testsrc2=s=96x64:r=10:d=1", Keyint: 5}))
	cam := startCamera(t, Config{Source: NewConcat(again), Fast: true})
	var n atomic.Int64
	cl := ingest.NewClient(ingest.ClientConfig{URL: cam.URL(), OnAccessUnit: func(media.AccessUnit) { n.Add(1) }})
	cl.Start()
	defer cl.Close()
	require.Eventually(t, func() bool { return n.Load() == 10 }, 10*time.Second, 10*time.Millisecond, "generated clip over RTSP")
}

func generate(t *testing.T, opts GenerateOptions) []byte {
	t.Helper()
	data, err := Generate(context.Background(), opts)
	require.NoError(t, err)
	return data
}
