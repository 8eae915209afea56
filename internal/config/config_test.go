package config

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const fullConfig = `# mvwatch config
listen:
  http: 127.0.0.1:9090
  rtsp: :8555
api_token: s3cr3t-token-value
model_dir: /opt/models
inference:
  provider: cpu
  max_batch: 16
  max_wait: 30ms
thresholds:
  min_score: 0.6
  labels:
    person: 0.8
gate:
  alpha: 0.1
  min_hold: 3s
store:
  path: /var/lib/mvwatch/events.db
  max_age: 48h
  max_events: 500
webhooks:
  - url: https://hooks.example.com/alert?key=hook-key-123
    secret: hmac-secret-456
    labels: [person]
cameras:
  - name: door
    url: rtsp://admin:hunter2pass@10.0.0.5:554/stream1
  - name: yard
    url: rtsp://10.0.0.6/live
    transport: udp
    enabled: false
    hwaccel: auto
    gate:
      on_factor: 5
`

func TestParseFull(t *testing.T) {
	cfg, err := Parse("config.yaml", []byte(fullConfig), Options{})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9090", cfg.Listen.HTTP)
	require.Equal(t, ":8555", cfg.Listen.RTSP)
	require.Equal(t, 16, cfg.Inference.MaxBatch)
	require.Equal(t, 30*time.Millisecond, cfg.Inference.MaxWait.D())
	require.Equal(t, 0.8, cfg.Thresholds.MinScoreFor("person"))
	require.Equal(t, 0.6, cfg.Thresholds.MinScoreFor("car"))
	require.Equal(t, 48*time.Hour, cfg.Store.MaxAge.D())
	require.Equal(t, 500, *cfg.Store.MaxEvents)
	require.Len(t, cfg.Webhooks, 1)
	require.Equal(t, "webhook0", cfg.Webhooks[0].Name)
	require.Equal(t, 5, *cfg.Webhooks[0].MaxRetries)
	require.Equal(t, 5*time.Second, cfg.Webhooks[0].Timeout.D())
	require.Len(t, cfg.Cameras, 2)

	door, yard := cfg.Cameras[0], cfg.Cameras[1]
	require.True(t, door.IsEnabled())
	require.Equal(t, "tcp", door.Transport)
	require.Equal(t, "none", door.HWAccel)
	// The top-level gate overrides the defaults; the camera inherits it.
	require.Equal(t, 0.1, door.Gate.Alpha)
	require.InDelta(t, 0.005, door.Gate.ActiveAlpha, 1e-12)
	require.Equal(t, 3*time.Second, door.Gate.MinHold.D())
	require.Equal(t, 3.0, door.Gate.OnFactor)
	require.False(t, yard.IsEnabled())
	require.Equal(t, "udp", yard.Transport)
	require.Equal(t, 5.0, yard.Gate.OnFactor)
	require.Equal(t, 0.1, yard.Gate.Alpha)
	require.True(t, yard.Gate.IsEnabled())
}

func TestParseEmptyGivesDefaults(t *testing.T) {
	for _, in := range []string{"", "# nothing\n", "---\n"} {
		cfg, err := Parse("c.yaml", []byte(in), Options{})
		require.NoError(t, err, "%q", in)
		require.Equal(t, Default(), cfg)
		require.Equal(t, "127.0.0.1:8080", cfg.Listen.HTTP, "no credential: loopback only")
		require.Equal(t, "127.0.0.1:8554", cfg.Listen.RTSP)
		require.Equal(t, "127.0.0.1:8000", cfg.Listen.RTSPUDP)
		require.Equal(t, DefaultStoreMaxAge, cfg.Store.MaxAge.D())
		require.Equal(t, DefaultMaxEvents, *cfg.Store.MaxEvents)
		require.Equal(t, "cpu", cfg.Inference.Provider)
		require.True(t, cfg.PreGate.IsEnabled())
		require.Equal(t, DefaultPreGate(), cfg.PreGate)
		require.Equal(t, 1, cfg.PreGate.KeyframeEvery)
		require.Equal(t, 12.0, cfg.PreGate.LumaShift)
		// Captions and thumbnails are on by default, softly (Enabled left nil), with the shipped models.
		require.True(t, cfg.Captions.IsEnabled())
		require.Nil(t, cfg.Captions.Enabled)
		require.Equal(t, "models/caption/target", cfg.Captions.TargetDir)
		require.True(t, cfg.Thumbnails.IsEnabled())
		require.Nil(t, cfg.Thumbnails.Enabled)
		require.Equal(t, "auto", cfg.Thumbnails.Steps)
		require.Equal(t, 1.0, cfg.Thumbnails.Guidance)
	}
}

// configErrorCases are invalid configs and the exact problem each must report; they seed the fuzzer.
var configErrorCases = []struct {
	name, in, want string
}{
	{"unknown top", "listen:\n  http: :1\nbogus: 1\n", `c.yaml:3: (top level): unknown field "bogus"`},
	{"unknown nested", "cameras:\n  - name: a\n    url: rtsp://h/x\n    colour: red\n", `c.yaml:4: cameras[0]: unknown field "colour"`},
	{"bad url line", "cameras:\n  - name: a\n    url: rtsp://h/x\n  - name: b\n    url: http://h/x\n", `c.yaml:5: cameras[1].url: scheme must be one of rtsp, rtsps, not "http"`},
	{"missing url", "cameras:\n  - name: a\n", `c.yaml:2: cameras[0].url: required`},
	{"missing host", "cameras:\n  - name: a\n    url: rtsp:///x\n", `c.yaml:3: cameras[0].url: missing host`},
	{"bad name", "cameras:\n  - name: a b\n    url: rtsp://h/x\n", `c.yaml:2: cameras[0].name: must be 1 to 64 of A-Z a-z 0-9 _ -, not "a b"`},
	{"dup name", "cameras:\n  - name: a\n    url: rtsp://h/x\n  - name: a\n    url: rtsp://h/y\n", `c.yaml:4: cameras[1].name: duplicate camera name "a" (also cameras[0])`},
	{"transport", "cameras:\n  - name: a\n    url: rtsp://h/x\n    transport: quic\n", `c.yaml:4: cameras[0].transport: must be tcp, udp or auto, not "quic"`},
	{"hwaccel", "cameras:\n  - name: a\n    url: rtsp://h/x\n    hwaccel: tpu\n", `c.yaml:4: cameras[0].hwaccel: must be none, auto, cuda, vaapi or qsv, not "tpu"`},
	{"type error", "inference:\n  max_batch: many\n", "c.yaml:2: inference.max_batch: cannot unmarshal !!str `many` into int"},
	{"bad duration", "gate:\n  min_hold: soon\n", `c.yaml:2: gate.min_hold: invalid duration "soon" (want e.g. "500ms", "2s", "24h")`},
	{"syntax", "listen:\n  http: [\n", "c.yaml:2: did not find expected node content"},
	{"not a mapping", "- a\n- b\n", "c.yaml:1: the config must be a mapping (key: value)"},
	{"two docs", "model_dir: a\n---\nmodel_dir: b\n", "c.yaml:2: only one YAML document is allowed"},
	{"addr", "listen:\n  http: 8080\n", `c.yaml:2: listen.http: want host:port such as ":8080", got "8080"`},
	{"score", "thresholds:\n  labels:\n    person: 1.5\n", "c.yaml:3: thresholds.labels.person: must be between 0 and 1, not 1.5"},
	{"hysteresis", "gate:\n  on_factor: 1.2\n", "c.yaml:2: gate.on_factor: must be at least off_factor (1.5), not 1.2"},
	{"camera gate", "cameras:\n  - name: a\n    url: rtsp://h/x\n    gate:\n      alpha: 2\n", "c.yaml:5: cameras[0].gate.alpha: must be in (0, 1], not 2"},
	{"camera gate inherited line", "gate:\n  alpha: 2\n", "c.yaml:2: gate.alpha: must be in (0, 1], not 2"},
	{"webhook", "webhooks:\n  - url: ftp://h/x\n", `c.yaml:2: webhooks[0].url: scheme must be one of http, https, not "ftp"`},
	{"retries", "webhooks:\n  - url: http://h/x\n    max_retries: -1\n", "c.yaml:3: webhooks[0].max_retries: must be 0..100"},
	{"provider", "inference:\n  provider: tpu\n", `c.yaml:2: inference.provider: must be cpu, cuda or openvino, not "tpu"`},
	{"store", "store:\n  max_events: -3\n", "c.yaml:2: store.max_events: must not be negative"},
	{"pregate buffer", "pregate:\n  buffer_bytes: 100\n", "c.yaml:2: pregate.buffer_bytes: must be 65536..268435456 (64 KiB..256 MiB), not 100"},
	{"pregate keyframe", "pregate:\n  keyframe_every: -2\n", "c.yaml:2: pregate.keyframe_every: must be 1..1000, or -1 for no keyframe check, not -2"},
	{"pregate idr", "pregate:\n  max_idr_interval: 100ms\n", "c.yaml:2: pregate.max_idr_interval: must be 1s..10m, not 100ms"},
	{"clips pre-roll", "clips:\n  pre_roll: 1m\n", "c.yaml:2: clips.pre_roll: must be 100ms..30s, not 1m0s"},
	{"clips max bytes", "clips:\n  max_bytes: 1000\n", "c.yaml:2: clips.max_bytes: must be 0 (no limit) or at least 1048576 (1 MiB), not 1000"},
	{"clips buffer", "clips:\n  buffer_bytes: 10\n", "c.yaml:2: clips.buffer_bytes: must be 65536..268435456 (64 KiB..256 MiB), not 10"},
	{"pregate field", "pregate:\n  sleepy: true\n", `c.yaml:2: pregate: unknown field "sleepy"`},
	{"decode width", "decode:\n  max_width: 100000\n", "c.yaml:2: decode.max_width: must be 16..16384, not 100000"},
	{"decode refs", "decode:\n  max_ref_frames: 99\n", "c.yaml:2: decode.max_ref_frames: must be 1..16, not 99"},
	{"decode pixels", "decode:\n  max_pixels: -1\n", "c.yaml:2: decode.max_pixels: must be 256..268435456, not -1"},
	{"decode au", "decode:\n  max_access_unit_bytes: 99999999\n", "c.yaml:2: decode.max_access_unit_bytes: must be 65536..8388608, not 99999999"},
	{"decode queue", "decode:\n  max_queue_bytes: 70000\n", "c.yaml:2: decode.max_queue_bytes: must be max_access_unit_bytes (4194304)..1073741824, not 70000"},
	{"decode fps", "decode:\n  max_fps: 5000\n", "c.yaml:2: decode.max_fps: must be 1..1000, not 5000"},
	{"decode margin", "decode:\n  fps_margin: 0.5\n", "c.yaml:2: decode.fps_margin: must be 1..100, not 0.5"},
	{"duplicate key", "model_dir: a\nmodel_dir: b\n", `c.yaml:2: mapping key "model_dir" already defined at line 1`},
	{"caption queue", "captions:\n  enabled: true\n  queue: -1\n", "c.yaml:3: captions.queue: must be 1..100000, not -1"},
	{"caption field", "captions:\n  draft: x\n", `c.yaml:2: captions: unknown field "draft"`},
	{"caption enabled type", "captions:\n  enabled: maybe\n", "c.yaml:2: captions.enabled: cannot unmarshal !!str `maybe` into bool"},
	{"thumbnail steps", "thumbnails:\n  model_dir: m\n  steps: lots\n", `c.yaml:3: thumbnails.steps: must be auto or a count 1..1000, not "lots"`},
	{"thumbnail steps range", "thumbnails:\n  steps: 0\n", `c.yaml:2: thumbnails.steps: must be auto or a count 1..1000, not "0"`},
	{"thumbnail scheduler", "thumbnails:\n  scheduler: warp9\n", `c.yaml:2: thumbnails.scheduler: must be one of ` + strings.Join(SchedulerNames, ", ") + `, not "warp9"`},
	{"thumbnail guidance", "thumbnails:\n  guidance: -1\n", "c.yaml:2: thumbnails.guidance: must be 0..50, not -1"},
	{"thumbnail queue", "thumbnails:\n  queue: 1000001\n", "c.yaml:2: thumbnails.queue: must be 1..100000, not 1000001"},
	{"scene", "cameras:\n  - name: a\n    url: rtsp://h/x\n    scene: moon\n", `c.yaml:4: cameras[0].scene: must be street, driveway, park, not "moon"`},
	{"zone length", "cameras:\n  - name: a\n    url: rtsp://h/x\n    zone: " + strings.Repeat("z", 65) + "\n", "c.yaml:4: cameras[0].zone: must be at most 64 bytes, not 65"},
	{"public url", "public_url: ftp://nvr\n", `c.yaml:1: public_url: scheme must be one of http, https, not "ftp"`},
	{"public url query", "public_url: https://nvr/?a=1\n", "c.yaml:1: public_url: must not have a query or fragment"},
	{"mqtt scheme", "mqtt:\n  url: http://broker:1883\n", `c.yaml:2: mqtt.url: scheme must be one of mqtt, tcp, mqtts, ssl, not "http"`},
	{"mqtt qos", "mqtt:\n  url: mqtt://b\n  qos: 3\n", "c.yaml:3: mqtt.qos: must be 0, 1 or 2"},
	{"mqtt off delay", "mqtt:\n  url: mqtt://b\n  off_delay: 2h\n", "c.yaml:3: mqtt.off_delay: must be 1s..1h, not 2h0m0s"},
	{"mqtt prefix", "mqtt:\n  url: mqtt://b\n  topic_prefix: 'a/#'\n", "c.yaml:3: mqtt.topic_prefix: must be 1 to 64 of A-Z a-z 0-9 _ -"},
	{"mqtt ca without tls", "mqtt:\n  url: mqtt://b\n  ca_file: /etc/ca.pem\n", "c.yaml:3: mqtt.ca_file: needs a TLS broker URL (mqtts:// or ssl://)"},
	{"mqtt cert without key", "mqtt:\n  url: mqtts://b\n  cert_file: /etc/c.pem\n", "c.yaml:3: mqtt.cert_file: cert_file and key_file go together"},
	{"zone pipe", "cameras:\n  - name: a\n    url: rtsp://h/x\n    zone: 'a | b'\n", "c.yaml:4: cameras[0].zone: must be UTF-8 text without '|' or control characters"},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range configErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.in), Options{})
			require.Error(t, err)
			require.ErrorIs(t, err, ErrInvalid)
			require.Contains(t, strings.Split(err.Error(), "\n"), tc.want, "all problems:\n%v", err)
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	in := "cameras:\n  - name: a\n    url: rtsp://h/x\n    transport: x\n  - name: b\n    url: ''\n"
	_, err := Parse("c.yaml", []byte(in), Options{})
	var ce *Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, []string{
		`c.yaml:4: cameras[0].transport: must be tcp, udp or auto, not "x"`,
		`c.yaml:6: cameras[1].url: required`,
	}, ce.Problems)
}

func TestParseEnvOverrides(t *testing.T) {
	env := map[string]string{
		"MVWATCH_HTTP_ADDR":  "127.0.0.1:18080",
		"MVWATCH_API_TOKEN":  "from-env",
		"MVWATCH_MODEL_DIR":  "/m",
		"MVWATCH_STORE_PATH": "/tmp/x.db",
		"MVWATCH_MIN_SCORE":  "0.25",
		"MVWATCH_ORT_LIB":    "/lib/ort.so",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := Parse("c.yaml", []byte(fullConfig), Options{LookupEnv: lookup})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:18080", cfg.Listen.HTTP)
	require.Equal(t, ":8555", cfg.Listen.RTSP) // not overridden
	require.Equal(t, "from-env", cfg.APIToken)
	require.Equal(t, "/m", cfg.ModelDir)
	require.Equal(t, "/tmp/x.db", cfg.Store.Path)
	require.Equal(t, 0.25, cfg.Thresholds.MinScore)
	require.Equal(t, "/lib/ort.so", cfg.Inference.Library)

	env = map[string]string{"MVWATCH_HTTP_ADDR": "nope", "MVWATCH_MIN_SCORE": "high"}
	_, err = Parse("c.yaml", []byte(fullConfig), Options{LookupEnv: lookup})
	require.ErrorIs(t, err, ErrInvalid)
	require.Contains(t, err.Error(), `env MVWATCH_HTTP_ADDR: listen.http: want host:port such as ":8080", got "nope"`)
	require.Contains(t, err.Error(), `env MVWATCH_MIN_SCORE: thresholds.min_score: not a number: "high"`)
	require.Contains(t, EnvOverrides(), "MVWATCH_API_TOKEN")
}

func TestConfigSecretsNeverRendered(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte(fullConfig), Options{})
	require.NoError(t, err)
	secrets := []string{"hunter2pass", "s3cr3t-token-value", "hook-key-123", "hmac-secret-456"}

	var logBuf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logBuf, nil))
	log.Info("loaded", "config", cfg, "camera", cfg.Cameras[0])
	log.Info("text", "config", cfg)
	rendered := cfg.String() + logBuf.String()
	for _, s := range secrets {
		require.NotContains(t, rendered, s)
	}
	require.Contains(t, rendered, "rtsp://admin:REDACTED@10.0.0.5:554/stream1")
	require.Contains(t, rendered, "https://hooks.example.com/alert?key=REDACTED")

	// The MQTT password, in its field or in the broker URL, is never rendered either.
	mq, err := Parse("m.yaml", []byte("mqtt:\n  url: mqtts://u:urlpw@broker:8883\n  password: fieldpw\n"), Options{})
	require.NoError(t, err)
	require.NotContains(t, mq.String(), "urlpw")
	require.NotContains(t, mq.String(), "fieldpw")
	require.Contains(t, mq.String(), "mqtts://u:REDACTED@broker:8883")

	// Redacted does not modify the original.
	require.Equal(t, "rtsp://admin:hunter2pass@10.0.0.5:554/stream1", cfg.Cameras[0].URL)
	require.Equal(t, "s3cr3t-token-value", cfg.APIToken)

	// Validation errors never echo a password.
	bad := "cameras:\n  - name: a\n    url: 'rtsp://u:topsecret@[::1'\n"
	_, err = Parse("c.yaml", []byte(bad), Options{})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "topsecret")
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mv.yaml")
	require.NoError(t, os.WriteFile(path, []byte("cameras:\n  - name: a\n    url: rtsp://h/x\n    oops: 1\n"), 0o600))
	_, err := Load(path, Options{})
	require.ErrorContains(t, err, `mv.yaml:4: cameras[0]: unknown field "oops"`)
	_, err = Load(filepath.Join(dir, "missing.yaml"), Options{})
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestCameraValidate(t *testing.T) {
	c := Camera{Name: "x", URL: "rtsp://h/x"}
	require.NoError(t, c.Validate(DefaultGate()))
	require.Equal(t, "tcp", c.Transport)
	require.Equal(t, 3.0, c.Gate.OnFactor)
	c = Camera{Name: "x"}
	err := c.Validate(DefaultGate())
	require.ErrorIs(t, err, ErrInvalid)
	require.EqualError(t, err, "url: required")
}

func TestDurationForms(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte("gate:\n  min_hold: 1.5\ninference:\n  max_wait: 5ms\n"), Options{})
	require.NoError(t, err)
	require.Equal(t, 1500*time.Millisecond, cfg.Gate.MinHold.D())
	var d Duration
	require.NoError(t, d.UnmarshalJSON([]byte(`"250ms"`)))
	require.Equal(t, 250*time.Millisecond, d.D())
	require.NoError(t, d.UnmarshalJSON([]byte(`2`)))
	require.Equal(t, 2*time.Second, d.D())
	require.Error(t, d.UnmarshalJSON([]byte(`"later"`)))
	require.Error(t, d.UnmarshalJSON([]byte(`{}`)))
	b, err := d.MarshalJSON()
	require.NoError(t, err)
	require.Equal(t, `"2s"`, string(b))
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(fullConfig))
	if example, err := os.ReadFile("testdata/mvwatch.example.yaml"); err == nil {
		f.Add(example)
	}
	for _, tc := range configErrorCases {
		f.Add([]byte(tc.in))
	}
	for _, tc := range checkCases {
		f.Add([]byte(tc.in))
	}
	for _, tc := range lockErrorCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("c.yaml", data, Options{})
		if err != nil {
			require.True(t, errors.Is(err, ErrInvalid) || strings.HasPrefix(err.Error(), "config:"), "unwrapped error: %v", err)
			for _, line := range strings.Split(err.Error(), "\n") {
				require.True(t, strings.HasPrefix(line, "c.yaml"), "problem without position: %q", line)
			}
			return
		}
		// A valid config renders without secrets, and the rendering parses back to the same config
		// apart from the redacted values.
		back, err := Parse("c.yaml", []byte(cfg.String()), Options{})
		require.NoError(t, err, "rendered:\n%s", cfg.String())
		if cfg.APIToken != "" {
			require.Equal(t, redactedMark, back.APIToken)
		}
		require.Equal(t, len(cfg.Cameras), len(back.Cameras))
		for i, c := range cfg.Cameras {
			require.True(t, ValidName(c.Name))
			require.Equal(t, c.Name, back.Cameras[i].Name)
			require.Equal(t, c.Gate, back.Cameras[i].Gate)
			require.Equal(t, redactURL(c.URL), back.Cameras[i].URL)
		}
		require.Equal(t, cfg.Listen, back.Listen)
	})
}

func TestExampleConfigParses(t *testing.T) {
	// Parsed without environment overrides: `make test` exports MVWATCH_ORT_LIB, which would override
	// inference.library.
	data, err := os.ReadFile("testdata/mvwatch.example.yaml")
	require.NoError(t, err)
	cfg, err := Parse("mvwatch.example.yaml", data, Options{})
	require.NoError(t, err)
	require.Len(t, cfg.Cameras, 2)
	require.Equal(t, 4.0, cfg.Cameras[1].Gate.OnFactor)
	require.Equal(t, 0.05, cfg.Cameras[1].Gate.Alpha)
	def := Default()
	require.Equal(t, def.Gate, cfg.Gate, "the example documents the gate defaults")
	require.Equal(t, def.Inference, cfg.Inference)
	require.Equal(t, def.Listen, cfg.Listen)
	require.Equal(t, *def.Store.MaxAge, *cfg.Store.MaxAge)
	require.Equal(t, *def.Store.MaxEvents, *cfg.Store.MaxEvents)
	require.Equal(t, def.Captions, cfg.Captions, "the example documents the caption defaults")
	require.Equal(t, def.Thumbnails, cfg.Thumbnails, "the example documents the thumbnail defaults")
	require.Equal(t, def.Decode, cfg.Decode, "the example documents the decode limits' defaults")
	require.Equal(t, "front door", cfg.Cameras[0].Zone)
	require.Equal(t, "driveway", cfg.Cameras[0].Scene)
	require.Len(t, cfg.Cameras[0].Zones, 2)
	require.Equal(t, 5*time.Second, cfg.Cameras[0].Zones[0].Dwell.D())
	require.Len(t, cfg.Cameras[0].MaskShapes(), 1)
}

func TestPreGateCanBeTurnedOff(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte("pregate:\n  enabled: false\n  keyframe_every: -1\n  hold: 0s\n"), Options{})
	require.NoError(t, err)
	require.False(t, cfg.PreGate.IsEnabled())
	require.Equal(t, -1, cfg.PreGate.KeyframeEvery)
}
