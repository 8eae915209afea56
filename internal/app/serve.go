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
	// Role is what this process runs. It defaults to RoleBoth: everything, with the in-process bus
	// unless the config's nats section names a server (nats.url) or starts one (nats.listen).
	// RoleWorker and RoleEvents need NATS.
	Role Role
}

// Serve is `mvwatch serve`: it loads the model and the enrichment stages that cfg (validated, model
// directories resolved) names, joins NATS when the role or the config asks for it, runs an App with
// opts.Role until ctx ends, then shuts it down gracefully (open events flushed and stored, or sent
// to the stream), then leaves NATS.
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
	role := opts.Role
	if role == "" {
		role = RoleBoth
	}
	if !role.worker() && !role.events() {
		return fmt.Errorf("unknown role %q (want both, worker or events)", role)
	}
	// One node without NATS configured: the in-process bus, no server and no port. Otherwise every
	// role goes through NATS (an embedded server with nats.listen, or nats.url).
	var node *natsNode
	if role != RoleBoth || cfg.NATS.Enabled() {
		if node, err = openNATS(ctx, cfg, role, reg, log); err != nil {
			return fmt.Errorf("nats: %w", err)
		}
		defer node.close() // after the App (deferred below, run first)
	}
	var captions *enrich.Captions
	var thumbnails *enrich.Thumbnails
	// The stages run where enrichment runs: the event service in one process; on NATS every node
	// with nats.enrich (default: the events node), taking jobs from the MVWATCH_ENRICH work queue.
	runsEnrichment := role.events()
	if node != nil {
		runsEnrichment = cfg.NATS.RunsEnrichment(role.events())
	}
	if runsEnrichment {
		if captions, thumbnails, err = enrich.Open(cfg, reg, log); err != nil {
			return err
		}
	}
	o := Options{
		Config: cfg, Role: role, Classifier: model, Features: model.Features, Registry: reg, WorkerMetrics: metrics, Logger: log,
		Captions: captions, Thumbnails: thumbnails, Labels: eventLabels(model.Labels(), nil), Version: buildinfo.Get().Version,
		LoadConfig: opts.LoadConfig,
	}
	if node != nil {
		o.Bus = node.bus
	}
	a, err := New(o)
	if err != nil {
		return err
	}
	if err := a.Start(); err != nil {
		return err
	}
	switch role {
	case RoleBoth:
		fmt.Fprintf(opts.Out, "mvwatch serving: API http://%s  live events http://%s/api/v1/events/live  metrics http://%s/metrics  restream rtsp://%s/<camera>\n",
			a.HTTPAddr(), a.HTTPAddr(), a.HTTPAddr(), a.RTSPAddr())
	case RoleEvents:
		fmt.Fprintf(opts.Out, "mvwatch serving (role events): API http://%s  live events http://%s/api/v1/events/live  metrics http://%s/metrics\n",
			a.HTTPAddr(), a.HTTPAddr(), a.HTTPAddr())
	default:
		wh, err := serveWorkerHTTP(cfg, reg, log)
		if err != nil {
			return errors.Join(err, a.Close())
		}
		defer wh.close()
		fmt.Fprintf(opts.Out, "mvwatch serving (role worker, node %s): metrics http://%s/metrics  restream rtsp://%s/<camera>\n",
			NodeName(cfg.NATS), wh.Addr(), a.RTSPAddr())
	}
	if node != nil && node.server != nil && node.server.ClientURL() != "" {
		fmt.Fprintf(opts.Out, "mvwatch NATS: %s\n", node.server.ClientURL())
	}
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
