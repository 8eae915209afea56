package config

import (
	"slices"
	"strings"
)

// Log configures mvwatch's one log format.
type Log struct {
	// Format is "text" (logfmt-style key=value lines) or "json" (one JSON object per line). It
	// defaults to "text". Env: MVWATCH_LOG_FORMAT.
	Format string `yaml:"format" json:"format"`
	// Level is the lowest level logged: debug, info, warn or error. It defaults to "info".
	// Env: MVWATCH_LOG_LEVEL.
	Level string `yaml:"level" json:"level"`
}

// Log formats and levels.
var (
	LogFormats = []string{"text", "json"}
	LogLevels  = []string{"debug", "info", "warn", "error"}
)

func (l *Log) applyDefaults() {
	setStr(&l.Format, "text")
	setStr(&l.Level, "info")
}

func (l Log) validate(p *problems) {
	if !slices.Contains(LogFormats, l.Format) {
		p.bad("log.format", "must be %s, not %q", strings.Join(LogFormats, " or "), l.Format)
	}
	if !slices.Contains(LogLevels, l.Level) {
		p.bad("log.level", "must be one of %s, not %q", strings.Join(LogLevels, ", "), l.Level)
	}
}
