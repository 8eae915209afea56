package testcam

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/media"
)

// TestCameraServesDefaultClip plays the built-in clip once, fast, and reads every picture back.
func TestCameraServesDefaultClip(t *testing.T) {
	cam := startCamera(t, Config{Source: annexB(t, DefaultClip()), Fast: true})
	var n atomic.Int64
	c := ingest.NewClient(ingest.ClientConfig{URL: cam.URL(), QueueSize: 1024, OnAccessUnit: func(media.AccessUnit) { n.Add(1) }})
	c.Start()
	defer c.Close()
	require.Eventually(t, func() bool { return n.Load() == 150 }, 20*time.Second, 10*time.Millisecond, "150 pictures, got %d", n.Load())
	require.Equal(t, uint64(150), cam.Sent())
	require.Zero(t, cam.Dropped())
}

func TestCameraNeedsASource(t *testing.T) {
	require.ErrorContains(t, New(Config{Address: "127.0.0.1:0"}).Start(), "no source")
}

func TestSceneClip(t *testing.T) {
	src, err := ingest.NewAnnexBSource(SceneClip(), ingest.AnnexBOptions{FrameRate: SceneFrameRate})
	require.NoError(t, err)
	require.Equal(t, 192, src.Len())
	require.Equal(t, time.Second/SceneFrameRate, src.FrameDuration())
}
