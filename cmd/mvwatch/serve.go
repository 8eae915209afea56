package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/app"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/logging"
	"github.com/mvwatch/mvwatch/internal/testcam"
	"github.com/mvwatch/mvwatch/pipeline"
)

func runServe(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	configPath := fs.String("config", "", "YAML config file (default: built-in test cameras and the shipped model)")
	httpAddr := fs.String("http", "", "HTTP API address (overrides the config; default 127.0.0.1:8080, :8080 once users or api_token are set)")
	rtspAddr := fs.String("rtsp", "", "RTSP restream address (overrides the config; default 127.0.0.1:8554, :8554 once users or api_token are set)")
	modelFlag := fs.String("model", "", "model directory (overrides the config)")
	storePath := fs.String("store", "", "event store file (overrides the config)")
	precision := fs.String("precision", "", "model precision: fp32 or int8 (overrides the config; default fp32)")
	testCams := fs.Int("testcams", 1, "built-in test cameras to start when the config has no cameras")
	verbose := fs.Bool("v", false, "debug logging (log.level: debug)")
	role := fs.String("role", "both", "what this process runs: both (one node), worker (cameras only) or events (store, API, webhooks, enrichment); worker and events need NATS")
	natsURL := fs.String("nats-url", "", "NATS server URL(s), comma separated (overrides nats.url)")
	natsListen := fs.String("nats-listen", "", "start an embedded NATS server with JetStream listening on host:port (overrides nats.listen; default: none)")
	natsClusterListen := fs.String("nats-cluster-listen", "", "the embedded server's cluster route listener host:port (overrides nats.cluster_listen)")
	natsCluster := fs.String("nats-cluster", "", "comma-separated nats-route://host:port routes to the other embedded servers (overrides nats.routes)")
	node := fs.String("node", "", "this node's id in the fleet, unique (overrides nats.node; default: the host name)")
	var enrichFlag *bool
	fs.BoolFunc("enrich", "-enrich (or =true): run caption and thumbnail jobs from the NATS work queue on this node (a worker too); =false: leave them to other nodes (overrides nats.enrich; default: true on the events node)", func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		enrichFlag = &b
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mvwatch serve [flags]\n\nWatches RTSP cameras, serves the HTTP API, live events, metrics and the RTSP restream.\n"+
			"With --role worker or events, nodes share cameras and events through NATS JetStream (nats: section, -nats-* flags).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var routes []string
	if *natsCluster != "" {
		for _, r := range strings.Split(*natsCluster, ",") {
			if r = strings.TrimSpace(r); r != "" {
				routes = append(routes, r)
			}
		}
	}
	// Defaults, the file, MVWATCH_* and the flags, validated together (again on SIGHUP).
	load := func() (*config.Config, error) {
		cfg, err := config.Load(*configPath, config.Options{LookupEnv: os.LookupEnv, Flags: config.Flags{
			HTTP: *httpAddr, RTSP: *rtspAddr, ModelDir: *modelFlag, StorePath: *storePath, Precision: *precision,
			NATSURL: *natsURL, NATSListen: *natsListen, NATSClusterListen: *natsClusterListen, Node: *node, NATSRoutes: routes, Enrich: enrichFlag}})
		if err != nil {
			return nil, err
		}
		if *verbose {
			cfg.Log.Level = "debug"
		}
		if cfg.ModelDir, err = pipeline.ResolveModelDir(cfg.ModelDir); err != nil {
			return nil, err
		}
		for _, d := range []*string{&cfg.Captions.TargetDir, &cfg.Captions.DraftDir, &cfg.Thumbnails.ModelDir, &cfg.Thumbnails.PredictorDir} {
			*d = modelDir(*d)
		}
		return cfg, nil
	}
	cfg, err := load()
	if err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch serve: %v\n", err)
		return 2
	}
	log, err := logging.New(cfg.Log, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch serve: %v\n", err)
		return 2
	}
	logging.Install(log)

	if len(cfg.Cameras) == 0 && app.Role(*role) == app.RoleBoth {
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

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if *configPath == "" {
		load = nil // nothing to reload: the built-in test cameras
	}
	if err := app.Serve(ctx, cfg, app.ServeOptions{Logger: log, Out: os.Stdout, Reload: hup, LoadConfig: load, Role: app.Role(*role)}); err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch serve: %v\n", err)
		return 1
	}
	return 0
}
