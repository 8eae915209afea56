package enrich

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mvwatch/mvwatch/inference"
	"github.com/mvwatch/mvwatch/internal/config"
)

// Open starts ONNX Runtime (as pipeline.LoadModel does) and opens the caption and thumbnail stages that
// cfg turns on, with the model directories as cfg gives them; a stage that is off is nil. A stage set
// `enabled: true` whose models fail to load is an error. A stage on only by default (enabled left out)
// whose models fail to load is logged as a warning and left out, so the rest of the service runs.
func Open(cfg *config.Config, reg prometheus.Registerer, log *slog.Logger) (*Captions, *Thumbnails, error) {
	if log == nil {
		log = slog.Default()
	}
	if !cfg.Captions.IsEnabled() && !cfg.Thumbnails.IsEnabled() {
		return nil, nil, nil
	}
	var caps *Captions
	var thumbs *Thumbnails
	// soft reports whether err may be tolerated: the stage was only on by default.
	soft := func(enabled *bool, what string, err error) bool {
		if enabled != nil {
			return false
		}
		log.Warn(what+" off: their models did not load (set "+what+".enabled: false to silence this, or true to make it an error)", "err", err)
		return true
	}
	rerr := inference.Init(inference.RuntimeConfig{LibraryPath: cfg.Inference.Library, Provider: cfg.Inference.Provider,
		IntraOpThreads: cfg.Inference.Threads})
	if cfg.Captions.IsEnabled() {
		err := rerr
		if err == nil {
			caps, err = NewCaptions(cfg.Captions, reg, log)
		}
		if err != nil && !soft(cfg.Captions.Enabled, "captions", err) {
			return nil, nil, fmt.Errorf("captions enabled but not available: %w", err)
		}
	}
	if cfg.Thumbnails.IsEnabled() {
		err := rerr
		if err == nil {
			thumbs, err = NewThumbnails(cfg.Thumbnails, reg, log)
		}
		if err != nil && !soft(cfg.Thumbnails.Enabled, "thumbnails", err) {
			var cerr error
			if caps != nil {
				cerr = caps.Close()
			}
			return nil, nil, errors.Join(fmt.Errorf("thumbnails enabled but not available: %w", err), cerr)
		}
	}
	return caps, thumbs, nil
}
