package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/app"
	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/testcam"
	"github.com/mvwatch/mvwatch/pipeline"
)

// SoakConfig configures Soak.
type SoakConfig struct {
	// Cameras is the number of healthy test cameras. It defaults to 8.
	Cameras int
	// Duration is how long the soak runs after the warm-up. It defaults to 30m.
	Duration time.Duration
	// Warmup runs before the first sample. It defaults to 30s.
	Warmup time.Duration
	// Every is the time between samples, and between flaps. It defaults to 30s.
	Every time.Duration
	// MaxRSSGrowthMB fails the soak when the resident memory of the last samples exceeds that of the
	// first by more than this. It defaults to 64.
	MaxRSSGrowthMB float64
	// MaxGoroutineGrowth fails the soak when the goroutines grew by more than this. It defaults to 25.
	MaxGoroutineGrowth int
	// ModelDir is the MFCD-Net model directory.
	ModelDir string
	// Dir holds the event store.
	Dir string
	// Out receives a line per sample and the final JSON line; Log the progress. They default to
	// io.Discard.
	Out, Log io.Writer
}

// SoakSample is one point of the soak's time series.
type SoakSample struct {
	Seconds    float64 `json:"t_s"`
	RSSMB      float64 `json:"rss_mb"`
	HeapMB     float64 `json:"heap_mb"`
	Goroutines int     `json:"goroutines"`
	Events     float64 `json:"events"`
	Running    int     `json:"cameras_running"`
}

// SoakResult is the final JSON line.
type SoakResult struct {
	Cameras         int          `json:"cameras"`
	HostileCameras  int          `json:"hostile_cameras"`
	Flaps           int          `json:"flaps"`
	DurationS       float64      `json:"duration_s"`
	RSSStartMB      float64      `json:"rss_start_mb"`
	RSSEndMB        float64      `json:"rss_end_mb"`
	GoroutinesStart int          `json:"goroutines_start"`
	GoroutinesEnd   int          `json:"goroutines_end"`
	Samples         []SoakSample `json:"samples"`
	Pass            bool         `json:"pass"`
}

// SoakUsage is the help text of `mvwatch bench soak`.
const SoakUsage = `usage: mvwatch bench soak [flags]

Runs the whole service (internal/app) on healthy test cameras, one camera that flaps (its RTSP server
stops and comes back every -every), and two hostile cameras (an SPS that declares 16000x16000, sent
from the SDP and from mid-stream) that are removed and added again every -every. Samples RSS, heap and
goroutines; fails when they grow beyond the bounds. make soak runs it for 30 minutes.`

// Soak runs the soak; it returns an error when a bound is exceeded.
func Soak(cfg SoakConfig) error {
	if cfg.Cameras <= 0 {
		cfg.Cameras = 8
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 30 * time.Minute
	}
	if cfg.Warmup <= 0 {
		cfg.Warmup = 30 * time.Second
	}
	if cfg.Every <= 0 {
		cfg.Every = 30 * time.Second
	}
	if cfg.MaxRSSGrowthMB <= 0 {
		cfg.MaxRSSGrowthMB = 64
	}
	if cfg.MaxGoroutineGrowth <= 0 {
		cfg.MaxGoroutineGrowth = 25
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	log := slog.New(slog.DiscardHandler)
	var cams []*testcam.Camera
	defer func() {
		for _, c := range cams {
			c.Close()
		}
	}()
	newCam := func(addr string, rewrite func(testcam.Source) testcam.Source) (*testcam.Camera, error) {
		src, err := ingest.NewAnnexBSource(testcam.DefaultClip(), ingest.AnnexBOptions{Loop: true})
		if err != nil {
			return nil, err
		}
		var s testcam.Source = src
		if rewrite != nil {
			s = rewrite(s)
		}
		cam := testcam.New(testcam.Config{Address: addr, Source: s, Log: log})
		if err := cam.Start(); err != nil {
			return nil, err
		}
		return cam, nil
	}
	scfg := config.Default()
	scfg.Listen.HTTP, scfg.Listen.RTSP, scfg.Listen.RTSPUDP = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	scfg.Store.Path = filepath.Join(cfg.Dir, "soak.db")
	scfg.Captions.Enabled, scfg.Thumbnails.Enabled = new(false), new(false)
	for i := range cfg.Cameras {
		cam, err := newCam("127.0.0.1:0", nil)
		if err != nil {
			return err
		}
		cams = append(cams, cam)
		scfg.Cameras = append(scfg.Cameras, config.Camera{Name: fmt.Sprintf("cam%d", i), URL: cam.URL()})
	}
	flapper, err := newCam("127.0.0.1:0", nil)
	if err != nil {
		return err
	}
	flapAddr := flapper.Addr()
	scfg.Cameras = append(scfg.Cameras, config.Camera{Name: "flapping", URL: flapper.URL()})
	oversized := func(s *h264.SPS) {
		s.PicWidthInMbsMinus1, s.PicHeightInMapUnitsMinus1, s.FrameMbsOnlyFlag, s.FrameCropping = 999, 999, true, nil
	}
	var hostile []config.Camera
	for i, after := range []int{0, 20} {
		cam, err := newCam("127.0.0.1:0", func(s testcam.Source) testcam.Source { return testcam.RewriteSPSAfter(s, after, oversized) })
		if err != nil {
			return err
		}
		cams = append(cams, cam)
		hostile = append(hostile, config.Camera{Name: fmt.Sprintf("hostile%d", i), URL: cam.URL()})
	}
	scfg.Cameras = append(scfg.Cameras, hostile...)

	reg := prometheus.NewRegistry()
	metrics, err := pipeline.NewMetrics(reg)
	if err != nil {
		return err
	}
	model, err := pipeline.LoadModel(cfg.ModelDir, pipeline.ModelOptions{Inference: scfg.Inference, Metrics: metrics})
	if err != nil {
		return err
	}
	defer model.Close()
	svc, err := app.New(app.Options{Config: scfg, Classifier: model, Features: model.Features, Registry: reg, WorkerMetrics: metrics, Logger: log})
	if err != nil {
		return err
	}
	if err := svc.Start(); err != nil {
		return err
	}
	defer svc.Close()

	fmt.Fprintf(cfg.Log, "soak: %d cameras, 1 flapping, %d hostile; warm-up %v, then %v, a sample and a flap every %v\n",
		cfg.Cameras, len(hostile), cfg.Warmup, cfg.Duration, cfg.Every)
	time.Sleep(cfg.Warmup)
	res := SoakResult{Cameras: cfg.Cameras, HostileCameras: len(hostile)}
	start := time.Now()
	sample := func() SoakSample {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s := SoakSample{Seconds: time.Since(start).Seconds(), RSSMB: rssMB(), HeapMB: float64(ms.HeapInuse) / (1 << 20),
			Goroutines: runtime.NumGoroutine(), Events: counterSum(reg, "mvwatch_events_total")}
		for _, c := range svc.Fleet().List() {
			if st, err := svc.Fleet().State(c.Name); err == nil && st.Phase == bus.PhaseRunning {
				s.Running++
			}
		}
		fmt.Fprintf(cfg.Out, "t=%6.0fs rss=%7.1fMB heap=%6.1fMB goroutines=%5d events=%6.0f running=%d\n",
			s.Seconds, s.RSSMB, s.HeapMB, s.Goroutines, s.Events, s.Running)
		return s
	}
	ctx := context.Background()
	res.Samples = append(res.Samples, sample())
	for time.Since(start) < cfg.Duration {
		// A flap: the flapping camera's server goes away and comes back on the same address (the
		// service reconnects), and the hostile cameras are removed and added again (each fails anew).
		flapper.Close()
		for _, h := range hostile {
			if err := svc.Fleet().Remove(ctx, h.Name); err != nil {
				return fmt.Errorf("soak: remove %s: %w", h.Name, err)
			}
		}
		time.Sleep(cfg.Every / 3)
		if flapper, err = newCam(flapAddr, nil); err != nil {
			return fmt.Errorf("soak: the flapping camera did not come back: %w", err)
		}
		for _, h := range hostile {
			if err := svc.Fleet().Add(ctx, h); err != nil {
				return fmt.Errorf("soak: add %s: %w", h.Name, err)
			}
		}
		res.Flaps++
		time.Sleep(cfg.Every - cfg.Every/3)
		res.Samples = append(res.Samples, sample())
	}
	flapper.Close()
	res.DurationS = time.Since(start).Seconds()
	k := max(1, len(res.Samples)/4)
	rss := func(s []SoakSample) float64 {
		v := make([]float64, len(s))
		for i := range s {
			v[i] = s[i].RSSMB
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	gor := func(s []SoakSample) int {
		v := make([]int, len(s))
		for i := range s {
			v[i] = s[i].Goroutines
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	first, last := res.Samples[:k], res.Samples[len(res.Samples)-k:]
	res.RSSStartMB, res.RSSEndMB = rss(first), rss(last)
	res.GoroutinesStart, res.GoroutinesEnd = gor(first), gor(last)
	res.Pass = res.RSSEndMB-res.RSSStartMB <= cfg.MaxRSSGrowthMB && res.GoroutinesEnd-res.GoroutinesStart <= cfg.MaxGoroutineGrowth
	b, _ := json.Marshal(res)
	fmt.Fprintln(cfg.Out, string(b))
	if !res.Pass {
		return fmt.Errorf("soak: grew beyond its bounds: RSS %.0f -> %.0f MB (bound +%.0f), goroutines %d -> %d (bound +%d)",
			res.RSSStartMB, res.RSSEndMB, cfg.MaxRSSGrowthMB, res.GoroutinesStart, res.GoroutinesEnd, cfg.MaxGoroutineGrowth)
	}
	return nil
}
