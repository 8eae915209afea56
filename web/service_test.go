package web_test

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/app"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/testcam"
	"github.com/mvwatch/mvwatch/mvextract"
)

// testConfig is a service config on random loopback ports with its store in the test's directory.
func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Listen.HTTP, cfg.Listen.RTSP = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.Path = filepath.Join(t.TempDir(), "events.db")
	return cfg
}

// startCamera runs a real-time test camera over real RTSP that plays clip (looped) at fps.
func startCamera(t *testing.T, clip []byte, fps float64, path string) *testcam.Camera {
	t.Helper()
	src, err := ingest.NewAnnexBSource(clip, ingest.AnnexBOptions{Loop: true, FrameRate: fps})
	require.NoError(t, err)
	cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Path: path, Source: src})
	require.NoError(t, cam.Start())
	t.Cleanup(cam.Close)
	return cam
}

// serve starts the real service with cfg; it closes with the test.
func serve(t *testing.T, cfg *config.Config) *app.App {
	t.Helper()
	svc, err := app.New(app.Options{Config: cfg, Classifier: &burstClassifier{},
		Features: mvextract.FeatureSpec{Clip: mvextract.ClipConfig{Length: 4, Width: 16, Height: 16}},
		Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, svc.Start())
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	return svc
}
