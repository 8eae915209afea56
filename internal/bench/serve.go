// Package bench holds the `mvwatch bench` harnesses: extract (motion-vector extraction against the
// ffmpeg CLI), serve (cameras per process through internal/app), caption (speculative decoding) and
// thumbnail (adaptive diffusion steps). Each ends its report with one JSON line of figures.
package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mvwatch/mvwatch/inference"
	"github.com/mvwatch/mvwatch/ingest"
	"github.com/mvwatch/mvwatch/internal/app"
	"github.com/mvwatch/mvwatch/internal/bus"
	"github.com/mvwatch/mvwatch/internal/config"
	"github.com/mvwatch/mvwatch/internal/testcam"
	"github.com/mvwatch/mvwatch/pipeline"
)

// serveRun is one load level of `mvwatch bench serve`.
type serveRun struct {
	Cameras        int     `json:"cameras"`
	Config         string  `json:"config"` // pregate+gate, gate or plain
	Gate           bool    `json:"gate"`
	PreGate        bool    `json:"pregate"`
	DecodeFraction float64 `json:"decode_fraction"` // access units decoded, 1 without the pre-gate
	PreGateWakeUps float64 `json:"pregate_wake_ups"`
	Realtime       int     `json:"realtime"` // cameras that decoded >= 95% of the frames sent, with no drops
	MinFPS         float64 `json:"min_fps"`
	MeanFPS        float64 `json:"mean_fps"`
	SentFPS        float64 `json:"sent_fps"` // mean frame rate the test cameras sent
	SkipRatio      float64 `json:"gate_skip_ratio"`
	Clips          float64 `json:"clips_classified"`
	Events         float64 `json:"events"`
	LatencyP50     float64 `json:"event_latency_p50_s"`
	LatencyP99     float64 `json:"event_latency_p99_s"`
	// Throttled and IngestDropped are the access units the decode-rate throttle and the ingest
	// queues dropped during the window, all cameras together.
	Throttled      float64 `json:"throttled_access_units"`
	IngestDropped  float64 `json:"ingest_dropped_access_units"`
	RSSPerCameraMB float64 `json:"rss_per_camera_mb"`
	CPUSecondsPerS float64 `json:"cpu_seconds_per_s"`
}

// ServeConfig configures Serve; the zero value of a field means its default.
type ServeConfig struct {
	// Cameras is a comma-separated list of camera counts to try. It defaults to "8,16,32".
	Cameras string
	// Duration is the measuring time per run. It defaults to 20s.
	Duration time.Duration
	// Warmup is the time before measuring (gate warm-up, connections). It defaults to 5s.
	Warmup time.Duration
	// Size is the test camera picture size. It defaults to "1280x720".
	Size string
	// FPS is the test camera frame rate. It defaults to 15.
	FPS int
	// Configs lists the configurations to compare: pregate (the pre-decode gate with the motion
	// gate, the default), gate (the motion gate alone) and plain (every frame decoded). It defaults to
	// "pregate,gate,plain".
	Configs string
	// CrossingEvery is the seconds between the test scene's 2 s object crossings (the clip's
	// length), at least 14. It defaults to 20.
	CrossingEvery int
	// ModelDir is the model directory. It defaults to pipeline.DefaultModelDir.
	ModelDir string
	// CameraCommand, when set, runs the test cameras in a child process instead of this one: it is
	// the command (`mvwatch testcam` with its path first), to which -n, -file, -phase-seed and
	// -control are added. The measured process then does only what `mvwatch serve` does.
	CameraCommand []string
	// PhaseSeed, when not 0, starts each test camera at a random keyframe of the scene (drawn with
	// this seed), so that crossings fall at random phases as in a real fleet; 0 runs every camera in
	// step (all crossings at once).
	PhaseSeed uint64
	// Out receives the report (one line per run, then one JSON line); Log the progress.
	Out, Log io.Writer
}

// ServeUsage describes `mvwatch bench serve`.
const ServeUsage = "usage: mvwatch bench serve [flags]\n\nRuns N built-in test cameras (a mostly idle scene: a static picture with sensor noise and one\nobject crossing every 20 s, each camera at a random phase, served by a child `mvwatch testcam`)\nthrough the whole serving pipeline in this process and reports how many stay real time with the\npre-decode gate and the motion gate (pregate), the motion gate alone (gate) and plain decoding\n(plain), next to the decode limit of ffmpeg -threads 1 -flags2 +export_mvs on the same clip; then\ninference throughput at batch 1, 4, 8."

// Serve runs the serving benchmark: for each camera count and configuration, that many built-in test
// cameras through one internal/app assembly, as `mvwatch serve` runs them.
func Serve(cfg ServeConfig) error {
	cfg.Cameras = cmp.Or(cfg.Cameras, "8,16,32")
	cfg.Duration = cmp.Or(cfg.Duration, 20*time.Second)
	cfg.Warmup = cmp.Or(cfg.Warmup, 5*time.Second)
	cfg.Size = cmp.Or(cfg.Size, "1280x720")
	cfg.FPS = cmp.Or(cfg.FPS, 15)
	cfg.Configs = cmp.Or(cfg.Configs, "pregate,gate,plain")
	cfg.CrossingEvery = cmp.Or(cfg.CrossingEvery, 20)
	cfg.ModelDir = cmp.Or(cfg.ModelDir, pipeline.DefaultModelDir)
	cfg.Out = cmp.Or[io.Writer](cfg.Out, io.Discard)
	cfg.Log = cmp.Or[io.Writer](cfg.Log, io.Discard)
	dir, err := os.MkdirTemp("", "mvwatch-bench-serve-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	clip := filepath.Join(dir, "idle.264")
	fmt.Fprintf(cfg.Log, "generating %s (%s, %d fps) ...\n", clip, cfg.Size, cfg.FPS)
	if err := generateIdleScene(clip, cfg.Size, cfg.FPS, cfg.CrossingEvery); err != nil {
		return err
	}
	cfgs, err := parseBenchConfigs(cfg.Configs)
	if err != nil {
		return err
	}
	perCore, decodeLimit, err := benchDecodeLimit(clip, cfg.FPS)
	if err != nil {
		return err
	}
	model, err := pipeline.ResolveModelDir(cfg.ModelDir)
	if err != nil {
		return err
	}
	var runs []serveRun
	best := 0
	for _, s := range strings.Split(cfg.Cameras, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("bad camera count %q", s)
		}
		for _, c := range cfgs {
			r, err := serveOnce(clip, model, dir, n, c, cfg)
			if err != nil {
				return err
			}
			runs = append(runs, r)
			fmt.Fprintf(cfg.Out, "cameras=%-3d %-12s realtime=%-3d fps min/mean %5.1f/%5.1f (sent %4.1f) decoded=%4.0f%% skip=%4.0f%% clips=%5.0f events=%4.0f latency p50/p99 %.2f/%.2fs rss/camera %.1f MB cpu %.2f s/s throttled=%.0f ingest-dropped=%.0f\n",
				r.Cameras, r.Config, r.Realtime, r.MinFPS, r.MeanFPS, r.SentFPS, 100*r.DecodeFraction, 100*r.SkipRatio, r.Clips, r.Events, r.LatencyP50, r.LatencyP99, r.RSSPerCameraMB, r.CPUSecondsPerS, r.Throttled, r.IngestDropped)
			if c == cfgs[0] && r.Realtime > best {
				best = r.Realtime // the most cameras the default configuration held at once
			}
		}
	}
	// After the runs, so that the report starts with them.
	fmt.Fprintf(cfg.Out, "decode limit: %.0f fps on one core (ffmpeg -threads 1 -flags2 +export_mvs), %.0f cameras on %d cores\n", perCore, decodeLimit, runtime.NumCPU())
	tp, err := inference.MeasureThroughput(model, inference.ThroughputConfig{BatchSizes: []int{1, 4, 8}})
	if err != nil {
		return err
	}
	speedup := 0.0
	for _, t := range tp {
		fmt.Fprintf(cfg.Out, "inference batch %d: %.1f clips/s (%.2fx batch 1)\n", t.Batch, t.ClipsPerSecond, t.Ratio)
		speedup = max(speedup, t.Ratio)
	}
	line, _ := json.Marshal(map[string]any{"cameras_realtime": best, "configs": summarizeBenchConfigs(cfgs, runs), "runs": runs,
		"decode_limit_fps_per_core": perCore, "decode_limit_cameras": decodeLimit,
		"batching": tp, "batch_speedup": speedup, "size": cfg.Size, "fps": cfg.FPS, "cpus": runtime.NumCPU()})
	fmt.Fprintln(cfg.Out, string(line))
	return nil
}

// generateIdleScene encodes a mostly idle camera scene: a static textured picture with temporal sensor
// noise, and a box crossing the frame for 2 s of every period seconds (at least 14). x264 veryfast, no
// B-frames, GOP 2 s.
func generateIdleScene(path, size string, fps, period int) error {
	period = max(period, 14)
	w, _, _ := strings.Cut(size, "x")
	out, err := exec.Command("ffmpeg", "-v", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d,trim=end_frame=1,loop=-1:1:0,setpts=N/%d/TB,noise=alls=4:allf=t", size, fps, fps),
		"-f", "lavfi", "-i", fmt.Sprintf("color=c=white:size=120x200:rate=%d", fps),
		"-filter_complex", fmt.Sprintf("[0][1]overlay=x='if(between(t,%d,%d),(t-%d)*%s/2,-200)':y=200:shortest=1", period-8, period-6, period-8, w),
		"-t", strconv.Itoa(period), "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", strconv.Itoa(2*fps),
		"-pix_fmt", "yuv420p", "-f", "h264", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ffmpeg: %w: %s", err, out)
	}
	return nil
}

// benchCameras is the test cameras of one run, in this process (testcam.Fleet) or in a child
// (testcam.RemoteFleet).
type benchCameras interface {
	URLs() []string
	Stats() (testcam.FleetStats, error)
}

// closingCameras is a benchCameras to close at the end of the run.
type closingCameras struct {
	benchCameras
	close func()
}

func (c closingCameras) Close() { c.close() }

// startBenchCameras starts n test cameras looping clip, as sc says (child process, phases).
func startBenchCameras(clip string, n int, sc ServeConfig) (closingCameras, error) {
	if len(sc.CameraCommand) > 0 {
		args := append(sc.CameraCommand[1:len(sc.CameraCommand):len(sc.CameraCommand)], "-n", strconv.Itoa(n), "-file", clip,
			"-phase-seed", strconv.FormatUint(sc.PhaseSeed, 10), "-control")
		cmd := exec.Command(sc.CameraCommand[0], args...)
		cmd.Stderr = sc.Log
		r, err := testcam.StartRemoteFleet(cmd)
		if err != nil {
			return closingCameras{}, err
		}
		return closingCameras{r, func() { _ = r.Close() }}, nil
	}
	data, err := os.ReadFile(clip)
	if err != nil {
		return closingCameras{}, err
	}
	next := ingest.PhasedSources(data, ingest.AnnexBOptions{}, sc.PhaseSeed)
	f, err := testcam.StartFleet(n, func(int) (testcam.Source, error) { return next() }, slog.New(slog.DiscardHandler))
	if err != nil {
		return closingCameras{}, err
	}
	return closingCameras{f, f.Close}, nil
}

func serveOnce(clip, modelDir, dir string, n int, bc benchConfig, sc ServeConfig) (serveRun, error) {
	gate := bc.Gate
	warmup, duration := sc.Warmup, sc.Duration
	res := serveRun{Cameras: n, Config: bc.Name, Gate: gate, PreGate: bc.PreGate}
	log := slog.New(slog.DiscardHandler)
	runtime.GC()
	rss0 := rssMB()
	cfg := config.Default()
	cfg.Listen.HTTP, cfg.Listen.RTSP, cfg.Listen.RTSPUDP = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.Path = filepath.Join(dir, fmt.Sprintf("bench-%d-%s.db", n, strings.ReplaceAll(bc.Name, "+", "-")))
	cfg.Gate.Enabled = &gate
	pregate := bc.PreGate
	cfg.PreGate.Enabled = &pregate
	cams, err := startBenchCameras(clip, n, sc)
	if err != nil {
		return res, err
	}
	defer cams.Close()
	for i, u := range cams.URLs() {
		cfg.Cameras = append(cfg.Cameras, config.Camera{Name: fmt.Sprintf("cam%d", i), URL: u})
	}
	reg := prometheus.NewRegistry()
	metrics, err := pipeline.NewMetrics(reg)
	if err != nil {
		return res, err
	}
	model, err := pipeline.LoadModel(modelDir, pipeline.ModelOptions{Inference: cfg.Inference, Metrics: metrics})
	if err != nil {
		return res, err
	}
	defer model.Close()
	svc, err := app.New(app.Options{Config: cfg, Classifier: model, Features: model.Features,
		Registry: reg, WorkerMetrics: metrics, Logger: log})
	if err != nil {
		return res, err
	}
	if err := svc.Start(); err != nil {
		return res, err
	}
	defer svc.Close()

	time.Sleep(warmup)
	states0 := make([]bus.CameraState, n)
	for i := range n {
		states0[i], _ = svc.Fleet().State(fmt.Sprintf("cam%d", i))
	}
	stats0, err := cams.Stats()
	if err != nil {
		return res, err
	}
	cpu0 := cpuSeconds()
	clips0 := counterSum(reg, "mvwatch_early_exits_total")
	throttled0, dropped0 := counterSum(reg, "mvwatch_decode_throttled_access_units_total"), counterSum(reg, "mvwatch_ingest_access_units_dropped_total")
	time.Sleep(duration)
	cpu1 := cpuSeconds()
	stats1, err := cams.Stats()
	if err != nil {
		return res, err
	}
	res.MinFPS = math.Inf(1)
	for i := range n {
		st, _ := svc.Fleet().State(fmt.Sprintf("cam%d", i))
		got := float64(st.FramesDecoded - states0[i].FramesDecoded)
		sent := float64(stats1.Sent[i] - stats0.Sent[i])
		fps := got / duration.Seconds()
		res.MinFPS = min(res.MinFPS, fps)
		res.MeanFPS += fps / float64(n)
		res.SentFPS += sent / duration.Seconds() / float64(n)
		res.SkipRatio += st.SkipRatio / float64(n)
		res.DecodeFraction += min(got/max(sent, 1), 1) / float64(n)
		if st.PreGate != nil && states0[i].PreGate != nil {
			res.PreGateWakeUps += float64(st.PreGate.WakeUps+st.PreGate.KeyframeWakeUps-states0[i].PreGate.WakeUps-states0[i].PreGate.KeyframeWakeUps) / float64(n)
		}
		if benchKeptUp(states0[i], st, sent, stats1.Dropped[i] > stats0.Dropped[i]) {
			res.Realtime++
		}
	}
	res.RSSPerCameraMB = (rssMB() - rss0) / float64(n)
	res.CPUSecondsPerS = (cpu1 - cpu0) / duration.Seconds()
	res.Clips = counterSum(reg, "mvwatch_early_exits_total") - clips0
	res.Throttled = counterSum(reg, "mvwatch_decode_throttled_access_units_total") - throttled0
	res.IngestDropped = counterSum(reg, "mvwatch_ingest_access_units_dropped_total") - dropped0
	res.Events = counterSum(reg, "mvwatch_events_total")
	res.LatencyP50, res.LatencyP99 = histogramQuantile(reg, "mvwatch_event_latency_seconds", 0.5), histogramQuantile(reg, "mvwatch_event_latency_seconds", 0.99)
	return res, nil
}

// counterSum adds up every series of a counter family.
func counterSum(reg *prometheus.Registry, name string) float64 {
	mfs, _ := reg.Gather()
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// histogramQuantile estimates a quantile of a histogram by linear interpolation inside its bucket.
func histogramQuantile(reg *prometheus.Registry, name string, q float64) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		total := float64(h.GetSampleCount())
		if total == 0 {
			return 0
		}
		buckets := append([]*dto.Bucket(nil), h.GetBucket()...)
		sort.Slice(buckets, func(i, j int) bool { return buckets[i].GetUpperBound() < buckets[j].GetUpperBound() })
		prevBound, prevCount := 0.0, 0.0
		for _, b := range buckets {
			c := float64(b.GetCumulativeCount())
			if c >= q*total {
				if c == prevCount {
					return b.GetUpperBound()
				}
				return prevBound + (b.GetUpperBound()-prevBound)*(q*total-prevCount)/(c-prevCount)
			}
			prevBound, prevCount = b.GetUpperBound(), c
		}
		return prevBound
	}
	return 0
}

// cpuSeconds reads this process's user+system CPU time from /proc/self/stat.
func cpuSeconds() float64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(fields[11], 64)
	st, _ := strconv.ParseFloat(fields[12], 64)
	return (ut + st) / 100 // USER_HZ
}
