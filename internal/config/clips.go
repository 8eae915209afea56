package config

import (
	"path/filepath"
	"time"
)

// Clips configures event clips (issue 16): each camera keeps its last seconds of coded video in a
// bounded buffer, and every event is recorded from a pre-roll before its start to a post-roll after
// its end, remuxed to MP4 without re-encoding and stored beside the event store, with retention by age
// and total size like the events'.
type Clips struct {
	// Enabled records a clip for every event. It defaults to true.
	Enabled *bool `yaml:"enabled" json:"enabled,omitempty"`
	// Dir is the folder of the clip files. It defaults to "clips" beside store.path.
	Dir string `yaml:"dir" json:"dir,omitempty"`
	// PreRoll is how much video before an event's start its clip holds (from the keyframe at or
	// before it), 100ms..30s. It defaults to 3s.
	PreRoll Duration `yaml:"pre_roll" json:"pre_roll,omitempty"`
	// PostRoll is how much video after an event's end its clip holds, 100ms..60s. It defaults to 2s.
	PostRoll Duration `yaml:"post_roll" json:"post_roll,omitempty"`
	// MaxDuration bounds one clip's length; a longer event's clip ends there, 1s..1h. It defaults to 2m.
	MaxDuration Duration `yaml:"max_duration" json:"max_duration,omitempty"`
	// MaxClipBytes bounds one clip's coded video, 64 KiB..4 GiB; a clip ends when it is reached. It
	// defaults to 64 MiB.
	MaxClipBytes int64 `yaml:"max_clip_bytes" json:"max_clip_bytes,omitempty"`
	// BufferBytes bounds each camera's buffer of recent coded video (the pre-roll and the time
	// inference takes to open an event), 64 KiB..256 MiB; the oldest GOPs go first. It defaults to
	// 8 MiB.
	BufferBytes int `yaml:"buffer_bytes" json:"buffer_bytes,omitempty"`
	// MaxAge deletes clips of events that started longer ago than this. It defaults to 168h (7 days);
	// 0 keeps clips until MaxBytes needs room.
	MaxAge *Duration `yaml:"max_age" json:"max_age,omitempty"`
	// MaxBytes bounds the clips' total size on disk, deleting the oldest first; at least 1 MiB. It
	// defaults to 10 GiB; 0 means no limit.
	MaxBytes *int64 `yaml:"max_bytes" json:"max_bytes,omitempty"`
}

// Clips defaults and bounds.
const (
	DefaultClipsPreRoll      = 3 * time.Second
	DefaultClipsPostRoll     = 2 * time.Second
	DefaultClipsMaxDuration  = 2 * time.Minute
	DefaultClipsMaxClipBytes = 64 << 20
	DefaultClipsBufferBytes  = 8 << 20
	DefaultClipsMaxAge       = 7 * 24 * time.Hour
	DefaultClipsMaxBytes     = 10 << 30
)

// IsEnabled reports whether clips are recorded (nil means yes).
func (c Clips) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// DirFor returns the clip folder: Dir, or "clips" beside the event store at storePath.
func (c Clips) DirFor(storePath string) string {
	if c.Dir != "" {
		return c.Dir
	}
	return filepath.Join(filepath.Dir(storePath), "clips")
}

// WithDefaults returns c with its unset fields set to the defaults.
func (c Clips) WithDefaults() Clips {
	c.applyDefaults()
	return c
}

func (c *Clips) applyDefaults() {
	if c.Enabled == nil {
		t := true
		c.Enabled = &t
	}
	if c.PreRoll == 0 {
		c.PreRoll = Duration(DefaultClipsPreRoll)
	}
	if c.PostRoll == 0 {
		c.PostRoll = Duration(DefaultClipsPostRoll)
	}
	if c.MaxDuration == 0 {
		c.MaxDuration = Duration(DefaultClipsMaxDuration)
	}
	if c.MaxClipBytes == 0 {
		c.MaxClipBytes = DefaultClipsMaxClipBytes
	}
	if c.BufferBytes == 0 {
		c.BufferBytes = DefaultClipsBufferBytes
	}
	if c.MaxAge == nil {
		d := Duration(DefaultClipsMaxAge)
		c.MaxAge = &d
	}
	if c.MaxBytes == nil {
		n := int64(DefaultClipsMaxBytes)
		c.MaxBytes = &n
	}
}

func (c Clips) validate(p *problems) {
	if d := c.PreRoll.D(); d < 100*time.Millisecond || d > 30*time.Second {
		p.bad("clips.pre_roll", "must be 100ms..30s, not %v", d)
	}
	if d := c.PostRoll.D(); d < 100*time.Millisecond || d > time.Minute {
		p.bad("clips.post_roll", "must be 100ms..60s, not %v", d)
	}
	if d := c.MaxDuration.D(); d < time.Second || d > time.Hour {
		p.bad("clips.max_duration", "must be 1s..1h, not %v", d)
	}
	if c.MaxClipBytes < 64<<10 || c.MaxClipBytes > 4<<30 {
		p.bad("clips.max_clip_bytes", "must be %d..%d (64 KiB..4 GiB), not %d", 64<<10, int64(4<<30), c.MaxClipBytes)
	}
	if c.BufferBytes < minPreGateBuffer || c.BufferBytes > maxPreGateBuffer {
		p.bad("clips.buffer_bytes", "must be %d..%d (64 KiB..256 MiB), not %d", minPreGateBuffer, maxPreGateBuffer, c.BufferBytes)
	}
	if c.MaxAge != nil && *c.MaxAge < 0 {
		p.bad("clips.max_age", "must not be negative")
	}
	if c.MaxBytes != nil && (*c.MaxBytes < 0 || (*c.MaxBytes > 0 && *c.MaxBytes < 1<<20)) {
		p.bad("clips.max_bytes", "must be 0 (no limit) or at least 1048576 (1 MiB), not %d", *c.MaxBytes)
	}
}
