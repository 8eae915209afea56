package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/mvwatch/mvwatch/diffusion"
)

// ErrInvalidConfig is wrapped by every error that LoadConfig and ParseConfig return for a config that
// does not parse or does not validate.
var ErrInvalidConfig = errors.New("invalid config")

// Config is the whole mvwatch configuration: one YAML file, then environment overrides.
// Every field documents its default; a field left out of the file takes it.
type Config struct {
	// Listen holds the listen addresses.
	Listen ListenConfig `yaml:"listen" json:"listen"`
	// APIToken, when set, is the bearer token every HTTP route except /healthz and /metrics requires.
	// It defaults to empty (no authentication). Env: MVWATCH_API_TOKEN. Never logged or rendered.
	APIToken string `yaml:"api_token" json:"api_token,omitempty"`
	// ModelDir is the folder holding the ONNX model and its manifest. It defaults to "models".
	// Env: MVWATCH_MODEL_DIR.
	ModelDir string `yaml:"model_dir" json:"model_dir"`
	// Inference holds the ONNX Runtime and batching settings.
	Inference InferenceConfig `yaml:"inference" json:"inference"`
	// Thresholds holds the score thresholds that turn model outputs into events.
	Thresholds Thresholds `yaml:"thresholds" json:"thresholds"`
	// Gate is the motion gate used by every camera that does not override it.
	Gate GateConfig `yaml:"gate" json:"gate"`
	// Store holds the embedded event store settings.
	Store StoreConfig `yaml:"store" json:"store"`
	// Webhooks lists alerting endpoints that receive events as JSON POSTs. It defaults to none.
	Webhooks []WebhookConfig `yaml:"webhooks" json:"webhooks,omitempty"`
	// Captions configures the event caption stage (speculative decoding, package llmgen).
	Captions CaptionsConfig `yaml:"captions" json:"captions"`
	// Thumbnails configures the event thumbnail stage (adaptive-step diffusion, package diffusion).
	Thumbnails ThumbnailsConfig `yaml:"thumbnails" json:"thumbnails"`
	// Cameras lists the RTSP cameras to watch. It defaults to none (the serve command then runs its
	// built-in test cameras).
	Cameras []CameraConfig `yaml:"cameras" json:"cameras"`
}

// CaptionsConfig configures the caption stage: each stored event is captioned in the background and the
// caption is added to the stored event.
type CaptionsConfig struct {
	// Enabled turns captions on. It defaults to on: when left out, a missing or broken model only logs a
	// warning and the service runs without captions; when set to true, it is an error at start-up.
	Enabled *bool `yaml:"enabled" json:"enabled,omitempty"`
	// TargetDir is the target language model directory. It defaults to "models/caption/target".
	TargetDir string `yaml:"target_dir" json:"target_dir"`
	// DraftDir is the draft model directory, or "none" for plain decoding with the target alone.
	// It defaults to "models/caption/draft".
	DraftDir string `yaml:"draft_dir" json:"draft_dir"`
	// Queue bounds the events waiting for a caption; beyond it events are dropped (and counted in
	// mvwatch_caption_dropped_total), never waited for. It defaults to 64.
	Queue int `yaml:"queue" json:"queue"`
}

// IsEnabled reports whether captions are on (nil means on).
func (c CaptionsConfig) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// ThumbnailsConfig configures the thumbnail stage: each stored event gets an illustrative PNG drawn by a
// diffusion model from its label and its camera's scene (never from the camera's pictures).
type ThumbnailsConfig struct {
	// Enabled turns thumbnails on. It defaults to on: when left out, a missing or broken model only logs
	// a warning and the service runs without thumbnails; when set to true, it is an error at start-up.
	Enabled *bool `yaml:"enabled" json:"enabled,omitempty"`
	// ModelDir is the diffusion model directory (Optimum Stable Diffusion layout). It defaults to
	// "models/thumbnail".
	ModelDir string `yaml:"model_dir" json:"model_dir"`
	// PredictorDir is the step predictor directory, read when Steps is "auto". It defaults to
	// "models/steppredictor".
	PredictorDir string `yaml:"predictor_dir" json:"predictor_dir"`
	// Steps is "auto" (the step predictor chooses per prompt) or a fixed count 1..1000. It defaults to
	// "auto".
	Steps string `yaml:"steps" json:"steps"`
	// Scheduler is the denoising scheduler (diffusion.SchedulerNames: ddim, euler, euler_a, heun, dpm2,
	// unipc, dpmpp_2m, ...; with Steps "auto" the step predictor needs a head for it: the shipped one has
	// ddim, euler, euler_a, heun, dpm2_karras and unipc). It defaults to "ddim".
	Scheduler string `yaml:"scheduler" json:"scheduler"`
	// Guidance is the classifier-free guidance scale; 1 turns guidance off, which suits the shipped
	// model. It defaults to 1.
	Guidance float64 `yaml:"guidance" json:"guidance"`
	// Queue bounds the events waiting for a thumbnail; beyond it they are dropped (and counted in
	// mvwatch_thumbnail_dropped_total). It defaults to 16.
	Queue int `yaml:"queue" json:"queue"`
}

// IsEnabled reports whether thumbnails are on (nil means on).
func (c ThumbnailsConfig) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// ListenConfig holds the addresses mvwatch listens on.
type ListenConfig struct {
	// HTTP is the HTTP API address. It defaults to ":8080". Env: MVWATCH_HTTP_ADDR.
	HTTP string `yaml:"http" json:"http"`
	// RTSP is the restream server address. It defaults to ":8554". Env: MVWATCH_RTSP_ADDR.
	RTSP string `yaml:"rtsp" json:"rtsp"`
}

// InferenceConfig holds the ONNX Runtime and cross-stream batching settings.
type InferenceConfig struct {
	// Library is the path of libonnxruntime.so. It defaults to empty (found automatically).
	// Env: MVWATCH_ORT_LIB.
	Library string `yaml:"library" json:"library,omitempty"`
	// Provider is the execution provider: "cpu", "cuda" or "openvino". It defaults to "cpu".
	// Env: MVWATCH_PROVIDER.
	Provider string `yaml:"provider" json:"provider"`
	// Threads is the intra-op thread count. It defaults to 0 (sized to the machine).
	Threads int `yaml:"threads" json:"threads"`
	// MaxBatch is the largest cross-camera batch. It defaults to 8.
	MaxBatch int `yaml:"max_batch" json:"max_batch"`
	// MaxWait is how long a partial batch waits for more clips. It defaults to 20ms.
	MaxWait Duration `yaml:"max_wait" json:"max_wait"`
}

// Thresholds turns model outputs into events.
type Thresholds struct {
	// MinScore is the lowest score that becomes an event. It defaults to 0.5. Env: MVWATCH_MIN_SCORE.
	MinScore float64 `yaml:"min_score" json:"min_score"`
	// Labels overrides MinScore per label (e.g. {person: 0.7}). It defaults to none.
	Labels map[string]float64 `yaml:"labels" json:"labels,omitempty"`
}

// MinScoreFor returns the score threshold for label.
func (t Thresholds) MinScoreFor(label string) float64 {
	if v, ok := t.Labels[label]; ok {
		return v
	}
	return t.MinScore
}

// GateConfig tunes the motion gate (see Gate). In a camera's gate section a zero field means
// "inherit the top-level gate".
type GateConfig struct {
	// Enabled turns the gate on; when off every clip goes to inference. It defaults to true.
	Enabled *bool `yaml:"enabled" json:"enabled,omitempty"`
	// Alpha is the weight of a new idle frame in the noise-floor moving average. It defaults to 0.05.
	Alpha float64 `yaml:"alpha" json:"alpha,omitempty"`
	// ActiveAlpha is the (slower) weight used while the gate is open, so a lasting change of scene
	// (rain, a light switched on) becomes the new floor. It defaults to Alpha/20.
	ActiveAlpha float64 `yaml:"active_alpha" json:"active_alpha,omitempty"`
	// OnFactor opens the gate when a frame's energy exceeds OnFactor x floor. It defaults to 3.
	OnFactor float64 `yaml:"on_factor" json:"on_factor,omitempty"`
	// OffFactor lets the gate close once energy falls below OffFactor x floor (hysteresis); it must not
	// exceed OnFactor. It defaults to 1.5.
	OffFactor float64 `yaml:"off_factor" json:"off_factor,omitempty"`
	// MinFloor is the smallest noise floor, so a perfectly still scene does not open on noise.
	// It defaults to 0.05.
	MinFloor float64 `yaml:"min_floor" json:"min_floor,omitempty"`
	// ResidualWeight weighs residual energy against MV energy. It defaults to 1.
	ResidualWeight float64 `yaml:"residual_weight" json:"residual_weight,omitempty"`
	// MinHold keeps the gate open at least this long after the last energetic frame. It defaults to 2s.
	MinHold Duration `yaml:"min_hold" json:"min_hold,omitempty"`
}

// IsEnabled reports whether the gate is on (nil means on).
func (g GateConfig) IsEnabled() bool { return g.Enabled == nil || *g.Enabled }

// StoreConfig configures the embedded event store.
type StoreConfig struct {
	// Path is the bbolt database file. It defaults to "mvwatch.db". Env: MVWATCH_STORE_PATH.
	Path string `yaml:"path" json:"path"`
	// MaxAge drops events older than this. It defaults to 720h (30 days); 0 keeps events forever.
	MaxAge *Duration `yaml:"max_age" json:"max_age,omitempty"`
	// MaxEvents keeps at most this many events, dropping the oldest. It defaults to 100000;
	// 0 means no limit.
	MaxEvents *int `yaml:"max_events" json:"max_events,omitempty"`
}

// WebhookConfig is one alerting endpoint.
type WebhookConfig struct {
	// Name labels the webhook's metrics. It defaults to "webhook<N>" (N its index).
	Name string `yaml:"name" json:"name"`
	// URL receives a JSON POST per event; http or https. Required. Its user info and query are secret.
	URL string `yaml:"url" json:"url"`
	// Secret, when set, signs each body: header X-Mvwatch-Signature: sha256=<hex HMAC>. Never logged.
	Secret string `yaml:"secret" json:"secret,omitempty"`
	// Labels limits the webhook to these labels. It defaults to all labels.
	Labels []string `yaml:"labels" json:"labels,omitempty"`
	// MinScore limits the webhook to events scoring at least this. It defaults to 0.
	MinScore float64 `yaml:"min_score" json:"min_score,omitempty"`
	// Timeout bounds one POST. It defaults to 5s.
	Timeout Duration `yaml:"timeout" json:"timeout,omitempty"`
	// MaxRetries is how many times a failed POST is retried. It defaults to 5.
	MaxRetries *int `yaml:"max_retries" json:"max_retries,omitempty"`
}

// CameraConfig is one camera.
type CameraConfig struct {
	// Name identifies the camera in the API, metrics and the restream path: 1 to 64 of [A-Za-z0-9_-].
	// Required.
	Name string `yaml:"name" json:"name"`
	// URL is the source: rtsp:// or rtsps:// (or file:// for recordings). Required. A password in it
	// is never logged or rendered.
	URL string `yaml:"url" json:"url"`
	// Transport is the RTSP transport: "tcp", "udp" or "auto". It defaults to "tcp".
	Transport string `yaml:"transport" json:"transport,omitempty"`
	// Enabled starts the camera. It defaults to true.
	Enabled *bool `yaml:"enabled" json:"enabled,omitempty"`
	// HWAccel picks the decoder: "none", "auto", "cuda", "vaapi" or "qsv". It defaults to "none".
	// Hardware paths fall back to software when the device is missing.
	HWAccel string `yaml:"hwaccel" json:"hwaccel,omitempty"`
	// Gate overrides fields of the top-level gate for this camera.
	Gate GateConfig `yaml:"gate" json:"gate"`
	// Zone names the place the camera watches ("loading bay"); captions mention it. Free text of at
	// most MaxZoneBytes bytes without '|' or control characters. It defaults to empty (no place named).
	Zone string `yaml:"zone" json:"zone,omitempty"`
	// Scene is what thumbnails draw behind the event: "street", "driveway" or "park". It defaults to
	// empty, which draws a street.
	Scene string `yaml:"scene" json:"scene,omitempty"`
}

// MaxZoneBytes bounds a camera's zone text.
const MaxZoneBytes = 64

// Scenes lists the camera scenes the thumbnail model draws.
var Scenes = []string{"street", "driveway", "park"}

// IsEnabled reports whether the camera should run (nil means yes).
func (c CameraConfig) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// Defaults.
const (
	DefaultHTTPAddr    = ":8080"
	DefaultRTSPAddr    = ":8554"
	DefaultModelDir    = "models"
	DefaultStorePath   = "mvwatch.db"
	DefaultStoreMaxAge = 30 * 24 * time.Hour
	DefaultMaxEvents   = 100000

	DefaultCaptionTargetDir   = "models/caption/target"
	DefaultCaptionDraftDir    = "models/caption/draft"
	DefaultCaptionQueue       = 64
	DefaultThumbnailModelDir  = "models/thumbnail"
	DefaultThumbnailPredictor = "models/steppredictor"
	DefaultThumbnailSteps     = "auto"
	DefaultThumbnailScheduler = "ddim"
	DefaultThumbnailGuidance  = 1.0
	DefaultThumbnailQueue     = 16
)

// DefaultConfig returns the configuration used when no file is given: defaults everywhere, no cameras.
func DefaultConfig() *Config {
	c := &Config{}
	c.applyDefaults()
	return c
}

func (c *Config) applyDefaults() {
	setStr(&c.Listen.HTTP, DefaultHTTPAddr)
	setStr(&c.Listen.RTSP, DefaultRTSPAddr)
	setStr(&c.ModelDir, DefaultModelDir)
	setStr(&c.Inference.Provider, "cpu")
	if c.Inference.MaxBatch == 0 {
		c.Inference.MaxBatch = 8
	}
	if c.Inference.MaxWait == 0 {
		c.Inference.MaxWait = Duration(20 * time.Millisecond)
	}
	if c.Thresholds.MinScore == 0 {
		c.Thresholds.MinScore = 0.5
	}
	c.Gate = c.Gate.withDefaults(DefaultGateConfig())
	setStr(&c.Store.Path, DefaultStorePath)
	if c.Store.MaxAge == nil {
		d := Duration(DefaultStoreMaxAge)
		c.Store.MaxAge = &d
	}
	if c.Store.MaxEvents == nil {
		n := DefaultMaxEvents
		c.Store.MaxEvents = &n
	}
	setStr(&c.Captions.TargetDir, DefaultCaptionTargetDir)
	setStr(&c.Captions.DraftDir, DefaultCaptionDraftDir)
	if c.Captions.Queue == 0 {
		c.Captions.Queue = DefaultCaptionQueue
	}
	setStr(&c.Thumbnails.ModelDir, DefaultThumbnailModelDir)
	setStr(&c.Thumbnails.PredictorDir, DefaultThumbnailPredictor)
	setStr(&c.Thumbnails.Steps, DefaultThumbnailSteps)
	setStr(&c.Thumbnails.Scheduler, DefaultThumbnailScheduler)
	setF(&c.Thumbnails.Guidance, DefaultThumbnailGuidance)
	if c.Thumbnails.Queue == 0 {
		c.Thumbnails.Queue = DefaultThumbnailQueue
	}
	for i := range c.Webhooks {
		w := &c.Webhooks[i]
		setStr(&w.Name, "webhook"+strconv.Itoa(i))
		if w.Timeout == 0 {
			w.Timeout = Duration(5 * time.Second)
		}
		if w.MaxRetries == nil {
			n := 5
			w.MaxRetries = &n
		}
	}
	for i := range c.Cameras {
		c.Cameras[i].applyDefaults(c.Gate)
	}
}

func (c *CameraConfig) applyDefaults(gate GateConfig) {
	setStr(&c.Transport, "tcp")
	setStr(&c.HWAccel, "none")
	if c.Enabled == nil {
		t := true
		c.Enabled = &t
	}
	c.Gate = c.Gate.withDefaults(gate)
}

// DefaultGateConfig returns the gate defaults.
func DefaultGateConfig() GateConfig {
	t := true
	return GateConfig{Enabled: &t, Alpha: 0.05, ActiveAlpha: 0.05 / 20, OnFactor: 3, OffFactor: 1.5,
		MinFloor: 0.05, ResidualWeight: 1, MinHold: Duration(2 * time.Second)}
}

// withDefaults fills g's zero fields from base.
func (g GateConfig) withDefaults(base GateConfig) GateConfig {
	if g.Enabled == nil && base.Enabled != nil {
		v := *base.Enabled
		g.Enabled = &v
	}
	ownAlpha := g.Alpha != 0
	setF(&g.Alpha, base.Alpha)
	if g.ActiveAlpha == 0 {
		g.ActiveAlpha = base.ActiveAlpha
		if ownAlpha || g.ActiveAlpha == 0 {
			g.ActiveAlpha = g.Alpha / 20
		}
	}
	setF(&g.OnFactor, base.OnFactor)
	setF(&g.OffFactor, base.OffFactor)
	setF(&g.MinFloor, base.MinFloor)
	setF(&g.ResidualWeight, base.ResidualWeight)
	if g.MinHold == 0 {
		g.MinHold = base.MinHold
	}
	return g
}

func setStr(p *string, def string) {
	if *p == "" {
		*p = def
	}
}

func setF(p *float64, def float64) {
	if *p == 0 {
		*p = def
	}
}

// LoadConfig reads the YAML file at path, applies defaults and the MVWATCH_* environment overrides
// and validates the result. Errors name the file and line: "config.yaml:12: cameras[1].url: ...".
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseConfig(filepath.Base(path), data, os.LookupEnv)
}

// ParseConfig parses data (named name in errors), applies defaults, then the environment overrides
// read through lookupEnv (os.LookupEnv in production; nil means none), and validates.
// Unknown fields are errors. The returned error wraps ErrInvalidConfig and lists every problem found.
func ParseConfig(name string, data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	p := &configParser{name: name, pos: map[string]string{}}
	cfg, err := p.parse(data)
	if err != nil {
		return nil, err
	}
	if lookupEnv != nil {
		p.applyEnv(cfg, lookupEnv)
	}
	p.validate(cfg)
	if err := p.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// ConfigError lists the problems found in a config, one "file:line: path: message" per line.
type ConfigError struct {
	Problems []string
}

// Error lists the problems, one per line.
func (e *ConfigError) Error() string { return strings.Join(e.Problems, "\n") }

// Unwrap returns ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

type configParser struct {
	name     string
	pos      map[string]string // field path -> "file:line" or "env NAME"
	problems []string
}

func (p *configParser) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	return &ConfigError{Problems: p.problems}
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// addYAML turns a yaml.v3 message ("line 3: ...") into "file:3: ...".
func (p *configParser) addYAML(msg string) {
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		p.problems = append(p.problems, fmt.Sprintf("%s:%s: %s", p.name, m[1], m[2]))
		return
	}
	p.problems = append(p.problems, fmt.Sprintf("%s: %s", p.name, strings.TrimPrefix(msg, "yaml: ")))
}

func (p *configParser) parse(data []byte) (*Config, error) {
	cfg := &Config{}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		p.addYAML(err.Error())
		return nil, p.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.problems = append(p.problems, fmt.Sprintf("%s:%d: only one YAML document is allowed", p.name, extra.Line))
		return nil, p.err()
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			cfg.applyDefaults()
			return cfg, nil
		}
		if root.Kind != yaml.MappingNode {
			p.problems = append(p.problems, fmt.Sprintf("%s:%d: the config must be a mapping (key: value)", p.name, root.Line))
			return nil, p.err()
		}
		p.walk(root, reflect.TypeOf(Config{}), "")
		if err := root.Decode(cfg); err != nil {
			var te *yaml.TypeError
			if errors.As(err, &te) {
				for _, e := range te.Errors {
					p.addYAML(e)
				}
			} else {
				p.addYAML(err.Error())
			}
		}
		if len(p.problems) > 0 {
			return nil, p.err()
		}
	}
	cfg.applyDefaults()
	return cfg, nil
}

var durationPtrType = reflect.TypeOf(Duration(0))

// walk records the position of every field path and reports unknown fields.
func (p *configParser) walk(n *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == durationPtrType || n.Kind != yaml.MappingNode {
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Value == "<<" {
				continue // merge key: yaml.v3 resolves it
			}
			sub := joinPath(path, k.Value)
			p.pos[sub] = p.at(k.Line)
			ft, ok := fields[k.Value]
			if !ok {
				p.problems = append(p.problems, fmt.Sprintf("%s:%d: %s: unknown field %q", p.name, k.Line, orRoot(path), k.Value))
				continue
			}
			p.walk(v, ft, sub)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, item := range n.Content {
			sub := fmt.Sprintf("%s[%d]", path, i)
			p.pos[sub] = p.at(item.Line)
			p.walk(item, t.Elem(), sub)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			sub := joinPath(path, n.Content[i].Value)
			p.pos[sub] = p.at(n.Content[i].Line)
			p.walk(n.Content[i+1], t.Elem(), sub)
		}
	}
}

func orRoot(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (p *configParser) at(line int) string { return fmt.Sprintf("%s:%d", p.name, line) }

func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "-" {
			continue
		}
		if tag == "" {
			tag = strings.ToLower(f.Name)
		}
		m[tag] = f.Type
	}
	return m
}

// envOverrides lists the environment variables that override config fields.
var envOverrides = []struct {
	name, path string
	set        func(c *Config, v string) error
}{
	{"MVWATCH_HTTP_ADDR", "listen.http", func(c *Config, v string) error { c.Listen.HTTP = v; return nil }},
	{"MVWATCH_RTSP_ADDR", "listen.rtsp", func(c *Config, v string) error { c.Listen.RTSP = v; return nil }},
	{"MVWATCH_API_TOKEN", "api_token", func(c *Config, v string) error { c.APIToken = v; return nil }},
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

func (p *configParser) applyEnv(c *Config, lookupEnv func(string) (string, bool)) {
	for _, e := range envOverrides {
		v, ok := lookupEnv(e.name)
		if !ok || v == "" {
			continue
		}
		p.pos[e.path] = "env " + e.name
		if err := e.set(c, v); err != nil {
			p.problems = append(p.problems, fmt.Sprintf("env %s: %s: %v", e.name, e.path, err))
		}
	}
}

// where returns the position of path, falling back to its closest recorded parent.
func (p *configParser) where(path string) string {
	for q := path; q != ""; {
		if s, ok := p.pos[q]; ok {
			return s
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			break
		}
		q = q[:i]
	}
	return p.name
}

func (p *configParser) bad(path, format string, args ...any) {
	p.problems = append(p.problems, fmt.Sprintf("%s: %s: %s", p.where(path), path, fmt.Sprintf(format, args...)))
}

var cameraNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (p *configParser) validate(c *Config) {
	p.checkAddr("listen.http", c.Listen.HTTP)
	p.checkAddr("listen.rtsp", c.Listen.RTSP)
	if strings.ContainsAny(c.APIToken, " \t\r\n") {
		p.bad("api_token", "must not contain white space")
	}
	if c.ModelDir == "" {
		p.bad("model_dir", "must not be empty")
	}
	switch c.Inference.Provider {
	case "cpu", "cuda", "openvino":
	default:
		p.bad("inference.provider", "must be cpu, cuda or openvino, not %q", c.Inference.Provider)
	}
	if c.Inference.Threads < 0 {
		p.bad("inference.threads", "must not be negative")
	}
	if c.Inference.MaxBatch < 1 || c.Inference.MaxBatch > 1024 {
		p.bad("inference.max_batch", "must be 1..1024, not %d", c.Inference.MaxBatch)
	}
	if c.Inference.MaxWait < 0 {
		p.bad("inference.max_wait", "must not be negative")
	}
	p.checkScore("thresholds.min_score", c.Thresholds.MinScore)
	labels := make([]string, 0, len(c.Thresholds.Labels))
	for l := range c.Thresholds.Labels {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		p.checkScore("thresholds.labels."+l, c.Thresholds.Labels[l])
	}
	p.checkGate("gate", c.Gate)
	if c.Store.Path == "" {
		p.bad("store.path", "must not be empty")
	}
	if c.Store.MaxAge != nil && *c.Store.MaxAge < 0 {
		p.bad("store.max_age", "must not be negative")
	}
	if c.Store.MaxEvents != nil && *c.Store.MaxEvents < 0 {
		p.bad("store.max_events", "must not be negative")
	}
	p.checkCaptions(c.Captions)
	p.checkThumbnails(c.Thumbnails)
	hooks := map[string]bool{}
	for i, w := range c.Webhooks {
		path := fmt.Sprintf("webhooks[%d]", i)
		if hooks[w.Name] {
			p.bad(path+".name", "duplicate webhook name %q", w.Name)
		}
		hooks[w.Name] = true
		if !cameraNameRE.MatchString(w.Name) {
			p.bad(path+".name", "must be 1 to 64 of A-Z a-z 0-9 _ -")
		}
		p.checkURL(path+".url", w.URL, "http", "https")
		p.checkScore(path+".min_score", w.MinScore)
		if w.Timeout <= 0 {
			p.bad(path+".timeout", "must be positive")
		}
		if w.MaxRetries != nil && (*w.MaxRetries < 0 || *w.MaxRetries > 100) {
			p.bad(path+".max_retries", "must be 0..100")
		}
	}
	names := map[string]int{}
	for i, cam := range c.Cameras {
		path := fmt.Sprintf("cameras[%d]", i)
		for _, prob := range cam.problems() {
			p.bad(path+"."+prob.field, "%s", prob.msg)
		}
		if j, dup := names[cam.Name]; dup && cam.Name != "" {
			p.bad(path+".name", "duplicate camera name %q (also cameras[%d])", cam.Name, j)
		}
		names[cam.Name] = i
	}
}

func (p *configParser) checkCaptions(c CaptionsConfig) {
	if strings.TrimSpace(c.TargetDir) == "" {
		p.bad("captions.target_dir", "must not be empty")
	}
	if strings.TrimSpace(c.DraftDir) == "" {
		p.bad("captions.draft_dir", "must not be empty (use \"none\" for no draft model)")
	}
	if c.Queue < 1 || c.Queue > 100000 {
		p.bad("captions.queue", "must be 1..100000, not %d", c.Queue)
	}
}

func (p *configParser) checkThumbnails(c ThumbnailsConfig) {
	if strings.TrimSpace(c.ModelDir) == "" {
		p.bad("thumbnails.model_dir", "must not be empty")
	}
	auto := strings.EqualFold(c.Steps, "auto")
	if !auto {
		if n, err := strconv.Atoi(c.Steps); err != nil || n < 1 || n > 1000 {
			p.bad("thumbnails.steps", "must be auto or a count 1..1000, not %q", c.Steps)
		}
	}
	if auto && strings.TrimSpace(c.PredictorDir) == "" {
		p.bad("thumbnails.predictor_dir", "must not be empty when steps is auto")
	}
	if _, err := diffusion.NewScheduler(c.Scheduler, nil); errors.Is(err, diffusion.ErrUnknownScheduler) {
		p.bad("thumbnails.scheduler", "must be one of %s, not %q", strings.Join(diffusion.SchedulerNames(), ", "), c.Scheduler)
	}
	if !(c.Guidance >= 0 && c.Guidance <= 50) {
		p.bad("thumbnails.guidance", "must be 0..50, not %g", c.Guidance)
	}
	if c.Queue < 1 || c.Queue > 100000 {
		p.bad("thumbnails.queue", "must be 1..100000, not %d", c.Queue)
	}
}

func (p *configParser) checkAddr(path, addr string) {
	if err := checkListenAddr(addr); err != nil {
		p.bad(path, "%v", err)
	}
}

func checkListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port such as \":8080\", got %q", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

func (p *configParser) checkScore(path string, v float64) {
	if !(v >= 0 && v <= 1) {
		p.bad(path, "must be between 0 and 1, not %g", v)
	}
}

func (p *configParser) checkGate(path string, g GateConfig) {
	for _, prob := range g.problems() {
		p.bad(path+"."+prob.field, "%s", prob.msg)
	}
}

func (p *configParser) checkURL(path, raw string, schemes ...string) {
	if err := checkURL(raw, schemes...); err != nil {
		p.bad(path, "%v", err)
	}
}

type fieldProblem struct{ field, msg string }

func (g GateConfig) problems() []fieldProblem {
	var out []fieldProblem
	add := func(f, format string, a ...any) { out = append(out, fieldProblem{f, fmt.Sprintf(format, a...)}) }
	if !(g.Alpha > 0 && g.Alpha <= 1) {
		add("alpha", "must be in (0, 1], not %g", g.Alpha)
	}
	if !(g.ActiveAlpha >= 0 && g.ActiveAlpha <= 1) {
		add("active_alpha", "must be in [0, 1], not %g", g.ActiveAlpha)
	}
	if !(g.OffFactor >= 1) {
		add("off_factor", "must be at least 1, not %g", g.OffFactor)
	}
	if !(g.OnFactor >= g.OffFactor) {
		add("on_factor", "must be at least off_factor (%g), not %g", g.OffFactor, g.OnFactor)
	}
	if !(g.MinFloor >= 0) || g.MinFloor > 1e12 {
		add("min_floor", "must be a non-negative number, not %g", g.MinFloor)
	}
	if !(g.ResidualWeight >= 0) || g.ResidualWeight > 1e6 {
		add("residual_weight", "must be a non-negative number, not %g", g.ResidualWeight)
	}
	if g.MinHold < 0 {
		add("min_hold", "must not be negative")
	}
	return out
}

// problems validates a camera whose defaults have been applied. Field names are YAML keys.
func (c CameraConfig) problems() []fieldProblem {
	var out []fieldProblem
	add := func(f, format string, a ...any) { out = append(out, fieldProblem{f, fmt.Sprintf(format, a...)}) }
	if c.Name == "" {
		add("name", "required")
	} else if !cameraNameRE.MatchString(c.Name) {
		add("name", "must be 1 to 64 of A-Z a-z 0-9 _ -, not %q", c.Name)
	}
	if err := checkURL(c.URL, "rtsp", "rtsps", "file"); err != nil {
		add("url", "%v", err)
	}
	switch c.Transport {
	case "tcp", "udp", "auto":
	default:
		add("transport", "must be tcp, udp or auto, not %q", c.Transport)
	}
	switch c.HWAccel {
	case "none", "auto", "cuda", "vaapi", "qsv":
	default:
		add("hwaccel", "must be none, auto, cuda, vaapi or qsv, not %q", c.HWAccel)
	}
	if len(c.Zone) > MaxZoneBytes {
		add("zone", "must be at most %d bytes, not %d", MaxZoneBytes, len(c.Zone))
	}
	if strings.ContainsFunc(c.Zone, func(r rune) bool { return r == '|' || unicode.IsControl(r) }) || !utf8.ValidString(c.Zone) {
		add("zone", "must be UTF-8 text without '|' or control characters")
	}
	if c.Scene != "" && !slices.Contains(Scenes, c.Scene) {
		add("scene", "must be %s, not %q", strings.Join(Scenes, ", "), c.Scene)
	}
	for _, p := range c.Gate.problems() {
		out = append(out, fieldProblem{"gate." + p.field, p.msg})
	}
	return out
}

// Validate applies the camera defaults (inheriting gate settings from gate) and checks c, as the
// config file does; the API uses it for cameras added at run time. Errors wrap ErrInvalidConfig.
func (c *CameraConfig) Validate(gate GateConfig) error {
	c.applyDefaults(gate)
	probs := c.problems()
	if len(probs) == 0 {
		return nil
	}
	e := &ConfigError{}
	for _, p := range probs {
		e.Problems = append(e.Problems, p.field+": "+p.msg)
	}
	return e
}

func checkURL(raw string, schemes ...string) error {
	if raw == "" {
		return errors.New("required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse errors quote the URL, which may hold a password.
		return errors.New("not a valid URL")
	}
	ok := false
	for _, s := range schemes {
		ok = ok || strings.EqualFold(u.Scheme, s)
	}
	if !ok {
		return fmt.Errorf("scheme must be one of %s, not %q", strings.Join(schemes, ", "), u.Scheme)
	}
	if !strings.EqualFold(u.Scheme, "file") && u.Host == "" {
		return errors.New("missing host")
	}
	if strings.EqualFold(u.Scheme, "file") && u.Path == "" {
		return errors.New("missing path")
	}
	return nil
}
