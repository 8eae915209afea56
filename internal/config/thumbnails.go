package config

import (
	"slices"
	"strconv"
	"strings"
)

// Thumbnails configures the thumbnail stage: each stored event gets an illustrative PNG drawn by a
// diffusion model from its label and its camera's scene (never from the camera's pictures).
type Thumbnails struct {
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
	// Scheduler is the denoising scheduler (SchedulerNames: ddim, euler, euler_a, heun, dpm2, unipc,
	// dpmpp_2m, ...; with Steps "auto" the step predictor needs a head for it: the shipped one has
	// ddim, euler, euler_a, heun, dpm2_karras and unipc). It defaults to "ddim".
	Scheduler string `yaml:"scheduler" json:"scheduler"`
	// Guidance is the classifier-free guidance scale, 0..50; 1 turns guidance off, which suits the
	// shipped model. It defaults to 1.
	Guidance float64 `yaml:"guidance" json:"guidance"`
	// Queue bounds the events waiting for a thumbnail, 1..MaxQueue; beyond it they are dropped (and
	// counted in mvwatch_thumbnail_dropped_total). It defaults to 16.
	Queue int `yaml:"queue" json:"queue"`
}

// SchedulerNames lists, sorted, the scheduler names thumbnails.scheduler accepts. It is the list of
// diffusion.SchedulerNames, kept here so that config does not link the diffusion runtime; a test in
// package diffusion fails when the two disagree.
var SchedulerNames = []string{
	"ddim", "dpm2", "dpm2_karras", "dpmpp_2m", "dpmpp_2m_karras", "euler", "euler_a", "euler_ancestral",
	"euler_karras", "heun", "pndm", "unipc",
}

// SchedulerClassNames lists the diffusers class names thumbnails.scheduler accepts as well, each with
// the scheduler name it stands for (as diffusion.NewScheduler does).
var SchedulerClassNames = map[string]string{
	"DDIMScheduler":                   "ddim",
	"EulerDiscreteScheduler":          "euler",
	"EulerAncestralDiscreteScheduler": "euler_a",
	"HeunDiscreteScheduler":           "heun",
	"KDPM2DiscreteScheduler":          "dpm2",
	"UniPCMultistepScheduler":         "unipc",
	"DPMSolverMultistepScheduler":     "dpmpp_2m",
	"PNDMScheduler":                   "pndm",
}

// KnownScheduler reports whether diffusion.NewScheduler accepts name: a scheduler name (any case,
// '-' for '_', surrounding space ignored) or a diffusers class name.
func KnownScheduler(name string) bool {
	key := strings.ToLower(strings.TrimSpace(name))
	if c, ok := SchedulerClassNames[strings.TrimSpace(name)]; ok {
		key = c
	}
	key = strings.ReplaceAll(key, "-", "_")
	_, found := slices.BinarySearch(SchedulerNames, key)
	return found
}

// IsEnabled reports whether thumbnails are on (nil means on).
func (c Thumbnails) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

func (c *Thumbnails) applyDefaults() {
	setStr(&c.ModelDir, DefaultThumbnailModelDir)
	setStr(&c.PredictorDir, DefaultThumbnailPredictor)
	setStr(&c.Steps, DefaultThumbnailSteps)
	setStr(&c.Scheduler, DefaultThumbnailScheduler)
	setF(&c.Guidance, DefaultThumbnailGuidance)
	if c.Queue == 0 {
		c.Queue = DefaultThumbnailQueue
	}
}

func (c Thumbnails) validate(p *problems) {
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
	if !KnownScheduler(c.Scheduler) {
		p.bad("thumbnails.scheduler", "must be one of %s, not %q", strings.Join(SchedulerNames, ", "), c.Scheduler)
	}
	if !(c.Guidance >= 0 && c.Guidance <= 50) {
		p.bad("thumbnails.guidance", "must be 0..50, not %g", c.Guidance)
	}
	p.checkQueue("thumbnails.queue", c.Queue)
}
