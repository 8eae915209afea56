package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// checkCases are the range, scheme, text and type-path checks: an invalid config and every problem it
// must report, exactly and in order. They seed FuzzParse too.
var checkCases = []struct {
	name, in string
	want     []string
}{
	{"threads absurd", "inference:\n  threads: 99999999999\n",
		[]string{"c.yaml:2: inference.threads: must be 0..256 (0: sized to the machine), not 99999999999"}},
	{"threads over", "inference:\n  threads: 257\n",
		[]string{"c.yaml:2: inference.threads: must be 0..256 (0: sized to the machine), not 257"}},
	{"threads negative", "inference:\n  threads: -1\n", []string{"c.yaml:2: inference.threads: must not be negative"}},
	{"precision", "inference:\n  precision: fp16\n", []string{`c.yaml:2: inference.precision: must be fp32 or int8, not "fp16"`}},
	{"max_wait negative", "inference:\n  max_wait: -1s\n", []string{"c.yaml:2: inference.max_wait: must not be negative"}},
	{"max_wait long", "inference:\n  max_wait: 1h\n", []string{"c.yaml:2: inference.max_wait: must be at most 10s, not 1h0m0s"}},
	{"listen port over", "listen:\n  http: :70000\n", []string{`c.yaml:2: listen.http: bad port "70000"`}},
	{"listen port sign", "listen:\n  rtsp: ':+80'\n", []string{`c.yaml:2: listen.rtsp: bad port "+80"`}},
	{"listen port name", "listen:\n  rtsp: ':rtsp'\n", []string{`c.yaml:2: listen.rtsp: bad port "rtsp"`}},
	{"listen two colons", "listen:\n  http: 'a:b:80'\n", []string{`c.yaml:2: listen.http: want host:port such as ":8080", got "a:b:80"`}},
	{"camera port 0", "cameras:\n  - name: a\n    url: rtsp://h:0/x\n", []string{`c.yaml:3: cameras[0].url: bad port "0": must be 1..65535`}},
	{"camera port over", "cameras:\n  - name: a\n    url: rtsp://h:65536/x\n", []string{`c.yaml:3: cameras[0].url: bad port "65536": must be 1..65535`}},
	{"camera port empty", "cameras:\n  - name: a\n    url: 'rtsp://h:/x'\n", []string{`c.yaml:3: cameras[0].url: bad port "": must be 1..65535`}},
	{"camera file", "cameras:\n  - name: a\n    url: file:///clips/a.mp4\n", []string{`c.yaml:3: cameras[0].url: scheme must be one of rtsp, rtsps, not "file" (serve reads cameras only; analyze a recording with mvwatch analyze)`}},
	{"camera url bidi", "cameras:\n  - name: a\n    url: \"rtsp://h/x\\u202E\"\n", []string{"c.yaml:3: cameras[0].url: must not contain control characters"}},
	{"zone bidi override", "cameras:\n  - name: a\n    url: rtsp://h/x\n    zone: \"front \\u202Edoor\"\n", []string{"c.yaml:4: cameras[0].zone: must be UTF-8 text without '|' or control characters"}},
	{"zone bidi isolate", "cameras:\n  - name: a\n    url: rtsp://h/x\n    zone: \"front \\u2067door\"\n", []string{"c.yaml:4: cameras[0].zone: must be UTF-8 text without '|' or control characters"}},
	{"zone rtl mark", "cameras:\n  - name: a\n    url: rtsp://h/x\n    zone: \"front\\u200Fdoor\"\n", []string{"c.yaml:4: cameras[0].zone: must be UTF-8 text without '|' or control characters"}},
	{"zone tab", "cameras:\n  - name: a\n    url: rtsp://h/x\n    zone: \"front\\tdoor\"\n", []string{"c.yaml:4: cameras[0].zone: must be UTF-8 text without '|' or control characters"}},
	{"webhook port", "webhooks:\n  - url: https://h:99999/x\n", []string{`c.yaml:2: webhooks[0].url: bad port "99999": must be 1..65535`}},
	{"webhook timeout negative", "webhooks:\n  - url: https://h/x\n    timeout: -5s\n", []string{"c.yaml:3: webhooks[0].timeout: must be positive"}},
	{"webhook timeout long", "webhooks:\n  - url: https://h/x\n    timeout: 1h\n", []string{"c.yaml:3: webhooks[0].timeout: must be at most 10m0s, not 1h0m0s"}},
	{"webhook label bidi", "webhooks:\n  - url: https://h/x\n    labels: [\"per\\u2066son\"]\n", []string{"c.yaml:3: webhooks[0].labels[0]: must not contain control characters"}},
	{"label bidi", "thresholds:\n  labels:\n    \"pe\\u200Frson\": 0.5\n", []string{`c.yaml:3: thresholds.labels: label "pe\u200frson": must not contain control characters`}},
	{"min_hold negative", "gate:\n  min_hold: -1s\n", []string{"c.yaml:2: gate.min_hold: must not be negative"}},
	{"min_hold long", "gate:\n  min_hold: 2h\n", []string{"c.yaml:2: gate.min_hold: must be at most 1h0m0s, not 2h0m0s"}},
	{"camera min_hold negative", "cameras:\n  - name: a\n    url: rtsp://h/x\n    gate:\n      min_hold: -2s\n", []string{"c.yaml:5: cameras[0].gate.min_hold: must not be negative"}},
	{"max_age negative", "store:\n  max_age: -1h\n", []string{"c.yaml:2: store.max_age: must not be negative"}},
	{"caption queue over", "captions:\n  queue: 100001\n", []string{"c.yaml:2: captions.queue: must be 1..100000, not 100001"}},
	{"type error path and semantic errors together", "inference:\n  max_batch: many\n  threads: 100000\ncameras:\n  - name: a b\n    url: file:///x\n", []string{
		"c.yaml:2: inference.max_batch: cannot unmarshal !!str `many` into int",
		"c.yaml:3: inference.threads: must be 0..256 (0: sized to the machine), not 100000",
		`c.yaml:5: cameras[0].name: must be 1 to 64 of A-Z a-z 0-9 _ -, not "a b"`,
		`c.yaml:6: cameras[0].url: scheme must be one of rtsp, rtsps, not "file" (serve reads cameras only; analyze a recording with mvwatch analyze)`,
	}},
	{"type error of a list", "cameras: 5\n", []string{"c.yaml:1: cameras: cannot unmarshal !!int `5` into []config.Camera"}},
	{"type error of an item", "cameras:\n  - 5\n", []string{"c.yaml:2: cameras[0]: cannot unmarshal !!int `5` into config.Camera"}},
	{"type error hides only its own field", "cameras:\n  - name: [a]\n    url: rtsp://h/x\n", []string{"c.yaml:2: cameras[0].name: cannot unmarshal !!seq into string"}},
	{"type error of a section", "listen: [a]\n", []string{"c.yaml:1: listen: cannot unmarshal !!seq into config.Listen"}},
	{"type error of a map value", "thresholds:\n  labels:\n    person: high\n", []string{"c.yaml:3: thresholds.labels.person: cannot unmarshal !!str `high` into float64"}},
	{"type error long value", "inference:\n  max_batch: averyveryverylongvalue\n", []string{"c.yaml:2: inference.max_batch: cannot unmarshal !!str `averyve...` into int"}},
	{"flow mapping", "gate: {alpha: x, bogus: 1}\n", []string{
		"c.yaml:1: gate.alpha: cannot unmarshal !!str `x` into float64",
		`c.yaml:1: gate: unknown field "bogus"`,
	}},
	{"unknown fields everywhere", "bogus: 1\nstore:\n  paht: x\nwebhooks:\n  - url: https://h/x\n    secrett: s\n", []string{
		`c.yaml:1: (top level): unknown field "bogus"`,
		`c.yaml:3: store: unknown field "paht"`,
		`c.yaml:6: webhooks[0]: unknown field "secrett"`,
	}},
}

func TestParseChecks(t *testing.T) {
	for _, tc := range checkCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.in), Options{})
			require.ErrorIs(t, err, ErrInvalid)
			var ce *Error
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tc.want, ce.Problems)
		})
	}
}

func TestParseAcceptsBounds(t *testing.T) {
	for _, in := range []string{
		"inference:\n  threads: 256\n  max_wait: 10s\n",
		"listen:\n  http: 127.0.0.1:0\n  rtsp: '[::1]:65535'\n",
		"cameras:\n  - name: a\n    url: rtsps://u:p@h:65535/x?token=t\n    zone: \"Café — entrée\"\n",
		"cameras:\n  - name: a\n    url: rtsp://[fd00::1]:554/x\n",
		"webhooks:\n  - url: http://h:1/x\n    timeout: 10m\n",
		"gate:\n  min_hold: 1h\n",
		"store:\n  max_age: 0s\n",
		"captions:\n  queue: 100000\nthumbnails:\n  queue: 1\n",
		"inference:\n  precision: int8\n",
	} {
		_, err := Parse("c.yaml", []byte(in), Options{})
		require.NoError(t, err, "%q", in)
	}
}

// TestErrorsJoined checks that every problem is also a *FieldError reachable with errors.As.
func TestErrorsJoined(t *testing.T) {
	_, err := Parse("c.yaml", []byte("cameras:\n  - name: a\n    url: rtsp://h/x\n    transport: x\n  - name: b\n    url: ''\n"), Options{})
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, FieldError{Where: "c.yaml:4", Path: "cameras[0].transport", Msg: `must be tcp, udp or auto, not "x"`}, *fe)
	var ce *Error
	require.ErrorAs(t, err, &ce)
	var all []string
	for _, e := range ce.Unwrap() {
		if !errors.Is(e, ErrInvalid) {
			all = strings.Split(e.Error(), "\n")
		}
	}
	require.Equal(t, ce.Problems, all)
}

// TestFlags checks the order defaults -> file -> env -> flags, and that flags are validated with the
// rest, each problem naming its flag.
func TestFlags(t *testing.T) {
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"MVWATCH_HTTP_ADDR": "127.0.0.1:1", "MVWATCH_STORE_PATH": "/env.db"}[k]
		return v, ok
	}
	file := "listen:\n  http: :9000\n  rtsp: :9001\nmodel_dir: /file/models\ninference:\n  precision: int8\n"
	cfg, err := Parse("c.yaml", []byte(file), Options{LookupEnv: env, Flags: Flags{HTTP: "127.0.0.1:2", ModelDir: "/flag/models"}})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:2", cfg.Listen.HTTP) // flag over env over file
	require.Equal(t, ":9001", cfg.Listen.RTSP)       // file
	require.Equal(t, "/flag/models", cfg.ModelDir)   // flag over file
	require.Equal(t, "/env.db", cfg.Store.Path)      // env over default
	require.Equal(t, "int8", cfg.Inference.Precision)

	cfg, err = Parse("c.yaml", []byte(file), Options{Flags: Flags{Precision: "fp32", StorePath: "/f.db", RTSP: ":1"}})
	require.NoError(t, err)
	require.Equal(t, "fp32", cfg.Inference.Precision)
	require.Equal(t, "/f.db", cfg.Store.Path)
	require.Equal(t, ":1", cfg.Listen.RTSP)

	_, err = Parse("c.yaml", []byte(file), Options{LookupEnv: env, Flags: Flags{HTTP: "nope", RTSP: ":99999", Precision: "fp16"}})
	var ce *Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, []string{
		`flag -http: listen.http: want host:port such as ":8080", got "nope"`,
		`flag -rtsp: listen.rtsp: bad port "99999"`,
		`flag -precision: inference.precision: must be fp32 or int8, not "fp16"`,
	}, ce.Problems)

	// A flag fixes a bad value of the file or the environment: only the final value is checked.
	_, err = Parse("c.yaml", []byte("listen:\n  http: bad\n"), Options{Flags: Flags{HTTP: ":8081"}})
	require.NoError(t, err)
	// A flag also replaces a value that did not decode.
	_, err = Parse("c.yaml", []byte("inference:\n  precision: [x]\n"), Options{Flags: Flags{Precision: "int8"}})
	require.ErrorContains(t, err, "c.yaml:2: inference.precision: cannot unmarshal !!seq into string")
}

func TestLoadNoFileUsesDefaultsEnvAndFlags(t *testing.T) {
	cfg, err := Load("", Options{Flags: Flags{StorePath: "/x.db"}})
	require.NoError(t, err)
	want := Default()
	want.Store.Path = "/x.db"
	require.Equal(t, want, cfg)
	_, err = Load("", Options{Flags: Flags{HTTP: "x"}})
	require.EqualError(t, err, `flag -http: listen.http: want host:port such as ":8080", got "x"`)

	dir := t.TempDir()
	path := filepath.Join(dir, "mv.yaml")
	require.NoError(t, os.WriteFile(path, []byte("listen:\n  http: :1\n"), 0o600))
	cfg, err = Load(path, Options{})
	require.NoError(t, err)
	require.Equal(t, ":1", cfg.Listen.HTTP)
}

func TestCheckCameraURL(t *testing.T) {
	require.NoError(t, CheckCameraURL("rtsp://h/x"))
	require.NoError(t, CheckCameraURL("RTSPS://h:322/x"))
	require.ErrorContains(t, CheckCameraURL("file:///a.mp4"), "mvwatch analyze")
	err := CheckCameraURL("rtsp://u:topsecret@h:99999/x")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "topsecret")
}
