package app

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/api"
	"github.com/mvwatch/mvwatch/internal/clip"
	"github.com/mvwatch/mvwatch/internal/livehub"
	"github.com/mvwatch/mvwatch/internal/store"
	"github.com/mvwatch/mvwatch/internal/webhook"
	"github.com/mvwatch/mvwatch/pipeline"
)

// dashboard is docs/grafana-dashboard.json, as far as the tests read it.
type dashboard struct {
	Title  string `json:"title"`
	Panels []struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile("../../docs/grafana-dashboard.json")
	require.NoError(t, err)
	var dash dashboard
	require.NoError(t, json.Unmarshal(data, &dash))
	return dash
}

// dashboardMetricRE finds the metric names in a dashboard expression.
var dashboardMetricRE = regexp.MustCompile(`\b(mvwatch|process|go)_[a-z_]+\b`)

// TestGrafanaDashboardUsesRealMetrics checks that docs/grafana-dashboard.json charts only metrics that
// the packages' NewMetrics, the caption and thumbnail stages (real models) or the Go/process collectors
// register, and charts every one of the packages' metrics.
func TestGrafanaDashboardUsesRealMetrics(t *testing.T) {
	dash := readDashboard(t)
	require.Equal(t, "mvwatch", dash.Title)

	reg := prometheus.NewPedanticRegistry()
	_, err := pipeline.NewMetrics(reg)
	require.NoError(t, err)
	require.NoError(t, pipeline.RegisterRuntimeCollectors(reg))
	stageMetrics := &describingRegisterer{Registerer: reg, names: map[string]bool{}}
	caps, thumbs := openShippedStages(t, stageMetrics)
	defer caps.Close()
	defer thumbs.Close()
	require.Contains(t, stageMetrics.names, "mvwatch_caption_acceptance_rate")
	require.Contains(t, stageMetrics.names, "mvwatch_thumbnail_steps")
	families, err := reg.Gather()
	require.NoError(t, err)
	registered := map[string]bool{}
	for _, f := range families {
		registered[f.GetName()] = true
	}
	for n := range stageMetrics.names { // the stages' vectors have no series yet
		registered[n] = true
	}
	// Vectors without series are not gathered: list every mvwatch metric by describing the collectors.
	descs := make(chan *prometheus.Desc, 100)
	for _, c := range everyCollector(t) {
		c.Describe(descs)
	}
	close(descs)
	nameRE := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	var ours []string
	for d := range descs {
		name := nameRE.FindStringSubmatch(d.String())[1]
		registered[name] = true
		ours = append(ours, name)
	}

	used := map[string]bool{}
	panels := 0
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		panels++
		require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		for _, tg := range p.Targets {
			names := dashboardMetricRE.FindAllString(tg.Expr, -1)
			require.NotEmpty(t, names, "panel %q: %s", p.Title, tg.Expr)
			for _, n := range names {
				base := n
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(n, suf); ok && registered[b] {
						base = b
					}
				}
				require.True(t, registered[base], "panel %q uses unknown metric %s", p.Title, n)
				used[base] = true
			}
		}
	}
	require.Greater(t, panels, 10)
	sort.Strings(ours)
	// Since-start ratio gauges, deprecated: the dashboard computes them from counters (CHANGELOG.md).
	deprecated := []string{"mvwatch_gate_skip_ratio", "mvwatch_caption_acceptance_rate",
		"mvwatch_caption_mean_accepted_length", "mvwatch_caption_tokens_per_second"}
	for _, name := range ours {
		if slices.Contains(deprecated, name) {
			require.False(t, used[name], "deprecated metric %s is still on the dashboard", name)
			continue
		}
		require.True(t, used[name], "metric %s is not on the dashboard", name)
	}
}

var fqNameRE = regexp.MustCompile(`fqName: "([a-z_:]+)"`)

// describingRegisterer records the names of the metrics registered through it.
type describingRegisterer struct {
	prometheus.Registerer
	names map[string]bool
}

func (r *describingRegisterer) Register(c prometheus.Collector) error {
	descs := make(chan *prometheus.Desc, 64)
	c.Describe(descs)
	close(descs)
	for d := range descs {
		if m := fqNameRE.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return r.Registerer.Register(c)
}

func (r *describingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// everyCollector returns the metrics of the worker and of every event-service package, registered on
// a fresh registry.
func everyCollector(t *testing.T) []prometheus.Collector {
	t.Helper()
	reg := prometheus.NewRegistry()
	wm, err := pipeline.NewMetrics(reg)
	require.NoError(t, err)
	em, err := newMetrics(reg)
	require.NoError(t, err)
	sm, err := store.NewMetrics(reg)
	require.NoError(t, err)
	hm, err := livehub.NewMetrics(reg)
	require.NoError(t, err)
	whm, err := webhook.NewMetrics(reg)
	require.NoError(t, err)
	am, err := api.NewMetrics(reg)
	require.NoError(t, err)
	cm, err := clip.NewMetrics(reg)
	require.NoError(t, err)
	var out []prometheus.Collector
	for _, cs := range [][]prometheus.Collector{wm.Collectors(), em.collectors(), sm.Collectors(), hm.Collectors(),
		whm.Collectors(), am.Collectors(), cm.Collectors()} {
		out = append(out, cs...)
	}
	return out
}
