// Package logging builds mvwatch's one logger: log/slog in the configured format (text or JSON) and
// level, behind a handler that passes every message and string or error attribute through
// internal/redact, so that a URL with a password or a secret query value never reaches a log line,
// whoever wrote the line. Install makes it the default, so the standard library's log package and
// libraries that use slog.Default share the format.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/redact"
)

// New returns a logger writing to w in cfg's format at cfg's level.
func New(cfg config.Log, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch strings.ToLower(cfg.Format) {
	case "", "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("log.format: must be text or json, not %q", cfg.Format)
	}
	return slog.New(Redacting(h)), nil
}

// Install makes l the process's default logger (slog.Default and the log package).
func Install(l *slog.Logger) { slog.SetDefault(l) }

// Redacting wraps h so that messages and attribute values are redacted (redact.Text) before h sees
// them.
func Redacting(h slog.Handler) slog.Handler { return redacting{h} }

type redacting struct{ next slog.Handler }

func (r redacting) Enabled(ctx context.Context, l slog.Level) bool { return r.next.Enabled(ctx, l) }

func (r redacting) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, redact.Text(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return r.next.Handle(ctx, out)
}

func (r redacting) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = redactAttr(a)
	}
	return redacting{r.next.WithAttrs(red)}
}

func (r redacting) WithGroup(name string) slog.Handler { return redacting{r.next.WithGroup(name)} }

// redactAttr redacts a's value: strings, errors, anything with a String method, and groups member by
// member; numbers, booleans, times and durations pass as they are.
func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, redact.Text(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, m := range g {
			red[i] = redactAttr(m)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, redact.Error(x))
		case fmt.Stringer:
			return slog.String(a.Key, redact.Text(x.String()))
		case []byte:
			return slog.String(a.Key, redact.Text(string(x)))
		default:
			return slog.String(a.Key, redact.Text(fmt.Sprint(x)))
		}
	default:
		return slog.Attr{Key: a.Key, Value: v}
	}
}
