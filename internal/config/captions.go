package config

import "strings"

// Captions configures the caption stage: each stored event is captioned in the background and the
// caption is added to the stored event.
type Captions struct {
	// Enabled turns captions on. It defaults to on: when left out, a missing or broken model only logs a
	// warning and the service runs without captions; when set to true, it is an error at start-up.
	Enabled *bool `yaml:"enabled" json:"enabled,omitempty"`
	// TargetDir is the target language model directory. It defaults to "models/caption/target".
	TargetDir string `yaml:"target_dir" json:"target_dir"`
	// DraftDir is the draft model directory, or "none" for plain decoding with the target alone.
	// It defaults to "models/caption/draft".
	DraftDir string `yaml:"draft_dir" json:"draft_dir"`
	// Queue bounds the events waiting for a caption, 1..MaxQueue; beyond it events are dropped (and
	// counted in mvwatch_caption_dropped_total), never waited for. It defaults to 64.
	Queue int `yaml:"queue" json:"queue"`
}

// IsEnabled reports whether captions are on (nil means on).
func (c Captions) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

func (c *Captions) applyDefaults() {
	setStr(&c.TargetDir, DefaultCaptionTargetDir)
	setStr(&c.DraftDir, DefaultCaptionDraftDir)
	if c.Queue == 0 {
		c.Queue = DefaultCaptionQueue
	}
}

func (c Captions) validate(p *problems) {
	if strings.TrimSpace(c.TargetDir) == "" {
		p.bad("captions.target_dir", "must not be empty")
	}
	if strings.TrimSpace(c.DraftDir) == "" {
		p.bad("captions.draft_dir", "must not be empty (use \"none\" for no draft model)")
	}
	p.checkQueue("captions.queue", c.Queue)
}
