package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Options are what Load and Parse read besides the file.
type Options struct {
	// LookupEnv reads the MVWATCH_* environment overrides (EnvOverrides): os.LookupEnv in production,
	// nil for none.
	LookupEnv func(string) (string, bool)
	// Flags are the command-line overrides, applied after the environment.
	Flags Flags
}

// Flags are command-line values that override the config. An empty field was not given. They are
// validated with the rest of the config, each problem naming its flag.
type Flags struct {
	// HTTP overrides listen.http (flag -http).
	HTTP string
	// RTSP overrides listen.rtsp (flag -rtsp).
	RTSP string
	// ModelDir overrides model_dir (flag -model).
	ModelDir string
	// StorePath overrides store.path (flag -store).
	StorePath string
	// Precision overrides inference.precision (flag -precision).
	Precision string
	// NATSURL, NATSListen, NATSClusterListen and Node override nats.url, nats.listen,
	// nats.cluster_listen and nats.node (flags -nats-url, -nats-listen, -nats-cluster-listen,
	// -node); NATSRoutes, when not nil, nats.routes (flag -nats-cluster).
	NATSURL, NATSListen, NATSClusterListen, Node string
	NATSRoutes                                   []string
	// Enrich, when not nil, overrides nats.enrich (flag -enrich).
	Enrich *bool
}

// Load reads the YAML file at path ("" for none: the defaults), then applies defaults, the
// environment overrides and the flags, and validates the result. Errors name the file and line, the
// variable or the flag, and the field: "config.yaml:12: cameras[1].url: ...". A missing file is an
// error wrapping os.ErrNotExist.
func Load(path string, opts Options) (*Config, error) {
	if path == "" {
		return Parse("defaults", nil, opts)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(filepath.Base(path), data, opts)
}

// Parse parses data (named name in errors): defaults, then the YAML document, then the environment
// overrides and flags of opts, then validation. Unknown fields are errors. The returned error is an
// *Error wrapping ErrInvalid that lists every problem found.
func Parse(name string, data []byte, opts Options) (*Config, error) {
	p := &problems{name: name, pos: map[string]string{}, typed: map[string]bool{}}
	cfg, ok := decode(p, data)
	if !ok {
		return nil, p.err()
	}
	cfg.applyDefaults()
	if opts.LookupEnv != nil {
		applyEnv(p, cfg, opts.LookupEnv)
	}
	applyFlags(p, cfg, opts.Flags)
	cfg.Listen.applyDefaults(cfg.AuthConfigured())
	cfg.validate(p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// envOverrides lists the environment variables that override config fields.
var envOverrides = []struct {
	name, path string
	set        func(c *Config, v string) error
}{
	{"MVWATCH_HTTP_ADDR", "listen.http", func(c *Config, v string) error { c.Listen.HTTP = v; return nil }},
	{"MVWATCH_RTSP_ADDR", "listen.rtsp", func(c *Config, v string) error { c.Listen.RTSP = v; return nil }},
	{"MVWATCH_API_TOKEN", "api_token", func(c *Config, v string) error { c.APIToken = v; return nil }},
	{"MVWATCH_MQTT_PASSWORD", "mqtt.password", func(c *Config, v string) error { c.MQTT.Password = v; return nil }},
	{"MVWATCH_NATS_URL", "nats.url", func(c *Config, v string) error { c.NATS.URL = v; return nil }},
	{"MVWATCH_NATS_USER", "nats.user", func(c *Config, v string) error { c.NATS.User = v; return nil }},
	{"MVWATCH_NATS_PASSWORD", "nats.password", func(c *Config, v string) error { c.NATS.Password = v; return nil }},
	{"MVWATCH_NATS_TOKEN", "nats.token", func(c *Config, v string) error { c.NATS.Token = v; return nil }},
	{"MVWATCH_NATS_NKEY_SEED", "nats.nkey_seed", func(c *Config, v string) error { c.NATS.NKeySeed = v; return nil }},
	{"MVWATCH_NODE", "nats.node", func(c *Config, v string) error { c.NATS.Node = v; return nil }},
	{"MVWATCH_LOG_FORMAT", "log.format", func(c *Config, v string) error { c.Log.Format = v; return nil }},
	{"MVWATCH_LOG_LEVEL", "log.level", func(c *Config, v string) error { c.Log.Level = v; return nil }},
	{"MVWATCH_MODEL_DIR", "model_dir", func(c *Config, v string) error { c.ModelDir = v; return nil }},
	{"MVWATCH_STORE_PATH", "store.path", func(c *Config, v string) error { c.Store.Path = v; return nil }},
	{"MVWATCH_ORT_LIB", "inference.library", func(c *Config, v string) error { c.Inference.Library = v; return nil }},
	{"MVWATCH_PROVIDER", "inference.provider", func(c *Config, v string) error { c.Inference.Provider = v; return nil }},
	{"MVWATCH_MIN_SCORE", "thresholds.min_score", func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("not a number: %q", v)
		}
		c.Thresholds.MinScore = f
		return nil
	}},
}

// EnvOverrides returns the names of the environment variables that override config fields.
func EnvOverrides() []string {
	names := make([]string, len(envOverrides))
	for i, e := range envOverrides {
		names[i] = e.name
	}
	return names
}

func applyEnv(p *problems, c *Config, lookupEnv func(string) (string, bool)) {
	for _, e := range envOverrides {
		v, ok := lookupEnv(e.name)
		if !ok || v == "" {
			continue
		}
		p.pos[e.path] = "env " + e.name
		delete(p.typed, e.path)
		if err := e.set(c, v); err != nil {
			p.add("env "+e.name, e.path, err.Error())
			p.typed[e.path] = true
		}
	}
}

func applyFlags(p *problems, c *Config, f Flags) {
	for _, o := range []struct {
		flag, path, val string
		dst             *string
	}{
		{"-http", "listen.http", f.HTTP, &c.Listen.HTTP},
		{"-rtsp", "listen.rtsp", f.RTSP, &c.Listen.RTSP},
		{"-model", "model_dir", f.ModelDir, &c.ModelDir},
		{"-store", "store.path", f.StorePath, &c.Store.Path},
		{"-precision", "inference.precision", f.Precision, &c.Inference.Precision},
		{"-nats-url", "nats.url", f.NATSURL, &c.NATS.URL},
		{"-nats-listen", "nats.listen", f.NATSListen, &c.NATS.Listen},
		{"-nats-cluster-listen", "nats.cluster_listen", f.NATSClusterListen, &c.NATS.ClusterListen},
		{"-node", "nats.node", f.Node, &c.NATS.Node},
	} {
		if o.val == "" {
			continue
		}
		*o.dst = o.val
		p.pos[o.path] = "flag " + o.flag
		delete(p.typed, o.path)
	}
	if f.NATSRoutes != nil {
		c.NATS.Routes = f.NATSRoutes
		p.pos["nats.routes"] = "flag -nats-cluster"
	}
	if f.Enrich != nil {
		v := *f.Enrich
		c.NATS.Enrich = &v
		p.pos["nats.enrich"] = "flag -enrich"
		delete(p.typed, "nats.enrich")
	}
}
