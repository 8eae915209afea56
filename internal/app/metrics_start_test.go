package app

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/buildinfo"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/enrich"
	"github.com/mvwatch/mvwatch/pipeline"
)

// dashboardMetrics returns the metric names that docs/grafana-dashboard.json's expressions use (a
// histogram's _bucket/_sum/_count as its family name).
func dashboardMetrics(t *testing.T) []string {
	t.Helper()
	set := map[string]bool{}
	for _, p := range readDashboard(t).Panels {
		for _, tg := range p.Targets {
			for _, m := range dashboardMetricRE.FindAllString(tg.Expr, -1) {
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					m = strings.TrimSuffix(m, suf)
				}
				set[m] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// TestMetricsAtStart assembles the whole service as `mvwatch serve` does (the shipped model, captions,
// thumbnails, a webhook, one camera) and checks, before any frame or event: every metric the Grafana
// dashboard queries has a series (counters at zero for their known labels), and the exposition passes
// Prometheus' linter (the checks of `promtool check metrics`).
func TestMetricsAtStart(t *testing.T) {
	if os.Getenv("MVWATCH_ORT_LIB") == "" {
		t.Skip("MVWATCH_ORT_LIB is not set: needs the ONNX Runtime library")
	}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer hook.Close()
	cam := startTestCamera(t, "127.0.0.1:0")
	defer cam.Close()

	reg := prometheus.NewRegistry()
	require.NoError(t, pipeline.RegisterRuntimeCollectors(reg))
	require.NoError(t, reg.Register(buildinfo.Collector()))
	metrics, err := pipeline.NewMetrics(reg)
	require.NoError(t, err)
	cfg := shippedStagesConfig()
	cfg.Listen.HTTP, cfg.Listen.RTSP, cfg.Listen.RTSPUDP = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.Path = filepath.Join(t.TempDir(), "events.db")
	cfg.Webhooks = []config.Webhook{{URL: hook.URL}}
	cfg.Cameras = []config.Camera{{Name: "door", URL: cam.URL()}}
	cfg, err = config.Parse("test", []byte(cfg.String()), config.Options{}) // defaults applied as Load does
	require.NoError(t, err)
	cfg.Store.Path = filepath.Join(t.TempDir(), "events.db")
	cfg.Webhooks[0].URL = hook.URL
	cfg.Cameras[0].URL = cam.URL()
	model, err := pipeline.LoadModel(filepath.Join("..", "..", "models", "mfcd"), pipeline.ModelOptions{Inference: cfg.Inference, Metrics: metrics})
	require.NoError(t, err)
	defer model.Close()
	caps, thumbs, err := enrich.Open(cfg, reg, quietLogger())
	require.NoError(t, err)
	svc, err := New(Options{Config: cfg, Classifier: model, Features: model.Features, Registry: reg, WorkerMetrics: metrics,
		Logger: quietLogger(), Captions: caps, Thumbnails: thumbs, Labels: eventLabels(model.Labels(), nil)})
	require.NoError(t, err)
	require.NoError(t, svc.Start())
	defer svc.Close()

	mfs, err := reg.Gather()
	require.NoError(t, err)
	present := map[string]int{}
	for _, mf := range mfs {
		present[mf.GetName()] = len(mf.GetMetric())
	}
	var missing []string
	for _, m := range dashboardMetrics(t) {
		if present[m] == 0 {
			missing = append(missing, m)
		}
	}
	require.Empty(t, missing, "dashboard metrics with no series at start")
	require.Positive(t, present["mvwatch_build_info"])
	// The pre-decode gate is on by default: its per-camera series exist before the first access unit.
	for _, m := range []string{"mvwatch_pregate_awake", "mvwatch_pregate_access_units_total", "mvwatch_pregate_fallbacks_total",
		"mvwatch_pregate_keyframe_checks_total", "mvwatch_pregate_buffered_bytes"} {
		require.Positive(t, present[m], m)
	}

	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	var msgs []string
	for _, p := range problems {
		msgs = append(msgs, p.Metric+": "+p.Text)
	}
	slices.Sort(msgs)
	require.Empty(t, msgs, "promlint (promtool check metrics) problems")
}
