package app

import (
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/mvwatch/mvwatch/inference"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/enrich"
)

// TestMain fails the run if any test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// shippedStagesConfig is the default config with the shipped caption and thumbnail models, as seen
// from this package's directory.
func shippedStagesConfig() *config.Config {
	cfg := config.Default()
	cfg.Captions.TargetDir = filepath.Join("..", "..", config.DefaultCaptionTargetDir)
	cfg.Captions.DraftDir = filepath.Join("..", "..", config.DefaultCaptionDraftDir)
	cfg.Thumbnails.ModelDir = filepath.Join("..", "..", config.DefaultThumbnailModelDir)
	cfg.Thumbnails.PredictorDir = filepath.Join("..", "..", config.DefaultThumbnailPredictor)
	return cfg
}

// openShippedStages opens both stages on the shipped models.
func openShippedStages(t *testing.T, reg prometheus.Registerer) (*enrich.Captions, *enrich.Thumbnails) {
	t.Helper()
	require.NoError(t, inference.Init(inference.RuntimeConfig{}))
	cfg := shippedStagesConfig()
	caps, err := enrich.NewCaptions(cfg.Captions, reg, quietLogger())
	require.NoError(t, err)
	thumbs, err := enrich.NewThumbnails(cfg.Thumbnails, reg, quietLogger())
	require.NoError(t, err)
	return caps, thumbs
}
