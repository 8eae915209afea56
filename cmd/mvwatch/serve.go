package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/testcam"
	"github.com/mvwatch/mvwatch/pipeline"
)

// defaultModelDir is where the shipped MFCD-Net lives, relative to the repository or the binary's folder.
const defaultModelDir = "models/mfcd"

func runServe(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	configPath := fs.String("config", "", "YAML config file (default: built-in test cameras and the shipped model)")
	httpAddr := fs.String("http", "", "HTTP API address (overrides the config; default 127.0.0.1:8080, :8080 once users or api_token are set)")
	rtspAddr := fs.String("rtsp", "", "RTSP restream address (overrides the config; default 127.0.0.1:8554, :8554 once users or api_token are set)")
	modelFlag := fs.String("model", "", "model directory (overrides the config)")
	storePath := fs.String("store", "", "event store file (overrides the config)")
	precision := fs.String("precision", "", "model precision: fp32 or int8 (overrides the config; default fp32)")
	testCams := fs.Int("testcams", 1, "built-in test cameras to start when the config has no cameras")
	verbose := fs.Bool("v", false, "debug logging")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mvwatch serve [flags]\n\nWatches RTSP cameras, serves the HTTP API, live events, metrics and the RTSP restream.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	// Defaults, the file, MVWATCH_* and the flags, validated together.
	cfg, err := config.Load(*configPath, config.Options{LookupEnv: os.LookupEnv, Flags: config.Flags{
		HTTP: *httpAddr, RTSP: *rtspAddr, ModelDir: *modelFlag, StorePath: *storePath, Precision: *precision}})
	if err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch serve: %v\n", err)
		return 2
	}
	if cfg.ModelDir, err = resolveModelDir(cfg.ModelDir); err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch serve: %v\n", err)
		return 2
	}
	for _, d := range []*string{&cfg.Captions.TargetDir, &cfg.Captions.DraftDir, &cfg.Thumbnails.ModelDir, &cfg.Thumbnails.PredictorDir} {
		*d = modelDir(*d)
	}

	if len(cfg.Cameras) == 0 {
		for i := range *testCams {
			src, err := ingest.NewAnnexBSource(testcam.SceneClip(), ingest.AnnexBOptions{Loop: true, FrameRate: testcam.SceneFrameRate})
			if err != nil {
				fmt.Fprintf(os.Stderr, "mvwatch serve: test camera: %v\n", err)
				return 1
			}
			cam := testcam.New(testcam.Config{Address: "127.0.0.1:0", Path: fmt.Sprintf("/testcam%d", i), Source: src, Log: log})
			if err := cam.Start(); err != nil {
				fmt.Fprintf(os.Stderr, "mvwatch serve: test camera: %v\n", err)
				return 1
			}
			defer cam.Close()
			cfg.Cameras = append(cfg.Cameras, config.Camera{Name: fmt.Sprintf("testcam%d", i), URL: cam.URL()})
		}
		log.Info("no cameras configured: watching the built-in test camera(s) playing the scripted scene", "count", *testCams)
	}

	reg := prometheus.NewRegistry()
	if err := pipeline.RegisterRuntimeCollectors(reg); err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch serve: %v\n", err)
		return 1
	}
	metrics, err := pipeline.NewMetrics(reg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch serve: %v\n", err)
		return 1
	}
	model, err := pipeline.LoadModel(cfg.ModelDir, pipeline.ModelOptions{Inference: cfg.Inference, Precision: cfg.Inference.Precision, Metrics: metrics})
	if err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch serve: model: %v\n", err)
		return 1
	}
	defer model.Close()
	captions, thumbnails, err := pipeline.OpenStages(cfg, reg, log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch serve: %v\n", err)
		return 1
	}
	svc, err := pipeline.NewService(pipeline.ServiceOptions{
		Config: cfg, Classifier: model, Features: model.Features, Registry: reg, Metrics: metrics, Logger: log,
		Captions: captions, Thumbnails: thumbnails,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch serve: %v\n", err)
		return 1
	}
	if err := svc.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch serve: %v\n", err)
		return 1
	}
	fmt.Printf("mvwatch serving: API http://%s  live events http://%s/api/v1/events/live  metrics http://%s/metrics  restream rtsp://%s/<camera>\n",
		svc.HTTPAddr(), svc.HTTPAddr(), svc.HTTPAddr(), svc.RTSPAddr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("shutting down: flushing events")
	if err := svc.Close(); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	return 0
}

// resolveModelDir finds the model directory: dir when it holds a manifest, else its "mfcd"
// subfolder. Only the default directories (config.DefaultModelDir and defaultModelDir) also look for
// the shipped model next to the working directory and the binary; any other directory without a
// manifest is an error, never a silent fallback to the shipped model.
func resolveModelDir(dir string) (string, error) {
	candidates := []string{dir, filepath.Join(dir, "mfcd")}
	if filepath.Clean(dir) == config.DefaultModelDir || filepath.Clean(dir) == defaultModelDir {
		candidates = append(candidates, defaultModelDir)
		if exe, err := os.Executable(); err == nil {
			candidates = append(candidates, filepath.Join(filepath.Dir(exe), "..", defaultModelDir))
		}
	}
	for _, c := range candidates {
		if _, err := os.Stat(filepath.Join(c, "manifest.json")); err == nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("model directory %q: no manifest.json in it or in %s", dir, filepath.Join(dir, "mfcd"))
}
