package testcam

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/mvwatch/mvwatch/ingest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startCamera starts a camera on a random loopback port and closes it at the end of the test.
func startCamera(t *testing.T, cfg Config) *Camera {
	t.Helper()
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1:0"
	}
	cam := New(cfg)
	require.NoError(t, cam.Start())
	t.Cleanup(cam.Close)
	return cam
}

// annexB reads a raw H.264 stream into a source.
func annexB(t *testing.T, data []byte) *ingest.AnnexBSource {
	t.Helper()
	src, err := ingest.NewAnnexBSource(data, ingest.AnnexBOptions{})
	require.NoError(t, err)
	return src
}
