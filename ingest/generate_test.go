package ingest

import (
	"context"
	"io"
	"os/exec"
	"testing"
	"time"

	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/stretchr/testify/require"
)

func TestGenerateAndConcat(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	ctx := context.Background()
	idle, err := Generate(ctx, GenerateOptions{Graph: "color=c=gray:s=96x64:r=10:d=1", Keyint: 5})
	require.NoError(t, err)
	require.Equal(t, 10, idle.Len())
	require.Equal(t, 100*time.Millisecond, idle.FrameDuration())
	moving, err := Generate(ctx, GenerateOptions{Graph: "testsrc2=s=96x64:r=10:d=1", BFrames: 2, Keyint: 5})
	require.NoError(t, err)
	require.Equal(t, 10, moving.Len())

	_, err = Generate(ctx, GenerateOptions{Graph: "nosuchsource=x"})
	require.ErrorContains(t, err, "nosuchsource")
	_, err = Generate(ctx, GenerateOptions{})
	require.Error(t, err)

	// Concat: 20 pictures, PTS 0..1.9 s in display order, random access at each clip's start.
	c := NewConcat(idle, moving)
	var aus []media.AccessUnit
	for {
		au, err := c.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		aus = append(aus, au)
	}
	require.Len(t, aus, 20)
	require.True(t, aus[0].RandomAccess)
	require.True(t, aus[10].RandomAccess)
	for rank, i := range displayOrder(aus) {
		require.Equal(t, time.Duration(rank)*100*time.Millisecond, aus[i].PTS)
	}

	// Served by the test camera and read back.
	again, err := Generate(ctx, GenerateOptions{Graph: "testsrc2=s=96x64:r=10:d=1", Keyint: 5})
	require.NoError(t, err)
	cam := startCamera(t, TestCameraConfig{Source: NewConcat(again), Fast: true})
	var s sink
	cl := newTestClient(t, ClientConfig{URL: cam.URL(), OnAccessUnit: s.onAU})
	cl.Start()
	eventually(t, 10*time.Second, func() bool { return s.count() == 10 }, "generated clip over RTSP")
}
