package config

import (
	"errors"
	"strings"
	"time"
)

// ErrInvalid is wrapped by every error that Load and Parse return for a config that does not parse or
// does not validate.
var ErrInvalid = errors.New("invalid config")

// Config is the whole mvwatch configuration: one YAML file, then environment overrides, then flags.
// Every field documents its default; a field left out of the file takes it.
type Config struct {
	// Listen holds the listen addresses.
	Listen Listen `yaml:"listen" json:"listen"`
	// APIToken, when set, is a bearer token with the admin role (the form from before users existed:
	// prefer users, whose tokens are stored hashed). On the restream it is the password of any user
	// name. It defaults to empty. Env: MVWATCH_API_TOKEN. Never logged or rendered.
	APIToken string `yaml:"api_token" json:"api_token,omitempty"`
	// Users lists who may use the HTTP API and the restream, each with a role and a hashed token. With
	// neither users nor api_token, nothing authenticates and HTTP and RTSP listen on loopback only. It
	// defaults to none.
	Users []User `yaml:"users" json:"users,omitempty"`
	// HTTP holds the HTTP server's limits.
	HTTP HTTP `yaml:"http" json:"http"`
	// CameraPolicy limits the camera URLs the config and the API accept.
	CameraPolicy CameraPolicy `yaml:"camera_policy" json:"camera_policy"`
	// PublicURL is where operators and webhook receivers reach this mvwatch (https://nvr.example.com):
	// webhooks then carry absolute keyframe_ref and thumbnail_ref URLs. It defaults to empty (API
	// paths). http or https, no query.
	PublicURL string `yaml:"public_url" json:"public_url,omitempty"`
	// ModelDir is the folder holding the ONNX model and its manifest. It defaults to "models".
	// Env: MVWATCH_MODEL_DIR. Flag: -model.
	ModelDir string `yaml:"model_dir" json:"model_dir"`
	// Inference holds the ONNX Runtime and batching settings.
	Inference Inference `yaml:"inference" json:"inference"`
	// Thresholds holds the score thresholds that turn model outputs into events.
	Thresholds Thresholds `yaml:"thresholds" json:"thresholds"`
	// Gate is the motion gate used by every camera that does not override it.
	Gate Gate `yaml:"gate" json:"gate"`
	// PreGate is the pre-decode gate in front of every camera's decoder.
	PreGate PreGate `yaml:"pregate" json:"pregate"`
	// Store holds the embedded event store settings.
	Store Store `yaml:"store" json:"store"`
	// Clips records each event's coded video (pre-roll to post-roll) as an MP4 file.
	Clips Clips `yaml:"clips" json:"clips"`
	// Decode bounds what each camera may make the decoder allocate and do (decode limits).
	Decode Decode `yaml:"decode" json:"decode"`
	// Webhooks lists alerting endpoints that receive events as JSON POSTs. It defaults to none.
	Webhooks []Webhook `yaml:"webhooks" json:"webhooks,omitempty"`
	// Captions configures the event caption stage (speculative decoding, package llmgen).
	Captions Captions `yaml:"captions" json:"captions"`
	// Thumbnails configures the event thumbnail stage (adaptive-step diffusion, package diffusion).
	Thumbnails Thumbnails `yaml:"thumbnails" json:"thumbnails"`
	// Log sets the log format and level.
	Log Log `yaml:"log" json:"log"`
	// MQTT publishes events and camera state to an MQTT broker, with Home Assistant discovery. It
	// defaults to off.
	MQTT MQTT `yaml:"mqtt" json:"mqtt"`
	// NATS connects the nodes of a fleet (serve --role worker|events) through NATS JetStream. It
	// defaults to off: one process, in-process bus.
	NATS NATS `yaml:"nats" json:"nats"`
	// Cameras lists the RTSP cameras to watch. It defaults to none (the serve command then runs its
	// built-in test cameras).
	Cameras []Camera `yaml:"cameras" json:"cameras"`
}

// Defaults.
const (
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

// MaxQueue bounds every queue size in the config (captions.queue, thumbnails.queue).
const MaxQueue = 100000

// Default returns the configuration used when no file is given: defaults everywhere, no cameras.
func Default() *Config {
	c := &Config{}
	c.applyDefaults()
	c.Listen.applyDefaults(c.AuthConfigured())
	return c
}

func (c *Config) applyDefaults() {
	c.HTTP.applyDefaults()
	c.CameraPolicy.applyDefaults()
	setStr(&c.ModelDir, DefaultModelDir)
	c.Inference.applyDefaults()
	c.Thresholds.applyDefaults()
	c.Gate = c.Gate.WithDefaults(DefaultGate())
	c.PreGate.applyDefaults()
	c.Store.applyDefaults()
	c.Clips.applyDefaults()
	c.Decode.applyDefaults()
	c.Captions.applyDefaults()
	c.Thumbnails.applyDefaults()
	for i := range c.Users {
		c.Users[i].applyDefaults()
	}
	c.MQTT.applyDefaults()
	c.NATS.applyDefaults()
	c.Log.applyDefaults()
	for i := range c.Webhooks {
		c.Webhooks[i].applyDefaults(i)
	}
	for i := range c.Cameras {
		c.Cameras[i].applyDefaults(c.Gate)
	}
}

// validate checks every section; problems go to p with their field paths.
func (c *Config) validate(p *problems) {
	c.Listen.validate(p)
	if hasSpace(c.APIToken) {
		p.bad("api_token", "must not contain white space")
	}
	validateUsers(p, c.Users)
	c.HTTP.validate(p)
	c.CameraPolicy.validate(p)
	if c.PublicURL != "" {
		if err := checkURL(c.PublicURL, "http", "https"); err != nil {
			p.bad("public_url", "%v", err)
		} else if strings.ContainsAny(c.PublicURL, "?#") {
			p.bad("public_url", "must not have a query or fragment")
		}
	}
	if c.ModelDir == "" {
		p.bad("model_dir", "must not be empty")
	}
	c.Inference.validate(p)
	c.Thresholds.validate(p)
	p.addAll("gate", c.Gate.problems())
	c.PreGate.validate(p)
	c.Store.validate(p)
	c.Clips.validate(p)
	c.Decode.validate(p)
	c.Captions.validate(p)
	c.Thumbnails.validate(p)
	c.MQTT.validate(p)
	c.NATS.validate(p)
	c.Log.validate(p)
	validateWebhooks(p, c.Webhooks)
	validateCameras(p, c.Cameras, c.CameraPolicy)
}

// AuthConfigured reports whether any credential is configured (api_token or users): the HTTP API
// and the restream then require one.
func (c *Config) AuthConfigured() bool { return c.APIToken != "" || len(c.Users) > 0 }

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
