package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mvwatch/mvwatch/internal/api"
	"github.com/mvwatch/mvwatch/internal/buildinfo"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/enrich"
	"github.com/mvwatch/mvwatch/pipeline"
)

// ServeOptions configures Serve.
type ServeOptions struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Out receives the one line that says where the service listens. It defaults to io.Discard.
	Out io.Writer
	// Reload, when it receives, reloads the config with LoadConfig and applies it (App.Reload); the
	// command sends on SIGHUP. A config that does not load is reported and changes nothing.
	Reload <-chan os.Signal
	// LoadConfig loads the config again for Reload, as the command loaded it at start.
	LoadConfig func() (*config.Config, error)
}

// Serve is `mvwatch serve`: it loads the model and the enrichment stages that cfg (validated, model
// directories resolved) names, runs an App with every role until ctx ends, then shuts it down
// gracefully (open events flushed and stored).
func Serve(ctx context.Context, cfg *config.Config, opts ServeOptions) error {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	log := opts.Logger
	reg := prometheus.NewRegistry()
	if err := pipeline.RegisterRuntimeCollectors(reg); err != nil {
		return err
	}
	if err := reg.Register(buildinfo.Collector()); err != nil {
		return err
	}
	metrics, err := pipeline.NewMetrics(reg)
	if err != nil {
		return err
	}
	model, err := pipeline.LoadModel(cfg.ModelDir, pipeline.ModelOptions{Inference: cfg.Inference, Precision: cfg.Inference.Precision, Metrics: metrics})
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	defer model.Close()
	captions, thumbnails, err := enrich.Open(cfg, reg, log)
	if err != nil {
		return err
	}
	a, err := New(Options{
		Config: cfg, Classifier: model, Features: model.Features, Registry: reg, WorkerMetrics: metrics, Logger: log,
		Captions: captions, Thumbnails: thumbnails, Labels: eventLabels(model.Labels(), nil), Version: buildinfo.Get().Version,
		LoadConfig: opts.LoadConfig,
	})
	if err != nil {
		return err
	}
	if err := a.Start(); err != nil {
		return err
	}
	fmt.Fprintf(opts.Out, "mvwatch serving: API http://%s  live events http://%s/api/v1/events/live  metrics http://%s/metrics  restream rtsp://%s/<camera>\n",
		a.HTTPAddr(), a.HTTPAddr(), a.HTTPAddr(), a.RTSPAddr())
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-opts.Reload:
			reload(ctx, a, log)
		}
	}
	log.Info("shutting down: flushing events")
	if err := a.Close(); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// eventLabels returns the model's labels without the idle ones (default {"idle"}).
func eventLabels(labels, idle []string) []string {
	if len(idle) == 0 {
		idle = []string{"idle"}
	}
	var out []string
	for _, l := range labels {
		if !slices.Contains(idle, l) {
			out = append(out, l)
		}
	}
	return out
}

// reload loads the config file again and applies what changed, logging one report line.
func reload(ctx context.Context, a *App, log *slog.Logger) {
	d, err := a.ReloadFile(ctx)
	switch {
	case errors.Is(err, api.ErrReloadConfig):
		log.Error("reload: config not applied", "err", err)
	case err != nil:
		log.Error("reload: applied with errors", "changes", d.String(), "err", err)
	case len(d.Sections) > 0:
		log.Info("reload: cameras applied; other sections need a restart", "changes", d.String())
	default:
		log.Info("reload: applied", "changes", d.String())
	}
}
