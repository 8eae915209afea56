// Package layout checks the module's package graph: data flows one way (camera -> stages -> worker ->
// bus -> event service -> API -> assembly -> commands) and no package reaches back up the flow.
package layout

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/mvwatch/mvwatch/"

// floors places every package of the module on a floor of the flow. A package may import only
// packages on lower floors (test files are not checked: tests may use anything, internal/testcam
// included). A new package needs a floor here; pick the lowest one above everything it imports.
//
//	0  leaves: plain value types and one-concern helpers, stdlib only (buildinfo: and prometheus;
//	   httpserver: and x/net's connection limit); browser sessions (session); the dashboard's
//	   embedded files and their handler (web); the embedded track class model (models/trackclass)
//	1  config (yaml, and the leaves redact and zone); the WebRTC live view (liveview, pion/webrtc on
//	   media, queue and lifecycle)
//	2  what builds on config alone: the event value type (it uses config's camera-name rule), logging,
//	   auth (users, roles, the HTTP middleware)
//	3  stages that touch the outside world: RTSP ingest, FFmpeg demux, pure-Go MV extraction, ONNX
//	   inference, the pre-decode gate
//	4  model stages built on inference: captions (llmgen) and thumbnails (diffusion); the tracker and
//	   zones on the motion field (track, on mvextract)
//	5  URL or file -> frames (source), RTSP egress (restream)
//	6  the bus seam between workers and the event service; the test camera (an RTSP server on restream)
//	7  the per-camera worker (pipeline): gate, processor, eventizer, runner, fleet; publishes to the bus
//	8  the event service: store, live hub, webhooks, MQTT, enrichment
//	9  the HTTP API, on small interfaces (bus.Cameras, a store reader) and the live hub
//	10 the one assembly (app) and the offline evaluation
//	11 the benchmark harnesses
//	12 the command
var floors = map[string]int{
	"internal/media": 0, "internal/queue": 0, "internal/backoff": 0, "internal/redact": 0, "internal/bpe": 0,
	"internal/lifecycle": 0, "internal/peer": 0, "internal/zone": 0, "internal/buildinfo": 0,
	"internal/httpserver": 0, "internal/session": 0, "web": 0,
	"internal/config": 1, "internal/liveview": 1,
	"internal/event": 2, "internal/event/eventtest": 3, "internal/logging": 2, "internal/decodelimit": 2,
	"internal/auth": 2,
	"ingest":        3, "demux": 3, "mvextract": 3, "inference": 3, "internal/pregate": 3,
	"llmgen": 4, "diffusion": 4, "internal/track": 4, "internal/clip": 4, "models/trackclass": 0,
	"internal/source": 5, "internal/restream": 5,
	"internal/bus": 6, "internal/testcam": 6, "internal/natsbus": 7,
	"pipeline":       7,
	"internal/store": 8, "internal/livehub": 8, "internal/webhook": 8, "internal/enrich": 8, "internal/mqtt": 8,
	"internal/api": 9,
	"internal/app": 10, "internal/evaluate": 10,
	"internal/bench": 11,
	"cmd/mvwatch":    12,
}

// goList runs `go list` from the module root with args and returns its output lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		t.Fatalf("go list %v: %v\n%s", args, err, ee.Stderr)
	}
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// imports maps each package of the module (relative path) to the module packages it imports.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, line := range goList(t, "-f", "{{.ImportPath}}:{{range .Imports}} {{.}}{{end}}", "./...") {
		pkg, deps, _ := strings.Cut(line, ":")
		pkg = strings.TrimPrefix(pkg, module)
		out[pkg] = []string{}
		for _, d := range strings.Fields(deps) {
			if rel, ok := strings.CutPrefix(d, module); ok {
				out[pkg] = append(out[pkg], rel)
			}
		}
	}
	return out
}

// TestNoPackageImportsUpTheFlow: every package imports only packages on lower floors.
func TestNoPackageImportsUpTheFlow(t *testing.T) {
	for pkg, deps := range imports(t) {
		if pkg == "internal/layout" {
			continue
		}
		floor, ok := floors[pkg]
		require.True(t, ok, "package %s has no floor in internal/layout: add it", pkg)
		for _, d := range deps {
			df, ok := floors[d]
			require.True(t, ok, "package %s has no floor in internal/layout: add it", d)
			require.Less(t, df, floor, "%s (floor %d) imports %s (floor %d): a package never reaches back up the flow", pkg, floor, d, df)
		}
	}
}

// TestProductionCodeDoesNotImportTestCode: only the demo and benchmark entry points start the built-in
// test camera (`mvwatch testcam`, `mvwatch serve` without cameras, `mvwatch bench serve`), and only
// tests use the event fixtures.
func TestProductionCodeDoesNotImportTestCode(t *testing.T) {
	allowed := map[string][]string{
		"internal/testcam":         {"internal/bench", "cmd/mvwatch"},
		"internal/event/eventtest": {},
	}
	for pkg, deps := range imports(t) {
		for testPkg, ok := range allowed {
			if slices.Contains(deps, testPkg) {
				require.Contains(t, ok, pkg, "%s imports %s", pkg, testPkg)
			}
		}
	}
}

// TestPureGoPackagesLinkNoCgoStage: MV extraction, the config and the event service link no FFmpeg,
// ONNX Runtime or RTSP library, so they build and test without them and can run on machines that
// have none (the event role of a split deployment).
func TestPureGoPackagesLinkNoCgoStage(t *testing.T) {
	forbidden := []string{"github.com/asticode/go-astiav", "github.com/yalue/onnxruntime_go", "github.com/bluenviron/gortsplib"}
	for _, pkg := range []string{"mvextract", "internal/config", "internal/event", "internal/bus", "internal/store",
		"internal/livehub", "internal/webhook", "internal/api", "internal/mqtt"} {
		for _, dep := range goList(t, "-deps", "-f", "{{.ImportPath}}", "./"+pkg) {
			for _, f := range forbidden {
				require.False(t, strings.HasPrefix(dep, f), "%s links %s", pkg, dep)
			}
		}
	}
}
