package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/config"
)

const camURL = "rtsp://admin:hunter2@10.0.0.5:554/live?token=s3cret&ch=1"

// logEverything logs the camera URL every way a careless caller might.
func logEverything(l *slog.Logger) {
	bad := "rtsp://admin:hunter2@[::1/x?token=s3cret" // not a URL: its parse error quotes it
	_, perr := url.Parse(bad)                         //nolint:staticcheck // the invalid URL is the point: its error quotes it
	l.Info("connecting to "+camURL, "url", camURL, "err", fmt.Errorf("dial %s: %w", camURL, errors.New("refused")),
		"parse", perr, "raw", []byte(camURL), "n", 3)
	l.With("camera", camURL).WithGroup("g").Warn("grouped", slog.Group("inner", "u", camURL))
	log.Printf("std log: %s", camURL) // through the default logger once installed
}

func TestNoSecretInAnyFormat(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			l, err := New(config.Log{Format: format, Level: "info"}, &buf)
			require.NoError(t, err)
			prev := slog.Default()
			Install(l)
			t.Cleanup(func() { slog.SetDefault(prev) })
			logEverything(l)
			out := buf.String()
			require.NotContains(t, out, "hunter2")
			require.NotContains(t, out, "s3cret")
			require.Contains(t, out, "10.0.0.5:554", "the host stays readable")
			require.Contains(t, out, "std log")
			require.Contains(t, out, map[string]string{"text": "n=3", "json": `"n":3`}[format], "numbers pass as numbers")
			if format == "json" {
				lines := strings.Split(strings.TrimSpace(out), "\n")
				require.Len(t, lines, 3)
				for _, line := range lines {
					var m map[string]any
					require.NoError(t, json.Unmarshal([]byte(line), &m), "not JSON: %s", line)
					require.Contains(t, m, "msg")
					require.Contains(t, m, "level")
				}
			}
		})
	}
}

func TestLevelAndBadConfig(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(config.Log{Format: "text", Level: "warn"}, &buf)
	require.NoError(t, err)
	l.Info("quiet")
	l.Warn("loud")
	require.NotContains(t, buf.String(), "quiet")
	require.Contains(t, buf.String(), "loud")
	_, err = New(config.Log{Format: "xml", Level: "info"}, &buf)
	require.ErrorContains(t, err, "log.format")
	_, err = New(config.Log{Format: "text", Level: "chatty"}, &buf)
	require.ErrorContains(t, err, "log.level")
}
